"""The offline book in a real browser: headless Chromium, driven by playwright-core (browser/check_pages.mjs).

The session fixture builds the offline variant of the whole book once (`_config_offline.yml` merged
over `_config.yml`: MathJax, require.js and the widget manager served from the site itself), into a
temporary folder but with the execution cache of `make book` (`_build/.jupyter_cache`), serves it on
a free localhost port, and runs the driver over every page of the table of contents. Per page: no
request to another host, no failed request, no console or page error, MathJax rendered with no raw
TeX left, every widget view rendered, every slider of every static widget changes the visible frame
and is accessible (its label as its name, its value in words, alt text on the frame, a polite live
region), no warnings or stderr in cell outputs, no horizontal overflow of the page, no code block,
output, display equation or table wider than the text column, and no serious or critical axe-core
violation (WCAG 2.1 A/AA) in light or dark mode. Then on a phone (390x844) and a tablet (768x1024)
with touch: the visible navigation buttons open the table of contents, no inline formula is
clipped, whatever scrolls sideways shows a cue, and the explorers' sliders give a finger 44 px per
step. Two chapters are printed to A4 (PDF): no code block or equation cut at the text width, the
learning objectives on the first page. Every page is loaded cold under Slow 4G: first paint within
8 s, explorers within 15 s. Screenshots (whole pages, the explorers on a phone, the first printed
page), the PDFs, slow4g.json and the JSON report go to `_build/screenshots/`.

A tiny book of two pages checks the driver itself: a good page passes, and a page with raw TeX, an
external request, a console error, a warning in an output, a static widget whose frames do not
change, a code line and an equation too wide for the column, a figure shrunk to unreadable
text and an image without alt text fails exactly those checks.

Skipped, with the reason, only where node/npm or Chromium is missing (CI installs Debian's chromium).
"""

from __future__ import annotations

import contextlib
import functools
import gzip
import http.server
import io
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
# printed to A4 by the browser tests: a chapter with much code and one with an explorer
PRINTED = ["book/ntk.html", "book/extrapolation.html"]
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
    """Static files, gzip-compressed for a browser that accepts it where the type is text (HTML, CSS,
    JavaScript, JSON, SVG), as the hosts a book is published on (GitHub Pages, Read the Docs) serve
    them: the Slow 4G timings measure the bytes a reader's connection carries."""

    COMPRESSED = (".html", ".css", ".js", ".json", ".svg", ".txt", ".map")

    def send_head(self):
        path = pathlib.Path(self.translate_path(self.path))
        if (not path.is_file() or not path.name.endswith(self.COMPRESSED)
                or "gzip" not in self.headers.get("Accept-Encoding", "")):
            return super().send_head()
        body = gzip.compress(path.read_bytes(), compresslevel=6)
        self.send_response(200)
        self.send_header("Content-Type", self.guess_type(str(path)))
        self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        return io.BytesIO(body)

    def log_message(self, *args):
        pass


class QuietServer(http.server.ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):  # the browser hung up
            super().handle_error(request, client_address)


@contextlib.contextmanager
def serve(directory: pathlib.Path):
    """Serve `directory` over HTTP on a free localhost port; yields the base URL."""
    server = QuietServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(directory)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def check_pages(chromium: str, html: pathlib.Path, pages: list[str], shots: pathlib.Path, *,
                printed: list[str] = (), devices: str = "phone,tablet", slow4g: bool = True) -> dict:
    """Run browser/check_pages.mjs over `pages`; returns {page: result} from its JSON report."""
    report = shots / "report.json"
    options = ["--devices", devices, "--print", ",".join(printed)] + (["--slow4g"] if slow4g else [])
    with serve(html) as base:
        result = subprocess.run(["node", str(BROWSER / "check_pages.mjs"), "--base", base, "--shots", str(shots),
                                 "--report", str(report), "--chromium", chromium, *options, *pages],
                                capture_output=True, text=True, timeout=300 + 240 * len(pages))
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
    pages = check_pages(chromium, html, PAGES, SHOTS, printed=PRINTED)
    slow = {page: result["checks"]["slow4g"]["info"] for page, result in pages.items() if "slow4g" in result["checks"]}
    (SHOTS / "slow4g.json").write_text(json.dumps(slow, indent=1))
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


