"""The book build fails loudly on a failing cell and on a broken citation (a deliberately broken copy)."""

import pathlib
import shutil
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
JUPYTER_BOOK = pathlib.Path(sys.executable).parent / "jupyter-book"

CHAPTER = """---
jupytext:
  text_representation:
    extension: .md
    format_name: myst
kernelspec:
  display_name: Python 3
  language: python
  name: python3
---

# A broken chapter

{body}
"""


def build(tmp_path, body):
    """Build a one-page book with the project's real _config.yml and the Makefile's flags."""
    shutil.copy(ROOT / "_config.yml", tmp_path / "_config.yml")
    shutil.copy(ROOT / "references.bib", tmp_path / "references.bib")
    (tmp_path / "_toc.yml").write_text("format: jb-book\nroot: index\n")
    (tmp_path / "index.md").write_text(CHAPTER.format(body=body))
    makefile = (ROOT / "Makefile").read_text()
    flags = next(line for line in makefile.splitlines() if line.startswith("BUILD_FLAGS")).split(":=")[1].split()
    return subprocess.run([str(JUPYTER_BOOK), "build", *flags, str(tmp_path)], capture_output=True, text=True, timeout=600)


@pytest.mark.slow
def test_a_working_page_builds(tmp_path):
    result = build(tmp_path, "```{code-cell} ipython3\nprint(1 + 1)\n```\n")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert (tmp_path / "_build" / "html" / "index.html").exists()


@pytest.mark.slow
def test_a_failing_cell_fails_the_build_and_is_shown(tmp_path):
    result = build(tmp_path, "```{code-cell} ipython3\nraise RuntimeError('deliberate failure')\n```\n")
    assert result.returncode != 0
    assert "deliberate failure" in result.stdout + result.stderr


@pytest.mark.slow
def test_a_missing_citation_fails_the_build(tmp_path):
    result = build(tmp_path, "See {cite}`no_such_reference_2099`.\n")
    assert result.returncode != 0
    assert "no_such_reference_2099" in result.stdout + result.stderr


@pytest.mark.slow
def test_a_broken_cross_reference_fails_the_build(tmp_path):
    result = build(tmp_path, "(a-real-label)=\n## A section\n\nSee {ref}`no-such-label-2099` and {ref}`a-real-label`.\n")
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "no-such-label-2099" in output
    assert "a-real-label" not in output.replace("{ref}`a-real-label`", "")  # only the broken one is reported


@pytest.mark.parametrize("changed", ["lib/pntk/kernels.py", "requirements.txt"])
def test_a_library_or_environment_change_empties_the_execution_cache(changed):
    """The cache keys a chapter on its own source: `make book` must not reuse outputs of older library code.

    `make -n -W FILE` prints what make would run if FILE had just changed, without running it."""
    if not (ROOT / ".venv" / ".installed").exists() or not (ROOT / "_build" / ".cache-key").exists():
        pytest.skip("needs the environment and the cache key that `make test` makes first")
    plan = subprocess.run(["make", "-n", "-W", str(ROOT / changed), "book"], cwd=ROOT, capture_output=True,
                          text=True, timeout=60).stdout
    first_build = plan.index("jupyter-book build")
    assert "rm -rf _build/.jupyter_cache _build/.doctrees" in plan[:first_build], plan
    unchanged = subprocess.run(["make", "-n", "-W", str(ROOT / "book" / "intro.md"), "book"], cwd=ROOT,
                               capture_output=True, text=True, timeout=60).stdout
    assert "rm -rf _build/.jupyter_cache" not in unchanged, unchanged
