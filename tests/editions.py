"""The two editions of the book: the student edition's configuration, and the downloadable files.

    python tests/editions.py config _config.yml OUT.yml CACHE   # _config.yml + hide_solutions
    python tests/editions.py outputs HTML_DIR CACHE             # cached outputs into _sources/*.ipynb
    python tests/editions.py strip HTML_DIR                     # remove solutions from _sources

`make book` runs ``outputs``; `make student` runs all three. sphinx-exercise's ``hide_solutions``
removes the solutions from the rendered pages, but the download button still offers each page's
source (``_sources/*.md``) and executed notebook (``_sources/*.ipynb``), which contain the
``{solution}`` blocks; ``strip`` removes them there. ``outputs`` works around myst-nb saving a
notebook taken from the execution cache without its outputs (see :func:`fill_outputs`).
"""

from __future__ import annotations

import json
import pathlib
import re
import sys

import yaml

FENCE = re.compile(r"^(`{3,}|:{3,})\{(?P<name>[\w:-]+)\}")


def student_config(config: dict, cache: str) -> dict:
    """The book's configuration with solutions hidden, sharing the execution cache at `cache`."""
    config = dict(config)
    sphinx = dict(config.get("sphinx") or {})
    sphinx["config"] = {**(sphinx.get("config") or {}), "hide_solutions": True}
    config["sphinx"] = sphinx
    config["execute"] = {**(config.get("execute") or {}), "cache": cache}
    config["title"] = f"{config.get('title', 'Book')} (student edition)"
    return config


def strip_solutions(text: str) -> str:
    """Remove every ```{solution} ... ``` (or :::{solution}) block from MyST text."""
    out, lines, i = [], text.splitlines(keepends=True), 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if m and m.group("name") == "solution":
            fence = m.group(1)
            i += 1
            while i < len(lines) and lines[i].strip() != fence:
                i += 1
            i += 1  # the closing fence
            while i < len(lines) and not lines[i].strip() and out and not out[-1].strip():
                i += 1  # no double blank line where the block was
            continue
        out.append(lines[i])
        i += 1
    return "".join(out)


def strip_notebook(nb: dict) -> dict:
    """Remove solution blocks from the markdown cells of a notebook (as JSON), dropping emptied cells."""
    cells = []
    for cell in nb.get("cells", []):
        if cell.get("cell_type") == "markdown":
            source = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
            stripped = strip_solutions(source)
            if stripped != source:
                if not stripped.strip():
                    continue
                cell = {**cell, "source": stripped.rstrip("\n")}
        cells.append(cell)
    return {**nb, "cells": cells}


def strip_sources(html_dir: pathlib.Path) -> int:
    """Strip the solutions from every .md and .ipynb under `html_dir`; returns the number of files changed."""
    changed = 0
    for path in sorted(html_dir.rglob("*")):
        if path.suffix == ".md" or path.name.endswith(".md.txt"):
            text = path.read_text()
            new = strip_solutions(text)
        elif path.suffix == ".ipynb":
            text = path.read_text()
            nb = json.loads(text)
            stripped = strip_notebook(nb)
            new = text if stripped == nb else json.dumps(stripped, indent=1, ensure_ascii=False) + "\n"
        else:
            continue
        if new != text:
            path.write_text(new)
            changed += 1
    return changed


def fill_outputs(html_dir: pathlib.Path, cache_path: pathlib.Path) -> int:
    """Put the cached outputs back into downloadable notebooks that have none; returns how many.

    myst-nb 1.4.0 writes a page's ``.ipynb`` without outputs when it takes them from the
    execution cache (it renders the merged notebook but saves the unmerged one), so the
    student edition, and any page rebuilt from the cache, would offer an unexecuted notebook.
    """
    import nbformat
    from jupyter_cache import get_cache

    if not pathlib.Path(cache_path).is_dir():
        return 0
    cache, filled = get_cache(str(cache_path)), 0
    for path in sorted(pathlib.Path(html_dir).rglob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        code = [c for c in nb.cells if c.cell_type == "code"]
        if not code or any(c.get("outputs") for c in code):
            continue
        try:
            _, merged = cache.merge_match_into_notebook(nb)
        except KeyError:  # not in the cache: leave it as it is
            continue
        nbformat.write(merged, path)
        filled += 1
    return filled


def main(argv: list[str]) -> None:
    if len(argv) == 4 and argv[0] == "config":
        config = yaml.safe_load(pathlib.Path(argv[1]).read_text())
        pathlib.Path(argv[2]).write_text(yaml.safe_dump(student_config(config, argv[3]), sort_keys=False))
    elif len(argv) == 3 and argv[0] == "outputs":
        print(f"cached outputs restored in {fill_outputs(pathlib.Path(argv[1]), pathlib.Path(argv[2]))} "
              f"downloadable notebook(s) in {argv[1]}")
    elif len(argv) == 2 and argv[0] == "strip":
        html_dir = pathlib.Path(argv[1])
        if not html_dir.is_dir():
            raise SystemExit(f"no such HTML folder: {html_dir}")
        print(f"solutions removed from {strip_sources(html_dir)} downloadable source file(s) in {html_dir}")
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
