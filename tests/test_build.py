"""The book build fails loudly on a failing cell and on a broken citation (a deliberately broken copy);
the bibliography is labelled author-year, as the chapters cite, and every citation links to its entry."""

import pathlib
import re
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


@pytest.mark.parametrize("changed", ["lib/pntk/kernels.py", "requirements.txt",
                                     "experiments/results/digit_arithmetic.json"])
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


@pytest.mark.slow
def test_bibliography_labels_are_the_citations_author_year_and_every_citation_links_to_its_entry(tmp_path):
    """Entries labelled as the chapters cite them ("Jacot et al., 2018", not "JGH18"), unique, in
    the order of their labels; every {cite} of two pages links to the entry of its own key.

    The book's _config.yml, which loads lib/pntk_bibtex.py (installed with pntk) and selects its
    style, and the Makefile's flags (-W -n: a broken link fails)."""
    from bs4 import BeautifulSoup
    from pybtex.database import parse_file

    shutil.copy(ROOT / "_config.yml", tmp_path / "_config.yml")
    shutil.copy(ROOT / "references.bib", tmp_path / "references.bib")
    shutil.copy(ROOT / "book" / "bibliography.md", tmp_path / "bibliography.md")
    (tmp_path / "_toc.yml").write_text("format: jb-book\nroot: index\nchapters:\n- file: other\n- file: bibliography\n")
    cites = {"index": "As {cite:t}`jacot2018ntk` showed, see {cite}`cho2009kernel,neal1996bayesian`.\n",
             "other": "See {cite:p}`lee2019wide`, {cite:t}`lee2018deep` and {cite:t}`chrysos2020pinets`.\n"}
    for page, body in cites.items():
        (tmp_path / f"{page}.md").write_text(f"# Page {page}\n\n{body}")
    makefile = (ROOT / "Makefile").read_text()
    flags = next(line for line in makefile.splitlines() if line.startswith("BUILD_FLAGS")).split(":=")[1].split()
    result = subprocess.run([str(JUPYTER_BOOK), "build", *flags, str(tmp_path)], capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    html = tmp_path / "_build" / "html"

    bib = BeautifulSoup((html / "bibliography.html").read_text(), "html.parser")
    labels = {}  # entry id -> label
    for entry in bib.select('div.citation[role="doc-biblioentry"]'):  # citation nodes, not a plain list
        labels[entry["id"]] = entry.select_one("span.label").get_text().strip("[]")
    keys = parse_file(str(ROOT / "references.bib")).entries
    assert len(labels) == len(keys)  # :all:
    assert len(set(labels.values())) == len(labels), "labels are not unique"
    for label in labels.values():
        assert re.fullmatch(r"[^\W\d][^,]*(?: and [^,]+| et al\.)?, (\d{4}[a-z]?|n\.d\.)", label), label
    assert list(labels.values()) == sorted(labels.values(), key=lambda label: label.lower())
    expected = {"jacot2018ntk": "Jacot et al., 2018", "cho2009kernel": "Cho and Saul, 2009",
                "neal1996bayesian": "Neal, 1996", "lee2019wide": "Lee et al., 2019", "lee2018deep": "Lee et al., 2018",
                "chrysos2020pinets": "Chrysos et al., 2020"}
    assert set(expected.values()) <= set(labels.values())

    for page, body in cites.items():
        soup = BeautifulSoup((html / f"{page}.html").read_text(), "html.parser")
        spans = soup.select("span.bibtex-citation")
        cited = re.findall(r"\{cite(?::[tp])?\}`([^`]+)`", body)
        assert len(spans) == len(cited)
        for span, keys_cited in zip(spans, cited):
            links = span.select("a.reference.internal")
            assert [a["href"].split("#")[0] for a in links] == ["bibliography.html"] * len(links)
            linked = [labels[a["href"].split("#")[1]] for a in links]  # the entries the links reach
            assert linked == [expected[key] for key in keys_cited.split(",")], (span, linked)
            text = " ".join(span.get_text().split())
            if links[0].get_text() == linked[0]:  # parenthetical: the link text is the label
                assert text == "[" + ", ".join(linked) + "]"
            else:  # textual: "Jacot et al. [2018]" for the label "Jacot et al., 2018"
                names, year = linked[0].rsplit(", ", 1)
                assert text == f"{names} [{year}]"


def test_author_year_labels_name_authors_as_the_citations_and_are_unique():
    """lib/pntk_bibtex.py on its own: one, two, three or more authors, no author or year, and
    labels that would coincide (a, b in the order of the titles)."""
    import pntk_bibtex
    from pybtex.database import Entry, Person

    def entry(key, authors, year="2019", title="T"):
        fields = {"title": title, **({"year": year} if year else {})}
        made = Entry("misc", fields=fields, persons={"author": [Person(a) for a in authors]} if authors else {})
        made.key = key
        return made

    entries = [entry("lee_b", ["Lee, J.", "Xiao, L.", "Bahri, Y."], title="Zeta"),
               entry("lee_a", ["Lee, Jaehoon", "Bahri, Y.", "Novak, R."], title="Alpha"),
               entry("cho", ["Cho, Youngmin", "Saul, Lawrence K."], year="2009"),
               entry("neal", ["Neal, Radford M."], year=None),
               entry("von", ["von Neumann, John"], year="1945"),
               entry("anon", [], year="2000", title="Anonymous report")]
    ordered = pntk_bibtex.AuthorYearSortingStyle().sort(entries)
    labels = dict(zip([e.key for e in ordered], pntk_bibtex.AuthorYearLabelStyle().format_labels(ordered)))
    assert labels == {"lee_a": "Lee et al., 2019a", "lee_b": "Lee et al., 2019b", "cho": "Cho and Saul, 2009",
                      "neal": "Neal, n.d.", "von": "von Neumann, 1945", "anon": "Anonymous report, 2000"}
    assert [e.key for e in ordered] == ["anon", "cho", "lee_a", "lee_b", "neal", "von"]
