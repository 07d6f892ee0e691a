"""The course kit: every chapter has objectives, prerequisites and exercises with solutions;
the glossary and notation pages exist and are linked; code cells run outside the book
(downloaded notebooks); `make student` hides the solutions and `make book` keeps them."""

from __future__ import annotations

import ast
import importlib.metadata
import pathlib
import re
import shutil
import subprocess
import sys

import jupytext
import nbclient
import nbformat
import pytest
import yaml

import editions
from chapters import ROOT, is_notebook, toc_chapters

CHAPTERS = [p for p in toc_chapters() if is_notebook(p)]
BOOK = ROOT / "book"
FENCE = re.compile(r"^(`{3,}|:{3,})\{(?P<name>[\w:-]+)\}(?P<arg>.*)$")


def blocks(text: str, name: str) -> list[tuple[str, str]]:
    """(argument line, body) of every top-level ```{name} directive of a MyST source."""
    found, lines, i = [], text.splitlines(), 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if m is None:
            i += 1
            continue
        fence, end = m.group(1), i + 1
        while end < len(lines) and lines[end].strip() != fence:
            end += 1
        if m.group("name") == name:
            found.append((m.group("arg").strip(), "\n".join(lines[i + 1:end])))
        i = end + 1
    return found


def option(body: str, key: str) -> str | None:
    m = re.search(rf"^:{key}:\s*(.*)$", body, flags=re.M)
    return m.group(1).strip() if m else None


def prose(text: str) -> str:
    """The source without its front matter and without code cells."""
    text = text.split("---", 2)[2] if text.startswith("---") else text
    return re.sub(r"^```\{code-cell\}.*?^```$", "", text, flags=re.M | re.S)


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_chapter_opens_with_objectives_and_prerequisites(chapter):
    text = prose(chapter.read_text())
    first_section = text.split("\n## ", 1)[0]
    objectives = [body for arg, body in blocks(first_section, "admonition") if arg == "Learning objectives"]
    assert objectives, f"{chapter.name}: no 'Learning objectives' admonition before the first section"
    assert len(re.findall(r"^- ", objectives[0], flags=re.M)) >= 2, f"{chapter.name}: list at least two objectives"
    assert re.search(r"^\*\*Prerequisites\.\*\*\s+\S", first_section, flags=re.M), \
        f"{chapter.name}: no '**Prerequisites.**' paragraph before the first section"


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_chapter_ends_with_three_exercises_with_dropdown_solutions(chapter):
    text = prose(chapter.read_text())
    exercises = [option(body, "label") for _, body in blocks(text, "exercise")]
    solutions = {arg: body for arg, body in blocks(text, "solution")}
    assert len(exercises) >= 3, f"{chapter.name}: {len(exercises)} exercises, at least 3 wanted"
    assert all(exercises), f"{chapter.name}: every exercise needs a :label: for its solution"
    for label in exercises:
        assert label in solutions, f"{chapter.name}: exercise {label} has no solution"
        assert option(solutions[label], "class") == "dropdown", f"{chapter.name}: solution of {label} not a dropdown"
        assert len(solutions[label].split()) >= 10, f"{chapter.name}: solution of {label} is empty"
    # the exercises close the chapter: no new section after the first one
    tail = text[text.index("{exercise}"):]
    assert not re.search(r"^#{1,2} ", tail, flags=re.M), f"{chapter.name}: a section follows the exercises"


GLOSSARY_TERMS = ["NTK", "NNGP", "Hadamard product", "CCP", "NCP", "Funk-Hecke formula", "spherical harmonics",
                  "Gegenbauer polynomial", "MAPE", "arc-cosine kernel", "NTK parametrisation", "kernel regression",
                  "spectral bias", "empirical NTK"]


def glossary_terms() -> set[str]:
    (body,) = [b for _, b in blocks((BOOK / "glossary.md").read_text(), "glossary")]
    return {line.strip() for line in body.splitlines() if line and not line[0].isspace() and not line.startswith(":")}


def test_glossary_defines_the_course_terms():
    assert set(GLOSSARY_TERMS) <= glossary_terms(), set(GLOSSARY_TERMS) - glossary_terms()


