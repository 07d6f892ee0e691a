"""Author-year labels for the bibliography page (a local Sphinx extension of the PNTK Book).

The chapters cite author-year (``bibtex_reference_style: author_year`` in _config.yml: "Jacot
et al. [2018]", "[Cho and Saul, 2009]"), but sphinxcontrib-bibtex's default formatting style,
pybtex's ``alpha``, labels the bibliography's entries [JGH18]. This extension registers with
pybtex

- the label style ``pntk_author_year``: "Jacot et al., 2018", "Cho and Saul, 2009",
  "Neal, 1996", i.e. the author part exactly as sphinxcontrib-bibtex's author-year citations
  write it (last names; two joined by "and"; three or more as the first one plus "et al."),
  a comma, the year ("n.d." without one); labels that would coincide get "a", "b", ... after
  the year, in the bibliography's order;
- the sorting style ``pntk_author_year``: by label (author part, then year), then title, so
  that the list reads in the order of its labels ("Chrysos et al., 2020" before "2021");
- the formatting style ``pntk_author_year``: pybtex's ``alpha`` entries with that sorting and
  label style.

_config.yml selects it with ``bibtex_default_style: pntk_author_year``; the entries stay
citation nodes (not a plain list), so every {cite} keeps linking to its entry.
"""

from __future__ import annotations

import string
from collections import Counter

from pybtex.plugin import find_plugin, register_plugin
from pybtex.style.formatting.alpha import Style as AlphaStyle
from pybtex.style.labels import BaseLabelStyle
from pybtex.style.sorting import BaseSortingStyle

NAME = "pntk_author_year"


def _names(entry) -> str:
    """The author part of an author-year citation: "Neal", "Cho and Saul", "Jacot et al."."""
    persons = entry.persons.get("author") or entry.persons.get("editor")
    if not persons:
        return entry.fields.get("title", entry.key)
    last = find_plugin("pybtex.style.names", "last")()
    names = [last.format(person).format().render_as("text") for person in persons]
    if len(names) == 1:
        return names[0]
    if len(names) == 2:
        return f"{names[0]} and {names[1]}"
    return f"{names[0]} et al."


class AuthorYearLabelStyle(BaseLabelStyle):
    """Labels "Jacot et al., 2018" (unique: "Lee et al., 2019a", "Lee et al., 2019b" if needed)."""

    def format_labels(self, sorted_entries):
        entries = list(sorted_entries)
        bases = [(_names(e), e.fields.get("year", "n.d.")) for e in entries]
        counts = Counter(bases)
        seen: Counter = Counter()
        for names, year in bases:
            suffix = ""
            if counts[names, year] > 1:
                suffix = string.ascii_lowercase[seen[names, year]]
                seen[names, year] += 1
            yield f"{names}, {year}{suffix}"


class AuthorYearSortingStyle(BaseSortingStyle):
    """Entries in the order of their labels: author part (case-insensitive), year, title."""

    def sorting_key(self, entry):
        year = entry.fields.get("year", "")
        return (_names(entry).lower(), year, entry.fields.get("title", "").lower())


class AuthorYearStyle(AlphaStyle):
    """pybtex's alpha formatting style with author-year labels, sorted by label."""

    default_sorting_style = NAME
    default_label_style = NAME


def setup(app):
    register_plugin("pybtex.style.labels", NAME, AuthorYearLabelStyle)
    register_plugin("pybtex.style.sorting", NAME, AuthorYearSortingStyle)
    register_plugin("pybtex.style.formatting", NAME, AuthorYearStyle)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
