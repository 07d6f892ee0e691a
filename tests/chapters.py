"""Execute MyST text-notebook chapters the way the book build does (jupytext + nbclient).

Used by tests/test_chapters.py, and from the command line to check one chapter:

    .venv/bin/python tests/chapters.py book/intro.md
"""

from __future__ import annotations

import pathlib
import sys
import time

import jupytext
import nbclient
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[1]


def toc_chapters() -> list[pathlib.Path]:
    """Every file of _toc.yml, in reading order, as paths to .md sources."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]]

    def walk(entries):
        for entry in entries or []:
            if "file" in entry:
                files.append(entry["file"])
            walk(entry.get("sections"))
            walk(entry.get("chapters"))

    for part in toc.get("parts", []):
        walk(part.get("chapters"))
    walk(toc.get("chapters"))
    return [ROOT / f"{f}.md" for f in files]


def is_notebook(path: pathlib.Path) -> bool:
    """A chapter with a jupytext header and a kernelspec is executed by the build."""
    head = path.read_text().split("---", 2)
    return len(head) == 3 and "jupytext" in head[1] and "kernelspec" in head[1]


def execute(path: pathlib.Path, timeout: int = 600) -> float:
    """Run every cell of the chapter in a fresh kernel; raises on the first error. Returns seconds."""
    nb = jupytext.read(path)
    start = time.perf_counter()
    nbclient.NotebookClient(nb, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}}).execute()
    return time.perf_counter() - start


if __name__ == "__main__":
    for arg in sys.argv[1:]:
        print(f"{arg}: executed in {execute(pathlib.Path(arg).resolve()):.1f} s")