@pytest.mark.slow
def test_explorers_on_a_phone_and_printed_pages_have_screenshots(book_pages):
    explorers = [shot for result in book_pages.values() for shot in result["checks"]["phone"]["info"].get("explorerShots", [])]
    assert len(explorers) >= 2, "the two Part II explorers were not photographed on a phone"
    for page in PRINTED:
        info = book_pages[page]["checks"]["print"]["info"]
        assert pathlib.Path(info["screenshot"]).stat().st_size > 0 and pathlib.Path(info["pdf"]).stat().st_size > 0


@pytest.mark.slow
def test_slow_4g_numbers_are_recorded(book_pages):
    slow = json.loads((SHOTS / "slow4g.json").read_text())
    assert set(slow) == set(PAGES)
    assert all(info["firstPaintMs"] > 0 for info in slow.values())
    with_explorers = {page: info for page, info in slow.items() if info.get("explorers")}
    assert len(with_explorers) >= 2 and all(info["bytes"] > 0 and info["requests"] > 0 for info in with_explorers.values())


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
# the static face of pntk.widgets: range inputs switching <img> frames
from pntk.widgets import static_face
degrees, widths = [1, 2, 3], [1, 2]
frames = {(d, w): png(d * w) for d in degrees for w in widths}
static_face(frames, degrees, widths, initial=(1, 1))
```

```{code-cell} ipython3
# an ipywidgets view, rendered by the (deferred) widget manager
widgets.Button(description="plain")
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
from pntk.widgets import static_face
# a frozen explorer: both degrees show the same frame
static_face({(1, 1): png(1), (2, 1): png(1)}, [1, 2], [1], initial=(1, 1))
```

<img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=" width="40" height="40">
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
    for folder in ("_static", "_templates"):  # the book's own CSS and layout
        shutil.copytree(ROOT / folder, book / folder)
    html = build_offline(book, tmp_path_factory.mktemp("tiny-out"), book / "cache")
    return check_pages(chromium, html, ["good.html", "bad.html"], book / "shots", printed=["good.html"],
                       devices="phone", slow4g=True)


@pytest.mark.slow
def test_driver_passes_a_good_page(tiny_pages):
    good = tiny_pages["good.html"]
    assert not failures(good), failures(good)
    assert good["checks"]["widgets"]["info"] == {"views": 1, "sliders": 0, "staticWidgets": 1}
    sliders = good["checks"]["static_widgets"]["info"]
    assert [s["label"] for s in sliders] == ["degree", "width"]
    assert [s["valuetext"] for s in sliders] == ["degree 1", "width 1"]
    for slider in sliders:
        moves = [step for step in slider["steps"] if step["moved"]]
        assert len(moves) == 2 and all(step["changed"] for step in moves), slider
        assert all(step["valuetext"].startswith(slider["label"]) for step in moves), slider
    assert pathlib.Path(good["screenshot"]).stat().st_size > 0
    phone = good["checks"]["phone"]["info"]
    assert phone["book contents"] == "opens on a tap" and phone["inlineMath"] >= 1, phone
    assert [s["label"] for s in phone["sliders"]] == ["degree", "width"] and len(phone["explorerShots"]) == 1
    assert good["checks"]["print"]["ok"] and good["checks"]["slow4g"]["info"]["explorers"] == 1


@pytest.mark.slow
def test_driver_flags_each_problem_of_a_bad_page(tiny_pages):
    bad = failures(tiny_pages["bad.html"])
    assert set(bad) == {"math", "outputs", "static_widgets", "offline", "console", "layout", "axe_light",
                        "axe_dark", "phone"}, bad
    assert any("image-alt" in p for p in bad["axe_light"]) and any("image-alt" in p for p in bad["axe_dark"]), bad
    kinds = sorted(p.split(" wider")[0].split(" shown")[0] for p in bad["layout"])
    assert kinds == ["code", "display math", "figure 1"], bad["layout"]
    assert any("$x^2$" in p for p in bad["math"]), bad["math"]
    assert any("UserWarning" in p for p in bad["outputs"]), bad["outputs"]
    assert any("degree" in p and "did not change" in p for p in bad["static_widgets"]), bad["static_widgets"]
    assert bad["offline"] == ["request to an external host: https://example.com/missing.png"]
    assert any("deliberate console error" in p for p in bad["console"]), bad["console"]
