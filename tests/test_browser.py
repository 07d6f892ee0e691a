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

The default build (`_config.yml` alone: MathJax from cdn.jsdelivr.net) is built too, with the same
execution cache, and every page is loaded cold under Slow 4G with the same limits. No request leaves
the machine: Chromium resolves the CDN hosts to a local HTTPS mirror (--host-resolver-rules, a
self-signed certificate made with openssl at test time) that answers with the same files from
browser/node_modules (pinned in browser/package-lock.json), so the CDN requests go through the
browser's network stack and carry the Slow 4G latency and bandwidth (Playwright's route.fulfill
would skip the throttling); the largest CDN file's own timing checks that they do. slow4g.json holds
both variants' numbers, with when and where they were measured; `bench/run.py --only slow4g` copies
them into BENCHMARKS.md.

A tiny book of two pages checks the driver itself: a good page passes, and a page with raw TeX, an
external request, a console error, a warning in an output, a static widget whose frames do not
change, a code line and an equation too wide for the column, a figure shrunk to unreadable
text and an image without alt text fails exactly those checks.

Skipped, with the reason, only where node/npm, Chromium or openssl is missing (CI installs Debian's
chromium).
"""

from __future__ import annotations

import contextlib
import datetime
import functools
import gzip
import http.server
import io
import json
import os
import pathlib
import platform
import re
import shutil
import ssl
import subprocess
import sys
import threading
import time
import urllib.parse

import pytest

from chapters import ROOT, toc_chapters

BROWSER = ROOT / "browser"
JUPYTER_BOOK = pathlib.Path(sys.executable).parent / "jupyter-book"
SHOTS = ROOT / "_build" / "screenshots"
CACHE = ROOT / "_build" / ".jupyter_cache"
PAGES = [p.relative_to(ROOT).with_suffix(".html").as_posix() for p in toc_chapters()]
# printed to A4 by the browser tests: a chapter with much code and one with an explorer
PRINTED = ["book/ntk.html", "book/extrapolation.html"]
# looked up on the search page: its result summaries must show text, not TeX or navigation
SEARCHED = ["kernel", "eigenvalue", "recursion", "Gegenbauer"]
BUILD_FLAGS = ["-W", "-n", "--keep-going"]
NODE_MODULES = BROWSER / "node_modules"
# The default build's CDN files and their local copies: (host, URL path prefix) -> folder of the same
# npm package in browser/node_modules (versions pinned in browser/package-lock.json). mathjax@3 is
# the newest MathJax 3 release on jsdelivr, 3.2.2 (test_cdn_copies_are_the_versions_the_urls_name).
CDN_MIRROR = {
    ("cdn.jsdelivr.net", "/npm/mathjax@3/"): NODE_MODULES / "mathjax",
    ("cdn.jsdelivr.net", "/npm/requirejs@2.3.4/"): NODE_MODULES / "requirejs",
    ("cdn.jsdelivr.net", "/npm/@jupyter-widgets/html-manager@1.0.6/"): NODE_MODULES / "@jupyter-widgets" / "html-manager",
}
CDN_HOSTS = sorted({host for host, _ in CDN_MIRROR})
# DevTools' Slow 4G preset (browser/check_pages.mjs): latency per request and download bandwidth
SLOW_4G_LATENCY_MS, SLOW_4G_BYTES_PER_S = 562.5, 1.44e6 / 8


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


def build_offline(source: pathlib.Path, out: pathlib.Path, cache: pathlib.Path, *, default: bool = False) -> pathlib.Path:
    """Build the offline variant of the book in `source` into `out` (with `default`, the default
    build: _config.yml alone, CDN scripts); returns the HTML folder."""
    config = out / "_config.yml"
    run([sys.executable, BROWSER / "offline_config.py", *(["--default"] if default else []), config, cache], timeout=60)
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


class MirrorHandler(QuietHandler):
    """The CDN files of the default build, answered from their local copies (CDN_MIRROR) by the
    request's Host; anything else is a 404, which fails the page. With the headers jsdelivr sends:
    CORS (MathJax's fonts and crossorigin scripts are CORS requests) and Timing-Allow-Origin."""

    def translate_path(self, path):
        host = (self.headers.get("Host") or "").split(":")[0]
        path = urllib.parse.unquote(urllib.parse.urlsplit(path).path)
        for (cdn, prefix), folder in CDN_MIRROR.items():
            if host == cdn and path.startswith(prefix):
                target = (folder / path[len(prefix):]).resolve()
                if target.is_file() and target.is_relative_to(folder.resolve()):
                    self.server.answered.add(f"https://{host}{path}")
                    return str(target)
        self.server.missing.add(f"https://{host}{path}")
        return str(pathlib.Path(self.directory) / "not-mirrored")

    def end_headers(self):
        self.send_header("Access-Control-Allow-Origin", "*")
        self.send_header("Timing-Allow-Origin", "*")
        super().end_headers()


@contextlib.contextmanager
def serve_cdn_mirror(folder: pathlib.Path):
    """The CDN mirror over HTTPS on a free localhost port, with a self-signed certificate made by
    openssl in `folder`; yields (address 127.0.0.1:PORT, server) (server.answered, server.missing:
    the URLs it answered and those it had no copy of)."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("the Slow 4G check of the default build needs openssl (a certificate for the local CDN mirror)")
    key, cert = folder / "mirror-key.pem", folder / "mirror-cert.pem"
    run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
         "-subj", "/CN=pntk-cdn-mirror", "-days", "1"], timeout=120)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server = QuietServer(("127.0.0.1", 0), functools.partial(MirrorHandler, directory=str(folder)))
    server.socket = context.wrap_socket(server.socket, server_side=True)
    server.answered, server.missing = set(), set()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}", server
    finally:
        server.shutdown()
        server.server_close()


def external_resources(html: pathlib.Path) -> set[str]:
    """The URLs of scripts and stylesheets from other hosts in the built pages (not hyperlinks)."""
    found = set()
    for page in html.rglob("*.html"):
        text = page.read_text(errors="replace")
        found.update(re.findall(r'<script\b[^>]*\bsrc="(https?://[^"]+)"', text))
        found.update(url for tag in re.findall(r"<link\b[^>]*>", text) if re.search(r'rel="(stylesheet|preload|modulepreload)"', tag)
                     for url in re.findall(r'href="(https?://[^"]+)"', tag))
    return found


def mirrored(url: str) -> pathlib.Path | None:
    """The local copy of a CDN URL, or None."""
    parts = urllib.parse.urlsplit(url)
    for (host, prefix), folder in CDN_MIRROR.items():
        if parts.hostname == host and parts.path.startswith(prefix) and (folder / parts.path[len(prefix):]).is_file():
            return folder / parts.path[len(prefix):]
    return None


def provenance(chromium: str) -> dict:
    """When, where and on what the Slow 4G numbers were measured."""
    def out(cmd):
        try:
            return subprocess.run(cmd, capture_output=True, text=True, timeout=30, cwd=ROOT).stdout.strip()
        except (OSError, subprocess.TimeoutExpired):
            return ""
    cpu = next((line.split(":", 1)[1].strip() for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor()) if pathlib.Path("/proc/cpuinfo").exists() else platform.processor()
    return {"command": ".venv/bin/python -m pytest tests/test_browser.py", "date": datetime.datetime.now().isoformat(timespec="seconds"),
            "commit": out(["git", "rev-parse", "HEAD"]) or None,
            "changed_since_commit": bool(out(["git", "status", "--porcelain", "--", "book", "lib", "_config.yml",
                                               "_config_offline.yml", "_templates", "_static", "browser", "_toc.yml"])),
            "machine": f"{cpu} ({len(os.sched_getaffinity(0))} cores available)", "load_average": [round(v, 2) for v in os.getloadavg()],
            "chromium": out([chromium, "--version"])}


def check_pages(chromium: str, html: pathlib.Path, pages: list[str], shots: pathlib.Path, *,
                printed: list[str] = (), devices: str = "phone,tablet", slow4g: bool = True,
                extra: list[str] = (), report_name: str = "report.json") -> dict:
    """Run browser/check_pages.mjs over `pages`; returns {page: result} from its JSON report."""
    report = shots / report_name
    options = ["--devices", devices, "--print", ",".join(printed)] + (["--slow4g"] if slow4g else []) + list(extra)
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
    measured = provenance(chromium)
    pages = check_pages(chromium, html, PAGES, SHOTS, printed=PRINTED, extra=["--search", ",".join(SEARCHED)])
    slow = {page: result["checks"]["slow4g"]["info"] for page, result in pages.items() if "slow4g" in result["checks"]}
    (SHOTS / "slow4g.json").write_text(json.dumps({"offline": {"measured": measured, "pages": slow}}, indent=1))
    say(request, f"\nbrowser tests: assets {assets - start:.0f} s, offline build {built - assets:.0f} s, "
                 f"browser {time.perf_counter() - built:.0f} s; screenshots and report.json in {SHOTS}")
    return pages


@pytest.fixture(scope="session")
def default_pages(request, tmp_path_factory):
    """The default build (CDN scripts) under Slow 4G only, with the CDN answered by the local mirror;
    its numbers are added to slow4g.json (the offline book's fixture, which empties SHOTS, runs first
    when both are selected: its tests come first in this file)."""
    chromium = require_browser()
    start = time.perf_counter()
    out = tmp_path_factory.mktemp("default-book")
    html = build_offline(ROOT, out, CACHE, default=True)
    built = time.perf_counter()
    measured = provenance(chromium)
    with serve_cdn_mirror(out) as (address, mirror):
        pages = check_pages(chromium, html, PAGES, SHOTS, devices="", extra=[
            "--slow4g-only", "--cdn-hosts", ",".join(CDN_HOSTS), "--cdn-address", address],
            report_name="report-default.json")
    SHOTS.mkdir(parents=True, exist_ok=True)
    slow = json.loads((SHOTS / "slow4g.json").read_text()) if (SHOTS / "slow4g.json").exists() else {}
    slow["default"] = {"measured": measured, "pages": {page: r["checks"]["slow4g"]["info"] for page, r in pages.items()},
                       "cdn_answered": sorted(mirror.answered), "cdn_missing": sorted(mirror.missing)}
    (SHOTS / "slow4g.json").write_text(json.dumps(slow, indent=1))
    say(request, f"\nbrowser tests, default build: build {built - start:.0f} s, Slow 4G {time.perf_counter() - built:.0f} s "
                 f"({len(mirror.answered)} CDN files answered by the local mirror)")
    return {"pages": pages, "html": html, "answered": mirror.answered, "missing": mirror.missing}


@pytest.mark.slow
@pytest.mark.parametrize("page", PAGES)
def test_page_works_offline_in_the_browser(book_pages, page):
    result = book_pages[page]
    assert not failures(result), (f"{page} (screenshot {result.get('screenshot')}):\n"
                                  + json.dumps(failures(result), indent=1)[:6000])


@pytest.mark.slow
def test_search_results_summarise_the_pages_text(book_pages):
    """The search page (Sphinx's searchtools, with the wrapper of _templates/layout.html) finds every
    word of SEARCHED, and no result summary shows raw TeX or the page's contents list."""
    searches = json.loads((SHOTS / "report.json").read_text())["searches"]
    assert [s["word"] for s in searches] == SEARCHED
    for search in searches:
        assert search["ok"], (search["word"], search["problems"][:5])
        assert len(search["snippets"]) >= 3, search


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
@pytest.mark.parametrize("page", PAGES)
def test_default_build_is_fast_on_slow_4g(default_pages, page):
    """The default build, CDN requests answered locally: first paint < 8 s, explorers < 15 s, no
    request failed or left the machine."""
    result = default_pages["pages"][page]
    assert result["checks"]["slow4g"]["ok"], json.dumps(result["checks"]["slow4g"], indent=1)[:4000]


@pytest.mark.slow
def test_default_build_cdn_requests_are_answered_and_throttled(default_pages):
    """Every CDN file the default build names has a local copy and was answered by the mirror, and
    the answered requests carry the Slow 4G cost: the largest CDN file took at least the preset's
    latency plus its bytes at the preset's bandwidth (route.fulfill would deliver it at once)."""
    resources = external_resources(default_pages["html"])
    assert resources, "the default build names no CDN script: nothing is measured against the CDN"
    assert {url for url in resources if mirrored(url) is None} == set(), "CDN files with no local copy"
    assert not default_pages["missing"], f"CDN requests the mirror had no copy of: {sorted(default_pages['missing'])}"
    assert resources <= default_pages["answered"], resources - default_pages["answered"]
    timings = [r["checks"]["slow4g"]["info"].get("largestCdnFile") for r in default_pages["pages"].values()]
    timings = [t for t in timings if t and t["transferBytes"] > 100_000]
    assert timings, "no large CDN file was timed"
    for t in timings:
        floor = SLOW_4G_LATENCY_MS + t["transferBytes"] / SLOW_4G_BYTES_PER_S * 1000
        assert t["ms"] >= 0.9 * floor, f"{t['url']}: {t['transferBytes']} bytes in {t['ms']} ms, faster than Slow 4G ({floor:.0f} ms)"


@pytest.mark.slow
def test_cdn_copies_are_the_versions_the_urls_name():
    """The local copies are the npm packages the CDN URLs name: an exact version, or for mathjax@3
    the newest MathJax 3 (3.2.2, the last 3.x release)."""
    if shutil.which("npm") is None:
        pytest.skip("needs npm (the local copies are installed by npm ci)")
    install_assets()
    for (host, prefix), folder in CDN_MIRROR.items():
        spec = prefix.rstrip("/").rsplit("@", 1)[1]
        version = json.loads((folder / "package.json").read_text())["version"]
        assert version == spec or (spec == "3" and version == "3.2.2"), (host, prefix, version)


@pytest.mark.slow
def test_slow_4g_numbers_are_recorded(book_pages, default_pages):
    slow = json.loads((SHOTS / "slow4g.json").read_text())
    assert set(slow) == {"offline", "default"}
    for variant in slow.values():
        assert set(variant["pages"]) == set(PAGES) and variant["measured"]["commit"]
        assert all(info["firstPaintMs"] > 0 and info["bytes"] > 0 and info["requests"] > 0 for info in variant["pages"].values())
        assert sum(1 for info in variant["pages"].values() if info.get("explorers")) >= 2
    assert any(info.get("cdnRequests") for info in slow["default"]["pages"].values())


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
                        "axe_dark", "phone", "slow4g"}, bad
    assert bad["slow4g"] == ["request to an external host: https://example.com/missing.png"], bad["slow4g"]
    assert any("image-alt" in p for p in bad["axe_light"]) and any("image-alt" in p for p in bad["axe_dark"]), bad
    kinds = sorted(p.split(" wider")[0].split(" shown")[0] for p in bad["layout"])
    assert kinds == ["code", "display math", "figure 1"], bad["layout"]
    assert any("$x^2$" in p for p in bad["math"]), bad["math"]
    assert any("UserWarning" in p for p in bad["outputs"]), bad["outputs"]
    assert any("degree" in p and "did not change" in p for p in bad["static_widgets"]), bad["static_widgets"]
    assert bad["offline"] == ["request to an external host: https://example.com/missing.png"]
    assert any("deliberate console error" in p for p in bad["console"]), bad["console"]
