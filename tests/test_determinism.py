"""Determinism: the same commit gives the same glued numbers, and all randomness flows from explicit keys.

Executing every chapter twice would double the slowest part of the suite, so the check is split:

* dynamic: a representative chapter (``book/intro.md``: trains nothing, but samples data from keys, builds
  exact kernels, solves kernel regression and glues numbers and a figure) is executed twice, each time in a
  fresh kernel as the book build does, and every glued value (myst-nb 1.4 ``glue`` outputs: output metadata
  ``scrapbook.name`` and ``application/papermill.record/<mime>`` bundles) must be identical, byte for byte;
* static: every chapter and every ``pntk`` module draws its randomness from explicit JAX keys or seeded
  NumPy generators: no global NumPy random state, no ``random`` module, no seeds from clocks or the OS.
"""

import ast
import pathlib
import re

import jupytext
import nbclient
import pytest

from chapters import ROOT, is_notebook, toc_chapters

GLUE_PREFIX = "application/papermill.record/"
DETERMINISM_CHAPTER = ROOT / "book" / "intro.md"


def glued_values(nb) -> dict:
    """Every ``glue`` of an executed notebook: ``{name: {mime: data}}`` (myst-nb 1.4 format)."""
    glued = {}
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            meta = out.get("metadata", {}).get("scrapbook")
            if meta is None:
                continue
            prefix = meta.get("mime_prefix", GLUE_PREFIX)
            assert meta["name"] not in glued, f"{meta['name']} is glued twice"
            glued[meta["name"]] = {k[len(prefix):]: v for k, v in out.get("data", {}).items() if k.startswith(prefix)}
    return glued


def execute_and_glue(path: pathlib.Path, timeout: int = 600) -> dict:
    """Run the chapter in a fresh kernel (as tests/chapters.py and the build do) and return its glued values."""
    nb = jupytext.read(path)
    nbclient.NotebookClient(nb, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}}).execute()
    return glued_values(nb)


@pytest.mark.slow
def test_two_executions_of_a_chapter_glue_identical_values():
    first = execute_and_glue(DETERMINISM_CHAPTER)
    second = execute_and_glue(DETERMINISM_CHAPTER)
    numbers = [name for name, bundle in first.items() if "image/png" not in bundle]
    assert len(numbers) >= 3 and len(first) > len(numbers), f"expected glued numbers and a figure, got {sorted(first)}"
    assert sorted(first) == sorted(second)
    differing = [name for name in first if first[name] != second[name]]
    assert not differing, {name: (first[name].get("text/plain"), second[name].get("text/plain")) for name in differing}


# ---------------------------------------------------------------- static: explicit keys everywhere

SOURCES = sorted((ROOT / "lib" / "pntk").glob("*.py")) + [p for p in toc_chapters() if is_notebook(p)]
ALLOWED_NUMPY_RANDOM = {"default_rng", "Generator", "SeedSequence", "PCG64", "Philox"}
KEY_CALL = re.compile(r"(?:jax\.)?random\.(?:key|PRNGKey)\(")
OS_ENTROPY = re.compile(r"os\.urandom|secrets\.|uuid\.|time\.time_ns\(|datetime\.now|os\.getpid")


def _code(path: pathlib.Path) -> str:
    """The Python source of a module, or the code cells of a chapter (jupytext)."""
    if path.suffix == ".py":
        return path.read_text()
    return "\n".join(cell.source for cell in jupytext.read(path).cells if cell.cell_type == "code")


def _calls(tree):
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            yield node


def _dotted(node) -> str:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
    return ".".join(reversed(parts))


def _parse(path):
    # IPython magics (%timeit, !pip) are not Python: blank them before parsing
    code = re.sub(r"^\s*[%!].*$", "", _code(path), flags=re.M)
    return ast.parse(code, filename=str(path))


def randomness_problems(path: pathlib.Path) -> list:
    """Every use of implicit randomness in a module or a chapter's code cells."""
    tree = _parse(path)
    problems = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            problems += [f"line {node.lineno}: import {a.name}" for a in node.names if a.name == "random"]
        if isinstance(node, ast.ImportFrom) and node.module == "random":
            problems.append(f"line {node.lineno}: from random import ...")
        if isinstance(node, ast.Attribute) and _dotted(node.value) in ("np.random", "numpy.random"):
            if node.attr not in ALLOWED_NUMPY_RANDOM:
                problems.append(f"line {node.lineno}: np.random.{node.attr} uses NumPy's global random state")
    for call in _calls(tree):
        name = _dotted(call.func)
        if name.endswith("random.default_rng") and not call.args:
            problems.append(f"line {call.lineno}: default_rng() without a seed")
        if name in ("jax.random.key", "jax.random.PRNGKey", "random.key", "random.PRNGKey"):
            if len(call.args) != 1:
                problems.append(f"line {call.lineno}: {name} needs one seed")
                continue
            # the seed is an integer literal, a name (a function's seed argument, a loop index) or
            # arithmetic of those: never a clock, the process id or another call
            for sub in ast.walk(call.args[0]):
                if isinstance(sub, ast.Call):
                    problems.append(f"line {call.lineno}: seed of {name} computed by a call ({ast.unparse(sub)})")
                elif isinstance(sub, ast.Constant) and not isinstance(sub.value, int):
                    problems.append(f"line {call.lineno}: seed of {name} is not an integer ({sub.value!r})")
    problems += [f"uses {m.group(0)}" for m in OS_ENTROPY.finditer(_code(path))]
    return problems


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_randomness_flows_from_explicit_keys(path):
    problems = randomness_problems(path)
    assert not problems, f"{path.relative_to(ROOT)}: " + "; ".join(problems)


def test_the_static_scan_catches_implicit_randomness(tmp_path):
    """The scanner itself: each forbidden pattern in a throw-away module is reported, explicit keys are not."""
    bad = {
        "global_state.py": "import numpy as np\nx = np.random.normal(size=3)\n",
        "seed_call.py": "import numpy as np\nnp.random.seed(0)\n",
        "stdlib.py": "import random\nx = random.random()\n",
        "unseeded.py": "import numpy as np\nrng = np.random.default_rng()\n",
        "clock.py": "import jax, time\nk = jax.random.key(int(time.time()))\n",
        "entropy.py": "import os\nseed = os.urandom(4)\n",
    }
    for name, code in bad.items():
        (tmp_path / name).write_text(code)
        assert randomness_problems(tmp_path / name), name
    good = tmp_path / "good.py"
    good.write_text("import jax, numpy as np\nk = jax.random.key(3)\nrng = np.random.default_rng(0)\n"
                    "for s in range(3):\n    k = jax.random.fold_in(jax.random.key(10 + s), 2)\n")
    assert randomness_problems(good) == []
