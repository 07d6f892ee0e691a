"""A clean install, as Binder does it: a fresh virtual environment from requirements.txt, then postBuild.

The new environment (in a temporary directory, on a copy of the repository) must import ``pntk`` from the
copy and execute one chapter (``book/intro.md``) with its own Python and its own Jupyter kernel. Nothing
from the project's ``.venv`` is reused; pip's download cache (``PIP_CACHE_DIR``, default ``~/.cache/pip``)
is, so a second run does not download the wheels again. The throw-away-venv helpers are shared with
tests/test_binder.py and tests/test_publishing.py (tests/venvs.py).

It needs the package registry (PyPI). When the registry cannot be reached the test is skipped with the
pip error in the message; any other failure (a conflict in requirements.txt, a broken postBuild, an import
error, a failing chapter) fails it.
"""

import os
import pathlib
import shutil
import subprocess
import sys
import textwrap
import time

import pytest

from venvs import base_python as _python_for_venv, registry_reachable as _registry_reachable

ROOT = pathlib.Path(__file__).resolve().parents[1]
# what Binder sees of the repository that the install and the chapter need
COPY = ["requirements.txt", "postBuild", "pyproject.toml", "lib", "book", "_toc.yml", "_config.yml",
        "references.bib", "tests/chapters.py"]
CHAPTER = "book/intro.md"


def _run(cmd, cwd, env, timeout):
    result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{' '.join(map(str, cmd))} failed:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    return result


@pytest.mark.slow
def test_fresh_environment_from_requirements_and_postbuild_runs_a_chapter(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")}
    ok, why = _registry_reachable(env, tmp_path)
    if not ok:
        pytest.skip(f"the package registry cannot be reached, so no clean install can be tested here:\n{why}")

    repo = tmp_path / "repo"
    for rel in COPY:
        src, dst = ROOT / rel, repo / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        if src.is_dir():
            shutil.copytree(src, dst, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", "_build"))
        else:
            shutil.copy2(src, dst)

    start = time.perf_counter()
    venv = tmp_path / "venv"
    _run([_python_for_venv(), "-m", "venv", str(venv)], repo, env, 300)
    bin_dir = venv / "bin"
    env = {**env, "VIRTUAL_ENV": str(venv), "PATH": f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"}
    python = str(bin_dir / "python")
    _run([python, "-m", "pip", "install", "--quiet", "--require-virtualenv", "-r", "requirements.txt"], repo, env, 1800)
    _run(["bash", "./postBuild"], repo, env, 600)
    installed = time.perf_counter() - start

    # pntk comes from the copy, in the new environment, in float64
    check = _run([python, "-c", "import sys, jax, pntk; print(sys.prefix); print(pntk.__file__); "
                  "print(jax.numpy.asarray(1.0).dtype); print(pntk.kernels.pnn_ntk([[1.0, 0.0]], None, 3))"],
                 tmp_path, env, 300)
    prefix, module, dtype = check.stdout.splitlines()[:3]
    assert pathlib.Path(prefix).resolve() == venv.resolve()
    assert pathlib.Path(module).resolve().is_relative_to((repo / "lib").resolve())
    assert dtype == "float64"

    # the chapter runs in a Jupyter kernel of the new environment (not the project's .venv)
    probe = textwrap.dedent("""
        import jupytext, nbclient, nbformat, pathlib, sys
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("import sys, pntk; print(sys.prefix)")])
        nbclient.NotebookClient(nb, timeout=300, kernel_name="python3").execute()
        print(nb.cells[0].outputs[0]["text"].strip())
    """)
    kernel_prefix = _run([python, "-c", probe], repo, env, 300).stdout.strip().splitlines()[-1]
    assert pathlib.Path(kernel_prefix).resolve() == venv.resolve()
    executed = _run([python, "tests/chapters.py", CHAPTER], repo, env, 900)
    total = time.perf_counter() - start
    print(f"clean install {installed:.0f} s, then import and {CHAPTER}: {total - installed:.0f} s "
          f"({executed.stdout.strip()})")
