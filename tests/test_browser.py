"""The offline book in a real browser: headless Chromium, driven by playwright-core (browser/check_pages.mjs).

The session fixture builds the offline variant of the whole book once (`_config_offline.yml` merged
over `_config.yml`: MathJax, require.js and the widget manager served from the site itself), into a
temporary folder but with the execution cache of `make book` (`_build/.jupyter_cache`), serves it on
a free localhost port, and runs the driver over every page of the table of contents. Per page: no
request to another host, no failed request, no console or page error, MathJax rendered with no raw
TeX left, every widget view rendered, every slider of every static widget changes the visible frame,
no warnings or stderr in cell outputs, no horizontal overflow of the page, no code block, output,
display equation or table wider than the text column. Screenshots and the JSON report go to
`_build/screenshots/`.

A tiny book of two pages checks the driver itself: a good page passes, and a page with raw TeX, an
external request, a console error, a warning in an output, a static widget whose frames do not
change, a code line and an equation too wide for the column and a figure shrunk to unreadable
text fails exactly those checks.

Skipped, with the reason, only where node/npm or Chromium is missing (CI installs Debian's chromium).
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import json
import os
import pathlib
import shutil
import subprocess
import sys
import threading
import time

import pytest

from chapters import ROOT, toc_chapters

BROWSER = ROOT / "browser"
JUPYTER_BOOK = pathlib.Path(sys.executable).parent / "jupyter-book"
SHOTS = ROOT / "_build" / "screenshots"
CACHE = ROOT / "_build" / ".jupyter_cache"
PAGES = [p.relative_to(ROOT).with_suffix(".html").as_posix() for p in toc_chapters()]
BUILD_FLAGS = ["-W", "-n", "--keep-going"]


def find_chromium() -> str | None:
    """$CHROMIUM if set, else Debian's /usr/bin/chromium, else a chromium/chrome on the PATH."""
    candidates = [os.environ.get("CHROMIUM"), "/usr/bin/chromium",
                  shutil.which("chromium"), shutil.which("chromium-browser"), shutil.which("google-chrome")]
    return next((c for c in candidates if c and os.access(c, os.X_OK)), None)


def require_browser() -> str:
    """The Chromium executable; skips the test (with the reason) where node, npm or Chromium is missing."""
    missing = [tool for tool in ("node", "npm") if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"browser tests need Node.js: {', '.join(missing)} not found on the PATH")
    chromium = find_chromium()
    if chromium is None:
        pytest.skip("browser tests need Chromium: none found (apt-get install chromium, or set $CHROMIUM)")
    return chromium


def run(cmd, timeout, **kwargs) -> subprocess.CompletedProcess:
    """Run a command; fail the test with the tail of its output if it fails."""
    result = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=timeout, **kwargs)
    if result.returncode != 0:
        pytest.fail(f"{' '.join(map(str, cmd))} exited {result.returncode}:\n"
                    f"{result.stdout[-4000:]}\n{result.stderr[-4000:]}")
    return result


def install_assets() -> None:
    """`make assets`: npm ci in browser/ and the offline JavaScript in _build/offline-assets (a no-op when current)."""
    run(["make", "--no-print-directory", "assets"], timeout=900, cwd=ROOT)


def build_offline(source: pathlib.Path, out: pathlib.Path, cache: pathlib.Path) -> pathlib.Path:
    """Build the offline variant of the book in `source` into `out`; returns the HTML folder."""
    config = out / "_config.yml"
    run([sys.executable, BROWSER / "offline_config.py", config, cache], timeout=60)
    run([JUPYTER_BOOK, "build", *BUILD_FLAGS, "--path-output", out, "--config", config, source], timeout=3600)
    return out / "_build" / "html"


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@contextlib.contextmanager
def serve(directory: pathlib.Path):
    """Serve `directory` over HTTP on a free localhost port; yields the base URL."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                             functools.partial(QuietHandler, directory=str(directory)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def check_pages(chromium: str, html: pathlib.Path, pages: list[str], shots: pathlib.Path) -> dict:
    """Run browser/check_pages.mjs over `pages`; returns {page: result} from its JSON report."""
    report = shots / "report.json"
    with serve(html) as base:
        result = subprocess.run(["node", str(BROWSER / "check_pages.mjs"), "--base", base, "--shots", str(shots),
                                 "--report", str(report), "--chromium", chromium, *pages],
                                capture_output=True, text=True, timeout=120 + 120 * len(pages))
    if result.returncode not in (0, 1) or not report.exists():
        pytest.fail(f"the browser driver failed (exit {result.returncode}):\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return {page["page"]: page for page in json.loads(report.read_text())["pages"]}


def failures(result: dict) -> dict:
    return {name: check["problems"] for name, check in result["checks"].items() if not check["ok"]}


def say(request, line: str) -> None:
    """A line on the terminal even while pytest captures output."""
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(line)


# ---- the whole book ---------------------------------------------------------------------------

@pytest.fixture(scope="session")
def book_pages(request, tmp_path_factory):
    chromium = require_browser()
    start = time.perf_counter()
    install_assets()
    assets = time.perf_counter()
    html = build_offline(ROOT, tmp_path_factory.mktemp("offline-book"), CACHE)
    built = time.perf_counter()
    shutil.rmtree(SHOTS, ignore_errors=True)
    pages = check_pages(chromium, html, PAGES, SHOTS)
    say(request, f"\nbrowser tests: assets {assets - start:.0f} s, offline build {built - assets:.0f} s, "
                 f"browser {time.perf_counter() - built:.0f} s; screenshots and report.json in {SHOTS}")
    return pages


@pytest.mark.slow
@pytest.mark.parametrize("page", PAGES)
def test_page_works_offline_in_the_browser(book_pages, page):
    result = book_pages[page]
    assert not failures(result), (f"{page} (screenshot {result.get('screenshot')}):\n"
                                  + json.dumps(failures(result), indent=1)[:6000])


@pytest.mark.slow
def test_every_page_has_a_screenshot(book_pages):
    for page, result in book_pages.items():
        assert result.get("screenshot") and pathlib.Path(result["screenshot"]).stat().st_size > 0, page


# ---- the driver itself, on a tiny book --------------------------------------------------------

HEADER = """---
jupytext:
  text_representation:
    extension: .md
    format_name: myst
