"""Every chapter of the book executes without error, and every chapter source is in the table of contents."""

import pathlib

import pytest

from chapters import ROOT, execute, is_notebook, toc_chapters

NOTEBOOKS = [p for p in toc_chapters() if is_notebook(p)]


def test_every_book_page_is_in_the_toc():
    pages = set(toc_chapters())
    assert all(p.exists() for p in pages), [str(p) for p in pages if not p.exists()]
    orphans = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "book").rglob("*.md") if p not in pages)
    assert not orphans, f"pages missing from _toc.yml: {orphans}"


def test_there_are_executable_chapters():
    assert NOTEBOOKS, "no chapter with a jupytext header was found"


@pytest.mark.slow
@pytest.mark.parametrize("chapter", NOTEBOOKS, ids=lambda p: p.stem)
def test_chapter_executes(chapter: pathlib.Path):
    seconds = execute(chapter)
    print(f"{chapter.name}: {seconds:.1f} s")