def test_reference_pages_are_in_the_toc():
    pages = {p.stem for p in toc_chapters()}
    assert {"teaching", "notation", "glossary", "bibliography"} <= pages


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_chapter_links_glossary_terms(chapter):
    terms = {t.lower() for t in glossary_terms()}
    used = re.findall(r"\{term\}`([^`]+)`", prose(chapter.read_text()))
    targets = {(re.search(r"<([^>]+)>$", u) or re.match(r"(.*)", u)).group(1).strip().lower() for u in used}
    assert targets, f"{chapter.name}: links no glossary term"
    assert targets <= terms, f"{chapter.name}: unknown glossary terms {targets - terms}"


# --- rendered width ------------------------------------------------------------------------
CODE_COLUMNS = 76  # characters of a code line that fit the book's text column (1280 px window)


def markdown_code_lines(text: str) -> list[str]:
    """Code lines of a markdown cell: fenced code blocks, and the indented code blocks of exercises
    and solutions (a line indented by 4 spaces after a blank line or another code line)."""
    out, open_fences = [], []  # open_fences: (fence, directive name or "code")
    previous, previous_is_code = "", False
    for line in text.splitlines():
        stripped = line.strip()
        inside = open_fences[-1] if open_fences else (None, None)
        directive, code_fence = FENCE.match(stripped), re.match(r"^(`{3,})[\w+-]*$", stripped)
        if inside[1] == "code":
            if stripped == inside[0]:
                open_fences.pop()
            else:
                out.append(line)
        elif directive:
            open_fences.append((directive.group(1), directive.group("name")))
        elif stripped and stripped == inside[0]:
            open_fences.pop()
        elif code_fence:
            open_fences.append((code_fence.group(1), "code"))
        elif (inside[1] in ("exercise", "solution") and line.startswith("    ") and stripped
              and (not previous.strip() or previous_is_code)):
            out.append(line)
            previous, previous_is_code = line, True
            continue
        previous, previous_is_code = line, False
    return out


def visible_code_lines(chapter: pathlib.Path) -> list[str]:
    """The code a reader of the rendered page sees: code cells (except those tagged remove-input or
    remove-cell) and the code blocks of the prose."""
    out = []
    for cell in jupytext.read(chapter).cells:
        if cell.cell_type == "markdown":
            out += markdown_code_lines(cell.source)
        elif cell.cell_type == "code" and not {"remove-input", "remove-cell"} & set(cell.metadata.get("tags", [])):
            out += cell.source.splitlines()
    return out


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_code_lines_fit_the_text_column(chapter):
    """A longer line is clipped in the rendered code cell (the reader has to scroll sideways)."""
    long = [f"{len(line)} characters: {line.strip()[:64]}"
            for line in visible_code_lines(chapter) if len(line) > CODE_COLUMNS]
    assert not long, f"{chapter.name}: lines over {CODE_COLUMNS} characters:\n" + "\n".join(long)


def test_visible_code_lines_are_cells_fences_and_indented_solution_code(tmp_path):
    chapter = tmp_path / "chapter.md"
    header = (BOOK / "intro.md").read_text().split("\n---\n", 1)[0] + "\n---\n"
    chapter.write_text(header + "\n".join([
        "```{code-cell} ipython3", "x = 1", "```",
        "```{code-cell} ipython3", ":tags: [remove-input]", "", "hidden = 0", "```",
        "```{code-cell} ipython3", "---", "tags: [remove-cell]", "---", "hidden = 1", "```",
        "Text. " * 20,
        "```python", "y = 2", "```",
        "```{solution} ex", ":class: dropdown", "", "Prose.", "", "    z = 3", "    w = 4", "",
        "More prose.", "```",
        "```{admonition} Note", "", "    not code: outside exercises", "```",
    ]))
    assert [line.strip() for line in visible_code_lines(chapter)] == ["x = 1", "y = 2", "z = 3", "w = 4"]