kernelspec:
  display_name: Python 3
  language: python
  name: python3
---
"""

FRAMES = """import io
import ipywidgets as widgets
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt

def png(slope):
    fig, ax = plt.subplots(figsize=(2, 1.5))
    ax.plot([0, 1], [0, slope])
    ax.set_ylim(0, 6)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()
"""

GOOD = HEADER + r"""
# A good page

Inline math $\theta(x, y) = x^2$ and display math:

$$
\Theta = \sum_{k=1}^{3} \frac{1}{k}.
$$

Dollars and TeX in code are not math: `$x$`, and

```text
price = $x$ and \(y\) and \frac{1}{2}
```

```{code-cell} ipython3
""" + FRAMES + r"""
# the static-widget contract of pntk.widgets: nested Stacks of Images
# switched by jslinked IntSliders
degrees, widths = [1, 2, 3], [1, 2]
inner = [widgets.Stack([widgets.Image(value=png(d * w), format="png")
                        for w in widths], selected_index=0)
         for d in degrees]
outer = widgets.Stack(inner, selected_index=0)
degree = widgets.IntSlider(value=0, min=0, max=len(degrees) - 1,
                           description="degree")
width = widgets.IntSlider(value=0, min=0, max=len(widths) - 1,
                          description="width")
widgets.jslink((degree, "value"), (outer, "selected_index"))
for stack in inner:
    widgets.jslink((width, "value"), (stack, "selected_index"))
box = widgets.VBox([degree, width, outer])
box.add_class("pntk-static-widget")
box
```
"""

BAD = HEADER + r"""
# A bad page

Escaped dollars leave raw TeX: \$x^2\$.

$$
\Theta = """ + " + ".join(f"a_{{{i}}}" for i in range(1, 24)) + r"""
$$

<img src="https://example.com/missing.png" alt="an external image">

<script>console.error("deliberate console error");</script>

```{code-cell} ipython3
print("UserWarning: deliberate")
a_code_line_far_wider_than_the_text_column = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]
```

```{code-cell} ipython3
""" + FRAMES + r"""
from IPython.display import Image, display

# shown at 0.4 of its width
wide, ax = plt.subplots(figsize=(16, 1.5), dpi=100)
ax.plot([0, 1])
buf = io.BytesIO()
wide.savefig(buf, format="png")
display(Image(buf.getvalue()))
same = widgets.Stack([widgets.Image(value=png(1), format="png")
                      for _ in range(2)], selected_index=0)
frozen = widgets.IntSlider(value=0, min=0, max=1, description="frozen")
widgets.jslink((frozen, "value"), (same, "selected_index"))
box = widgets.VBox([frozen, same])
box.add_class("pntk-static-widget")
box
```
"""


@pytest.fixture(scope="module")
def tiny_pages(tmp_path_factory):
    chromium = require_browser()
    install_assets()
    book = tmp_path_factory.mktemp("tiny-book")
    (book / "_toc.yml").write_text("format: jb-book\nroot: good\nchapters:\n  - file: bad\n")
    (book / "good.md").write_text(GOOD)
    (book / "bad.md").write_text(BAD)
    shutil.copy(ROOT / "references.bib", book / "references.bib")
    html = build_offline(book, tmp_path_factory.mktemp("tiny-out"), book / "cache")
    return check_pages(chromium, html, ["good.html", "bad.html"], book / "shots")


@pytest.mark.slow
def test_driver_passes_a_good_page(tiny_pages):
    good = tiny_pages["good.html"]
    assert not failures(good), failures(good)
    assert good["checks"]["widgets"]["info"] == {"views": 1, "sliders": 2, "staticWidgets": 1}
    sliders = good["checks"]["static_widgets"]["info"]
    assert [s["label"] for s in sliders] == ["degree", "width"]
    for slider in sliders:
        moves = [step for step in slider["steps"] if step["moved"]]
        assert len(moves) == 2 and all(step["changed"] for step in moves), slider
    assert pathlib.Path(good["screenshot"]).stat().st_size > 0


@pytest.mark.slow
def test_driver_flags_each_problem_of_a_bad_page(tiny_pages):
    bad = failures(tiny_pages["bad.html"])
    assert set(bad) == {"math", "outputs", "static_widgets", "offline", "console", "layout"}, bad
    kinds = sorted(p.split(" wider")[0].split(" shown")[0] for p in bad["layout"])
    assert kinds == ["code", "display math", "figure 1"], bad["layout"]
    assert any("$x^2$" in p for p in bad["math"]), bad["math"]
    assert any("UserWarning" in p for p in bad["outputs"]), bad["outputs"]
    assert any("frozen" in p and "did not change" in p for p in bad["static_widgets"]), bad["static_widgets"]
    assert bad["offline"] == ["request to an external host: https://example.com/missing.png"]
    assert any("deliberate console error" in p for p in bad["console"]), bad["console"]