# --- downloaded notebooks -------------------------------------------------------------------
MYST_ONLY = re.compile(r"\{(glue|term|doc|ref|eq|cite|numref|prf:ref)[:}]|^\s*(`{3,}|:{3,})\{|^\s*\(\w[\w-]*\)=\s*$",
                       flags=re.M)


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_code_cells_are_plain_python(chapter):
    """A downloaded .ipynb runs in a plain Jupyter kernel: no MyST syntax and no paths into the repository."""
    nb = jupytext.read(chapter)
    code = [c.source for c in nb.cells if c.cell_type == "code"]
    assert code, f"{chapter.name}: no code cells"
    for source in code:
        assert not MYST_ONLY.search(source), f"{chapter.name}: MyST-only syntax in a code cell:\n{source}"
        assert not re.search(r"['\"](\.\./|book/|lib/|tests/)|__file__", source), \
            f"{chapter.name}: a code cell depends on the repository layout:\n{source}"
        assert "glue(" not in source or "from myst_nb import glue" in "\n".join(code)


def requirement_names() -> set[str]:
    """Distributions of the book's environment: requirements.txt, what postBuild installs, and pntk."""
    names = {re.split(r"[=<>\[ ;]", line.strip())[0] for line in (ROOT / "requirements.txt").read_text().splitlines()
             if line.strip() and not line.startswith("#")}
    names |= set(re.findall(r"pip install --no-deps ([\w-]+)==", (ROOT / "postBuild").read_text())) | {"pntk"}
    return {re.sub(r"[-_.]+", "-", n).lower() for n in names}


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_code_cells_import_only_the_books_environment(chapter):
    """Every module a chapter imports comes from the standard library or a distribution of the environment."""
    distributions = importlib.metadata.packages_distributions()
    allowed = requirement_names()
    modules = set()
    for cell in jupytext.read(chapter).cells:
        if cell.cell_type == "code":
            for node in ast.walk(ast.parse(cell.source)):
                if isinstance(node, ast.Import):
                    modules |= {a.name.split(".")[0] for a in node.names}
                elif isinstance(node, ast.ImportFrom) and node.level == 0:
                    modules.add(node.module.split(".")[0])
    for module in sorted(modules - set(sys.stdlib_module_names)):
        dists = {re.sub(r"[-_.]+", "-", d).lower() for d in distributions.get(module, [module])}
        assert dists & allowed, f"{chapter.name} imports {module} ({dists}), not in requirements.txt or postBuild"


@pytest.mark.slow
def test_downloaded_notebook_runs_from_an_empty_directory(tmp_path):
    """The intro as a plain .ipynb, executed by nbclient with an empty working directory."""
    nb = jupytext.read(BOOK / "intro.md")
    path = tmp_path / "intro.ipynb"
    jupytext.write(nb, path, fmt="ipynb")
    nb = jupytext.read(path)
    workdir = tmp_path / "empty"
    workdir.mkdir()
    nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(workdir)}}).execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    assert any(o.get("output_type") == "display_data" for o in outputs)


# --- the student edition --------------------------------------------------------------------
TINY_CHAPTER = """---
jupytext:
  text_representation:
    extension: .md
    format_name: myst
kernelspec:
  display_name: Python 3
  language: python
  name: python3
---

# A tiny chapter

```{code-cell} ipython3
print(6 * 7)
```

```{exercise}
:label: tiny-ex

EXERCISE-TEXT: what does the cell print?
```

```{solution} tiny-ex
:class: dropdown

SOLUTION-TEXT: it prints 42.
```
"""


def make(target: str, book: pathlib.Path) -> subprocess.CompletedProcess:
    """Run a target of the project's Makefile in `book`, with the running interpreter's environment."""
    bin_dir = pathlib.Path(sys.executable).parent
    return subprocess.run(["make", "--no-print-directory", "-f", str(ROOT / "Makefile"), "-C", str(book), target,
                           f"BIN={bin_dir}", "STAMP="], capture_output=True, text=True, timeout=900)


@pytest.fixture(scope="module")
def tiny_book(tmp_path_factory):
    """A one-chapter copy of the book with the real _config.yml, built with `make book` then `make student`."""
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    book = tmp_path_factory.mktemp("tiny_book")
    shutil.copy(ROOT / "_config.yml", book / "_config.yml")
    shutil.copy(ROOT / "references.bib", book / "references.bib")
    (book / "_toc.yml").write_text("format: jb-book\nroot: index\n")
    (book / "index.md").write_text(TINY_CHAPTER)
    results = {target: make(target, book) for target in ("book", "student")}
    for target, result in results.items():
        assert result.returncode == 0, f"make {target}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return book, results


@pytest.mark.slow
def test_full_edition_shows_the_solution(tiny_book):
    book, _ = tiny_book
    html = (book / "_build" / "html" / "index.html").read_text()
    assert "EXERCISE-TEXT" in html and "SOLUTION-TEXT" in html and "42" in html
    # the download button offers the executed notebook, solutions included
    assert 'href="_sources/index.ipynb"' in html
    notebook = nbformat.reads((book / "_build" / "html" / "_sources" / "index.ipynb").read_text(), as_version=4)
    assert any("42" in str(o) for c in notebook.cells if c.cell_type == "code" for o in c.outputs)
    assert any("SOLUTION-TEXT" in c.source for c in notebook.cells)


@pytest.mark.slow
def test_rebuilt_page_still_offers_the_executed_notebook(tiny_book):
    """A prose-only edit rebuilds the page from the execution cache; its .ipynb keeps the outputs."""
    book, _ = tiny_book
    source = book / "index.md"
    source.write_text(source.read_text().replace("# A tiny chapter", "# A tiny chapter, edited"))
    result = make("book", book)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "Using cached notebook" in result.stdout + result.stderr
    notebook = nbformat.reads((book / "_build" / "html" / "_sources" / "index.ipynb").read_text(), as_version=4)
    assert any("42" in str(o) for c in notebook.cells if c.cell_type == "code" for o in c.outputs)
    assert "edited" in notebook.cells[0].source


@pytest.mark.slow
def test_student_edition_hides_the_solution(tiny_book):
    book, _ = tiny_book
    html_dir = book / "_build_student" / "_build" / "html"
    html = (html_dir / "index.html").read_text()
    assert "EXERCISE-TEXT" in html and "42" in html
    assert "SOLUTION-TEXT" not in html
    assert 'href="_sources/index.ipynb"' in html
    notebook = nbformat.reads((html_dir / "_sources" / "index.ipynb").read_text(), as_version=4)
    assert any("42" in str(o) for c in notebook.cells if c.cell_type == "code" for o in c.outputs)
    assert any("EXERCISE-TEXT" in c.source for c in notebook.cells)
    assert not [p for p in html_dir.rglob("*") if p.is_file() and p.suffix in {".html", ".txt", ".md", ".ipynb", ".js"}
                and "SOLUTION-TEXT" in p.read_text(errors="ignore")]


@pytest.mark.slow
def test_student_edition_reuses_the_execution_cache(tiny_book):
    book, results = tiny_book
    log = results["student"].stdout + results["student"].stderr
    assert "Using cached notebook" in log, log[-3000:]
    assert not (book / "_build_student" / "_build" / ".jupyter_cache").exists()


def test_strip_solutions_removes_only_solution_blocks():
    text = ("intro\n\n```{exercise}\n:label: e\n\nQ\n```\n\n````{solution} e\n:class: dropdown\n\n"
            "```python\nx = 1\n```\nANSWER\n````\n\n:::{solution} e\nANSWER\n:::\n\nend\n")
    stripped = editions.strip_solutions(text)
    assert "ANSWER" not in stripped and "{solution}" not in stripped
    assert stripped == "intro\n\n```{exercise}\n:label: e\n\nQ\n```\n\nend\n"
    nb = {"cells": [{"cell_type": "markdown", "source": ["# T\n"]},
                    {"cell_type": "markdown", "source": text},
                    {"cell_type": "markdown", "source": "```{solution} e\nANSWER\n```\n"},
                    {"cell_type": "code", "source": "print('ANSWER')"}]}
    cells = editions.strip_notebook(nb)["cells"]
    assert [c["cell_type"] for c in cells] == ["markdown", "markdown", "code"]
    assert "ANSWER" not in cells[1]["source"] and cells[2]["source"] == "print('ANSWER')"


def test_student_config_overlays_hide_solutions():
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    student = editions.student_config(config, "/cache")
    assert student["sphinx"]["config"]["hide_solutions"] is True
    assert student["execute"]["cache"] == "/cache"
    assert {k: v for k, v in student["sphinx"]["config"].items() if k != "hide_solutions"} == config["sphinx"]["config"]
    assert "hide_solutions" not in config["sphinx"]["config"]  # the book's own config is left alone
