// Checks pages of the built book in headless Chromium (playwright-core), fully offline.
//
//   node browser/check_pages.mjs --base http://127.0.0.1:PORT/ --shots DIR --report FILE.json \
//        [--chromium /usr/bin/chromium] [--timeout-ms 60000] [--devices phone,tablet] \
//        [--print PAGE.html,PAGE.html] [--slow4g] [--slow4g-only] \
//        [--cdn-hosts HOST,HOST --cdn-address 127.0.0.1:PORT] [--search WORD,WORD] PAGE.html [PAGE.html ...]
//
// For every page: every request to a host other than localhost is blocked and counted as a failure
// (the offline build must need none); failed local requests, console errors and page errors fail;
// MathJax must have rendered every math element and no raw TeX may be left in the text (code, pre
// and MathJax's own output excepted); every embedded ipywidgets view must be rendered; in every
// static widget (class pntk-static-widget) each range input is moved with the keyboard (Home, End,
// ArrowLeft) and the visible frame (the bytes of its visible images) must change each time, the
// input must have its visible label as its name and announce its value in words (aria-valuetext
// holding the label, not the index), the frame must have alt text and the widget's polite live
// region must announce it; axe-core (WCAG 2.1 A and AA) must find no serious or critical violation,
// in light and in dark mode, after math and widgets have rendered; cell
// outputs must hold no warnings, tracebacks or stderr; the page must not overflow horizontally, no
// code block, output, display equation or table may be wider than the text column (clipped), and no
// figure may be shrunk so far that its text is unreadable.
// Then, per device (phone 390x844, tablet 768x1024, touch): the visible "book contents" button must
// open the table of contents (and the "contents of this page" button the page's contents), no
// inline formula may be clipped, nothing may overflow the page, whatever scrolls sideways must show
// a scroll cue, and every range input of a static widget must give at least 44 px per step and be
// 44 px tall. --print pages: printed to A4 (PDF saved), no code block or equation may be cut at
// the text width, and the learning objectives must be on the first page. --slow4g: every page
// loaded cold under DevTools' Slow 4G (562.5 ms RTT, 1.44 Mbit/s down) must paint its first
// content in under 8 s and show its static explorers in under 15 s (first paint, MathJax typeset, explorers
// ready, load, bytes and requests recorded; a request that fails or leaves the machine fails it).
// --slow4g-only: only that check. --cdn-hosts with --cdn-address: the default build, whose MathJax
// (and widget manager) come from public CDNs: Chromium resolves those hosts to the local HTTPS mirror
// at the address (--host-resolver-rules, its self-signed certificate accepted), so their requests
// go through the browser's network stack and carry the Slow 4G latency and bandwidth like any other
// (Playwright's route.fulfill would bypass the throttling); requests to them are allowed and counted
// apart (cdnRequests, cdnBytes), any other host is still blocked.
// --search: the book's search page is queried for each word; it must list results, and their
// summaries must show the pages' text: no TeX markup (a backslash command, \( or $) and no
// navigation (the summary of a page must not be its "Contents" list).
// A full-page screenshot is saved per page (and of each explorer on a phone, and of the first
// printed page), and a JSON report with one entry per page.
// Exit status: 0 when every page passed, 1 when some check failed, 2 when the driver itself failed.

import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { chromium } from 'playwright-core';

const require = createRequire(import.meta.url);
const AXE_SOURCE = fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
const AXE_TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'];
const AXE_FAIL = new Set(['serious', 'critical']);
const DEVICES = {
  phone: { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 },
  tablet: { viewport: { width: 768, height: 1024 }, isMobile: true, hasTouch: true, deviceScaleFactor: 1 },
};
const MIN_TOUCH = 44;  // px per step of a range input, and its height, on a touch screen
// A4 at 96 px per inch with 12 mm margins: the printed text width and the height of one page
const PRINT_MARGIN = '12mm';
const PRINT_TEXT_WIDTH = Math.floor((210 - 24) / 25.4 * 96);
const PRINT_PAGE_HEIGHT = Math.floor((297 - 24) / 25.4 * 96);
// DevTools' Slow 4G preset and the limits of issue 20
const SLOW_4G = { offline: false, latency: 562.5, downloadThroughput: 1.44e6 / 8, uploadThroughput: 675e3 / 8 };
const FIRST_PAINT_LIMIT_MS = 8000;
const EXPLORER_LIMIT_MS = 15000;

const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const LOCAL_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);
// CDN hosts answered by the local mirror (--cdn-hosts): resolved to 127.0.0.1 by Chromium itself
const CDN_HOSTS = new Set();
const isCdn = (url) => { try { return CDN_HOSTS.has(new URL(url).hostname); } catch (e) { return false; } };
// Console errors from the toolchain itself, not from the book: reported under `ignored`, not failures.
// (None at present: sphinx-thebe 0.3.1's configuration script, inserted twice on every page under
// Sphinx 7.4 -- "Identifier 'THEBE_JS_URL' has already been declared" -- is now inserted once by
// _templates/layout.html.)
const KNOWN_UPSTREAM = [];

function parseArgs(argv) {
  const opts = { chromium: '/usr/bin/chromium', timeoutMs: 60000, pages: [], devices: ['phone', 'tablet'],
    print: [], slow4g: false, slow4gOnly: false, cdnHosts: [], cdnAddress: null, search: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--base') opts.base = argv[++i];
    else if (a === '--shots') opts.shots = argv[++i];
    else if (a === '--report') opts.report = argv[++i];
    else if (a === '--chromium') opts.chromium = argv[++i];
    else if (a === '--timeout-ms') opts.timeoutMs = Number(argv[++i]);
    else if (a === '--devices') opts.devices = argv[++i].split(',').filter(Boolean);
    else if (a === '--print') opts.print = argv[++i].split(',').filter(Boolean);
    else if (a === '--slow4g') opts.slow4g = true;
    else if (a === '--slow4g-only') { opts.slow4g = true; opts.slow4gOnly = true; }
    else if (a === '--cdn-hosts') opts.cdnHosts = argv[++i].split(',').filter(Boolean);
    else if (a === '--cdn-address') opts.cdnAddress = argv[++i];
    else if (a === '--search') opts.search = argv[++i].split(',').filter(Boolean);
    else if (a.startsWith('--')) throw new Error(`unknown option ${a}`);
    else opts.pages.push(a);
  }
  for (const key of ['base', 'shots', 'report']) if (!opts[key]) throw new Error(`--${key} is required`);
  if (!opts.pages.length) throw new Error('no pages given');
  if (opts.cdnHosts.length && !/^127\.0\.0\.1:\d+$/.test(opts.cdnAddress || '')) throw new Error('--cdn-hosts needs --cdn-address 127.0.0.1:PORT');
  for (const h of opts.cdnHosts) CDN_HOSTS.add(h);
  for (const d of opts.devices) if (!DEVICES[d]) throw new Error(`unknown device ${d} (known: ${Object.keys(DEVICES)})`);
  return opts;
}

const isLocal = (url) => {
  const u = new URL(url);
  if (!['http:', 'https:', 'ws:', 'wss:'].includes(u.protocol)) return true;  // data:, blob:, about:
  return LOCAL_HOSTS.has(u.hostname) || CDN_HOSTS.has(u.hostname);
};

// ---- checks that run inside the page -------------------------------------------------------

function rawTexInPage() {
  const problems = [];
  for (const el of document.querySelectorAll('.math')) {
    if (!el.querySelector('mjx-container')) problems.push(`math not rendered: ${el.textContent.trim().slice(0, 80)}`);
  }
  // Text outside code, pre, scripts and MathJax output, joined per block so that TeX split over
  // inline elements is still seen.
  const SKIP = 'script, style, noscript, template, pre, code, kbd, samp, textarea, .highlight, '
    + 'mjx-container, mjx-assistive-mml, math, svg, .math';
  const BLOCK = 'p, li, td, th, dt, dd, h1, h2, h3, h4, h5, h6, caption, figcaption, label, summary, div, section';
  const blocks = new Map();
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const parent = n.parentElement;
    if (!parent || parent.closest(SKIP)) continue;
    const block = parent.closest(BLOCK) || document.body;
    blocks.set(block, (blocks.get(block) || '') + n.data);
  }
  const TEX = /\$\$|\$[^$\s][^$\n]*?\$|\\\(|\\\)|\\\[|\\\]|\\begin\{|\\(?:frac|mathbb|mathrm|sum|int|theta|Theta|lambda|alpha|sigma)\b/;
  for (const text of blocks.values()) {
    const m = TEX.exec(text);
    if (m) problems.push(`raw TeX ${JSON.stringify(m[0])} in: ${text.slice(Math.max(0, m.index - 60), m.index + 60).replace(/\s+/g, ' ').trim()}`);
  }
  return problems;
}

function widgetViewsInPage() {
  const views = [...document.querySelectorAll('script[type="application/vnd.jupyter.widget-view+json"]')];
  const missing = [];
  views.forEach((tag, i) => {
    const prev = tag.previousElementSibling;
    const rendered = prev && prev.classList.contains('widget-subarea') && prev.querySelector('.jupyter-widgets');
    if (!rendered) {
      let id = '?';
      try { id = JSON.parse(tag.textContent).model_id; } catch (e) { /* reported as missing anyway */ }
      missing.push(`view ${i} (model ${id})`);
    }
  });
  return {
    views: views.length,
    missing,
    sliders: document.querySelectorAll('.widget-slider').length,
    staticWidgets: [...document.querySelectorAll('.pntk-static-widget')]
      .filter((el) => !el.parentElement.closest('.pntk-static-widget')).length,
  };
}

function outputProblemsInPage() {
  const problems = [];
  for (const el of document.querySelectorAll('.output.stderr, .stderr')) {
    problems.push(`stderr output: ${el.textContent.trim().slice(0, 120)}`);
  }
  const BAD = /\b[A-Z]\w*Warning\b|Traceback \(most recent call last\)|^WARNING\b|falling back to CPU/m;
  for (const el of document.querySelectorAll('.cell_output, .output')) {
    const text = el.innerText || '';
    const m = BAD.exec(text);
    if (m) problems.push(`output shows ${JSON.stringify(m[0])}: ${text.slice(Math.max(0, m.index - 40), m.index + 100).replace(/\s+/g, ' ').trim()}`);
  }
  return [...new Set(problems)];
}

// Blocks that scroll sideways inside the text column when their content is wider than it: the
// reader sees them cut off at the right edge.
const CLIPPABLE = {
  'code': 'div.highlight pre',
  'output': '.cell_output pre, .output pre',
  'display math': 'mjx-container[display="true"]',
  'table': '.pst-scrollable-table-container, .table-wrapper',
};

// The book's figures use 10 pt text at 110 dpi (pntk.plotting.STYLE), 15 px in the image: a figure
// shown at less than this fraction of its natural width has tick labels below 11 px.
const MIN_FIGURE_SCALE = 0.72;

function layoutInPage({ clippable, minFigureScale }) {
  const width = document.documentElement.clientWidth;
  const overflow = document.documentElement.scrollWidth - width;
  // (images not shown, such as an explorer's other frames, are not figures on the page)
  const figures = [...document.querySelectorAll('.cell_output img, figure img')].filter((img) => img.offsetParent !== null).map((img) => {
    const r = img.getBoundingClientRect();
    return { width: Math.round(r.width), height: Math.round(r.height), natural: [img.naturalWidth, img.naturalHeight] };
  });
  const clipped = [];
  for (const [kind, selector] of Object.entries(clippable)) {
    for (const el of document.querySelectorAll(selector)) {
      if (el.closest('.pntk-static-widget, .widget-area') || el.scrollWidth <= el.clientWidth + 1) continue;
      const text = (el.querySelector('mjx-assistive-mml') || el).textContent.replace(/\s+/g, ' ').trim();
      clipped.push(`${kind} wider than its column (${el.scrollWidth} px in ${el.clientWidth} px): ${text.slice(0, 70)}`);
    }
  }
  for (const [i, f] of figures.entries()) {
    if (f.natural[0] > 0 && f.width / f.natural[0] < minFigureScale) {
      clipped.push(`figure ${i + 1} shown at ${(f.width / f.natural[0]).toFixed(2)} of its width (${f.natural[0]} px in ${f.width} px): its text is too small to read`);
    }
  }
  return { viewport: width, overflow, figures, clipped };
}

async function visibleFrame(el) {
  const imgs = [...el.querySelectorAll('img')].filter((img) => {
    const r = img.getBoundingClientRect();
    return img.offsetParent !== null && r.width > 0 && r.height > 0;
  });
  const out = [];
  for (const img of imgs) {
    const bytes = await (await fetch(img.src)).arrayBuffer();
    const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
    out.push([...digest.slice(0, 8)].map((b) => b.toString(16).padStart(2, '0')).join(''));
  }
  return out.join(',');
}

// ---- driver --------------------------------------------------------------------------------

async function waitForMath(page, timeout) {
  const hasMathJax = await page.evaluate(() => !!document.querySelector('script[src*="mathjax"]'));
  if (!hasMathJax) return;
  await page.waitForFunction(() => window.MathJax && window.MathJax.startup && window.MathJax.startup.promise,
    null, { timeout });
  await page.evaluate(() => window.MathJax.startup.promise);
}

async function waitForWidgets(page, timeout) {
  const deadline = Date.now() + timeout;
  let state = await page.evaluate(widgetViewsInPage);
  while (state.missing.length && Date.now() < deadline) {
    await page.waitForTimeout(250);
    state = await page.evaluate(widgetViewsInPage);
  }
  return state;
}

async function frameAfter(widget, before, timeout) {
  const deadline = Date.now() + timeout;
  let frame = await widget.evaluate(visibleFrame);
  // '' means no visible image yet (the Stack is switching or the PNG is decoding): keep waiting,
  // so that a frame counts as changed only when a different image is actually shown.
  while ((frame === before || frame === '') && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    frame = await widget.evaluate(visibleFrame);
  }
  return frame;
}

// The accessible state of one range input of a static widget and of the widget around it.
function staticInputState(input) {
  const widget = input.closest('.pntk-static-widget');
  const label = input.labels && input.labels.length ? input.labels[0].textContent.trim() : '';
  const visible = [...widget.querySelectorAll('img')].filter((img) => img.offsetParent !== null);
  const live = widget.querySelector('[aria-live="polite"]');
  return {
    label,
    value: input.value,
    valuetext: input.getAttribute('aria-valuetext') || '',
    alt: visible.map((img) => img.getAttribute('alt') || '').join(' | '),
    live: live ? live.textContent.trim() : null,
  };
}

function staticInputProblems(state) {
  const problems = [];
  if (!state.label) problems.push('the slider has no visible label as its name');
  if (!state.valuetext || !state.valuetext.includes(state.label)) {
    problems.push(`the slider announces ${JSON.stringify(state.valuetext || state.value)}, not its label and value`);
  }
  if (!state.alt.trim()) problems.push('the visible frame has no alt text');
  if (state.live === null) problems.push('no polite live region');
  else if (state.live !== state.alt.trim()) problems.push(`the live region says ${JSON.stringify(state.live.slice(0, 80))}, not the frame's description`);
  return problems;
}

async function checkStaticWidgets(page) {
  const results = [];
  const widgets = await page.$$('.pntk-static-widget');
  for (const [w, widget] of widgets.entries()) {
    if (await widget.evaluate((el) => !!el.parentElement.closest('.pntk-static-widget'))) continue;
    const inputs = await widget.$$('input[type="range"]');
    if (!inputs.length) {
      results.push({ widget: w, ok: false, problem: 'no slider in the static widget' });
      continue;
    }
    for (const [s, input] of inputs.entries()) {
      let state = await input.evaluate(staticInputState);
      const entry = { widget: w, slider: s, label: state.label, valuetext: state.valuetext, steps: [], ok: true };
      const problems = staticInputProblems(state);
      await input.scrollIntoViewIfNeeded();
      await input.focus();
      let frame = await widget.evaluate(visibleFrame);
      if (!frame) problems.push('no visible image in the static widget');
      for (const key of ['Home', 'End', 'ArrowLeft']) {
        if (problems.length) break;
        const valueBefore = state.value;
        await page.keyboard.press(key);
        state = await input.evaluate(staticInputState);
        if (state.value === valueBefore) {  // e.g. Home on a slider already at its minimum
          entry.steps.push({ key, value: state.value, moved: false });
          continue;
        }
        const next = await frameAfter(widget, frame, 5000);
        state = await input.evaluate(staticInputState);
        const changed = next !== frame && next !== '';
        entry.steps.push({ key, value: state.value, valuetext: state.valuetext, alt: state.alt, moved: true, frame: next, changed });
        if (next === '') problems.push(`pressing ${key} moved the slider to ${state.value} but no image is visible`);
        else if (!changed) problems.push(`pressing ${key} moved the slider to ${state.value} but the visible frame did not change`);
        problems.push(...staticInputProblems(state).map((p) => `after ${key}: ${p}`));
        frame = next;
      }
      if (!problems.length && !entry.steps.some((st) => st.moved)) problems.push('the slider does not move (Home/End/ArrowLeft)');
      if (problems.length) { entry.ok = false; entry.problem = problems.join('; '); }
      results.push(entry);
    }
  }
  return results;
}

// ---- axe-core --------------------------------------------------------------------------------

async function runAxe(page) {
  if (!(await page.evaluate(() => typeof window.axe !== 'undefined'))) await page.addScriptTag({ content: AXE_SOURCE });
  return page.evaluate(async (tags) => {
    const result = await window.axe.run(document, { runOnly: { type: 'tag', values: tags }, resultTypes: ['violations'] });
    return result.violations.map((v) => ({
      id: v.id, impact: v.impact, help: v.help, count: v.nodes.length,
      targets: v.nodes.slice(0, 4).map((n) => n.target.join(' ')),
      summary: (v.nodes[0] && v.nodes[0].failureSummary || '').replace(/\s+/g, ' ').slice(0, 240),
    }));
  }, AXE_TAGS);
}

async function setColorMode(page, mode) {
  await page.emulateMedia({ colorScheme: mode });
  await page.evaluate((m) => { document.documentElement.dataset.theme = m; document.documentElement.dataset.mode = m; }, mode);
  await page.waitForTimeout(150);
}

function axeCheck(violations) {
  return [violations.filter((v) => AXE_FAIL.has(v.impact))
    .map((v) => `${v.impact} ${v.id} (${v.count}x): ${v.help}; e.g. ${v.targets.slice(0, 2).join(' , ')}; ${v.summary}`),
  violations.map(({ id, impact, count }) => ({ id, impact, count }))];
}

// ---- phones and tablets ------------------------------------------------------------------------

function visibleButton(selector) {
  const buttons = [...document.querySelectorAll(selector)].filter((b) => {
    const r = b.getBoundingClientRect();
    return b.offsetParent !== null && r.width > 0 && r.height > 0 && getComputedStyle(b).visibility !== 'hidden';
  });
  if (!buttons.length) return null;
  buttons[0].setAttribute('data-pntk-probe', selector);
  return selector;
}

// Is one of the links matching `selector` shown: inside the viewport and not covered by something else?
function linksShown(selector) {
  for (const a of document.querySelectorAll(selector)) {
    const r = a.getBoundingClientRect();
    if (r.width <= 0 || r.height <= 0 || r.bottom < 0 || r.top > innerHeight || r.right < 0 || r.left > innerWidth) continue;
    const hit = document.elementFromPoint(r.left + Math.min(r.width / 2, 20), r.top + r.height / 2);
    if (hit && (hit === a || a.contains(hit) || hit.contains(a))) return true;
  }
  return false;
}

function narrowLayoutInPage({ clippable, minTouch }) {
  const problems = [];
  const width = document.documentElement.clientWidth;
  const overflow = document.documentElement.scrollWidth - width;
  if (overflow > 1) problems.push(`page overflows horizontally by ${overflow}px`);
  const text = (el) => (el.querySelector('mjx-assistive-mml') || el).textContent.replace(/\s+/g, ' ').trim().slice(0, 60);
  let inline = 0; let scrolling = 0;
  for (const span of document.querySelectorAll('span.math')) {
    const mjx = span.querySelector('mjx-container');
    if (!mjx) continue;
    inline++;
    const style = getComputedStyle(span);
    const wide = mjx.getBoundingClientRect().width > span.clientWidth + 1;
    if (wide && !['auto', 'scroll'].includes(style.overflowX)) problems.push(`inline formula clipped (${Math.round(mjx.getBoundingClientRect().width)} px shown in ${span.clientWidth} px): ${text(span)}`);
    const r = span.getBoundingClientRect();
    // beyond the page's edge, unless inside something that scrolls sideways (a table, say)
    let scroller = span.parentElement;
    while (scroller && scroller !== document.body && !['auto', 'scroll'].includes(getComputedStyle(scroller).overflowX)) scroller = scroller.parentElement;
    if (r.right > width + 1 && (!scroller || scroller === document.body)) problems.push(`inline formula cut at the page edge: ${text(span)}`);
  }
  const selectors = { ...clippable, 'inline math': 'span.math' };
  for (const [kind, selector] of Object.entries(selectors)) {
    for (const el of document.querySelectorAll(selector)) {
      if (el.closest('.pntk-static-widget, .widget-area') || el.scrollWidth <= el.clientWidth + 1) continue;
      scrolling++;
      const style = getComputedStyle(el);
      if (!['auto', 'scroll'].includes(style.overflowX)) problems.push(`${kind} cut off (${el.scrollWidth} px in ${el.clientWidth} px, overflow ${style.overflowX}): ${text(el)}`);
      else if (!/gradient/.test(style.backgroundImage)) problems.push(`${kind} scrolls sideways with no visible cue: ${text(el)}`);
    }
  }
  // a figure shown much smaller than drawn must open full size on a tap
  for (const img of document.querySelectorAll('figure img, .cell_output img')) {
    if (img.closest('.pntk-static-widget, .widget-area') || !img.naturalWidth) continue;
    const shown = img.getBoundingClientRect().width / img.naturalWidth;
    const link = img.closest('a[href]');
    if (shown < 0.72 && !link) problems.push(`figure shown at ${shown.toFixed(2)} of its width with no link to the full-size image: ${img.getAttribute('src')}`);
  }
  const sliders = [];
  for (const input of document.querySelectorAll('.pntk-static-widget input[type="range"]')) {
    const r = input.getBoundingClientRect();
    const steps = Math.max(1, Number(input.max) - Number(input.min));
    const label = input.labels && input.labels.length ? input.labels[0].textContent.trim() : input.id;
    // step buttons for this input, big enough for a finger, make every value reachable by taps
    const buttons = [...document.querySelectorAll(`button[aria-controls="${input.id}"]`)].filter((b) => {
      const br = b.getBoundingClientRect();
      return b.offsetParent !== null && br.width >= minTouch - 0.5 && br.height >= minTouch - 0.5;
    });
    const stepButtons = buttons.length >= 2;
    sliders.push({ label, width: Math.round(r.width), height: Math.round(r.height), perStep: Math.round(r.width / steps), stepButtons });
    if (!stepButtons && (r.width / steps < minTouch - 0.5 || r.height < minTouch - 0.5)) {
      problems.push(`slider ${label}: ${(r.width / steps).toFixed(1)} px per step, ${Math.round(r.height)} px tall, no step buttons (at least ${minTouch} px each for a finger)`);
    }
  }
  return { problems, info: { viewport: width, inlineMath: inline, scrolling, sliders } };
}

// The narrow checks of one page on each of `devices` in turn: loaded and rendered once with the first
// device's settings (touch, mobile viewport), then resized to each other device.
async function checkNarrow(browser, opts, rel, devices, shots) {
  const first = DEVICES[devices[0]];
  const { context, page, logs } = await openPage(browser, { ...first, deviceScaleFactor: 2 });
  const url = new URL(rel, opts.base).href;
  const results = {};
  let loadProblem = null;
  try {
    await loadAndRender(page, url, opts.timeoutMs);
  } catch (err) {
    loadProblem = `${err.name}: ${err.message.split('\n')[0]}`;
  }
  for (const device of devices) {
    const problems = loadProblem ? [loadProblem] : []; const info = {};
    results[device] = { problems, info };
    if (loadProblem) continue;
    try {
      await page.setViewportSize(DEVICES[device].viewport);
      await page.waitForTimeout(300);
      await narrowChecks(page, rel, device, shots, problems, info);
    } catch (err) {
      problems.push(`${err.name}: ${err.message.split('\n')[0]}`);
    }
  }
  const pageProblems = await closePage(context, page, logs);
  for (const device of devices) {
    const r = results[device];
    r.problems.push(...pageProblems);
    r.ok = r.problems.length === 0;
  }
  return results;
}

async function narrowChecks(page, rel, device, shots, problems, info) {
  const layout = await page.evaluate(narrowLayoutInPage, { clippable: CLIPPABLE, minTouch: MIN_TOUCH });
  problems.push(...layout.problems);
  Object.assign(info, layout.info);
  // the table of contents from the visible "book contents" button, the page's contents from "contents of this page"
  for (const [name, button, links, required] of [
    ['book contents', '.primary-toggle', '.bd-sidebar-primary nav a, #pst-primary-sidebar-modal nav a', true],
    ['contents of this page', '.secondary-toggle', '.bd-sidebar-secondary nav a, #pst-secondary-sidebar-modal nav a', false]]) {
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.evaluate(() => document.querySelectorAll('[data-pntk-probe]').forEach((b) => b.removeAttribute('data-pntk-probe')));
    const probe = await page.evaluate(visibleButton, button);
    if (!probe) {
      if (required) problems.push(`no visible "${name}" button`);
      continue;
    }
    if (await page.evaluate(linksShown, links)) { info[name] = 'shown before the tap'; continue; }
    await page.tap(`[data-pntk-probe="${button}"]`);
    let shown = false;
    for (let i = 0; i < 20 && !shown; i++) {
      await page.waitForTimeout(100);
      shown = await page.evaluate(linksShown, links);
    }
    info[name] = shown ? 'opens on a tap' : 'does nothing';
    if (!shown) problems.push(`the visible "${name}" button does nothing: no link of it is shown after a tap`);
    else if (device === 'phone' && name === 'book contents') {
      await page.screenshot({ path: path.join(shots, `${slug(rel)}__phone-contents.png`) });
    }
    await page.keyboard.press('Escape');
    await page.waitForTimeout(300);
  }
  if (device === 'phone') {
    const explorers = await page.$$('.pntk-static-widget');
    info.explorerShots = [];
    for (const [i, el] of explorers.entries()) {
      const file = path.join(shots, `${slug(rel)}__phone-explorer-${i + 1}.png`);
      await el.scrollIntoViewIfNeeded();
      await el.screenshot({ path: file });
      info.explorerShots.push(file);
    }
  }
}

// ---- print ---------------------------------------------------------------------------------------

function printLayoutInPage({ clippable, textWidth, pageHeight }) {
  const problems = [];
  const text = (el) => (el.querySelector('mjx-assistive-mml') || el).textContent.replace(/\s+/g, ' ').trim().slice(0, 60);
  const main = document.querySelector('main, article, .bd-article') || document.body;
  const left = main.getBoundingClientRect().left;
  for (const [kind, selector] of Object.entries({ ...clippable, 'inline math': 'span.math' })) {
    for (const el of document.querySelectorAll(selector)) {
      const r = el.getBoundingClientRect();
      if (r.width === 0) continue;
      if (getComputedStyle(el).overflowX !== 'visible' && el.scrollWidth > el.clientWidth + 1) problems.push(`${kind} cut when printed (${el.scrollWidth} px in ${el.clientWidth} px): ${text(el)}`);
      else if (r.right > textWidth + 1) problems.push(`${kind} runs past the A4 text width (${Math.round(r.right)} px of ${textWidth} px): ${text(el)}`);
    }
  }
  const objectives = [...document.querySelectorAll('main h1 ~ *, main .admonition-title, main p, main h2')]
    .find((el) => /^\s*learning objectives/i.test(el.textContent));
  const top = objectives ? objectives.getBoundingClientRect().top + scrollY : null;
  if (objectives && top > pageHeight) problems.push(`the learning objectives start ${Math.round(top)} px down, past the first A4 page (${pageHeight} px)`);
  return { problems, info: { left: Math.round(left), objectivesTop: top === null ? null : Math.round(top) } };
}

async function checkPrint(browser, opts, rel, shots) {
  const { context, page, logs } = await openPage(browser, { viewport: { width: PRINT_TEXT_WIDTH, height: PRINT_PAGE_HEIGHT } });
  const url = new URL(rel, opts.base).href;
  const problems = []; let info = {};
  try {
    await loadAndRender(page, url, opts.timeoutMs);
    await page.emulateMedia({ media: 'print' });
    await page.waitForTimeout(300);
    const layout = await page.evaluate(printLayoutInPage, { clippable: CLIPPABLE, textWidth: PRINT_TEXT_WIDTH, pageHeight: PRINT_PAGE_HEIGHT });
    problems.push(...layout.problems);
    info = layout.info;
    info.screenshot = path.join(shots, `${slug(rel)}__print-page-1.png`);
    await page.screenshot({ path: info.screenshot, clip: { x: 0, y: 0, width: PRINT_TEXT_WIDTH, height: PRINT_PAGE_HEIGHT } });
    info.pdf = path.join(shots, `${slug(rel)}.pdf`);
    await page.pdf({ path: info.pdf, format: 'A4', margin: { top: PRINT_MARGIN, bottom: PRINT_MARGIN, left: PRINT_MARGIN, right: PRINT_MARGIN } });
  } catch (err) {
    problems.push(`${err.name}: ${err.message.split('\n')[0]}`);
  }
  problems.push(...(await closePage(context, page, logs)));
  return { ok: problems.length === 0, problems, info };
}

// ---- Slow 4G ---------------------------------------------------------------------------------------

async function checkSlow4g(browser, opts, rel) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const external = []; const failed = [];
  await context.route('**/*', (route) => {
    const u = route.request().url();
    if (isLocal(u)) return route.continue();  // the site, and the CDN hosts that resolve to the mirror
    external.push(u);
    return route.abort('blockedbyclient');
  });
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send('Network.enable');
  await cdp.send('Network.setCacheDisabled', { cacheDisabled: true });
  await cdp.send('Network.emulateNetworkConditions', SLOW_4G);
  let bytes = 0; let requests = 0; let cdnBytes = 0; let cdnRequests = 0;
  const cdnIds = new Set();
  cdp.on('Network.requestWillBeSent', (e) => {
    requests++;
    if (isCdn(e.request.url)) { cdnRequests++; cdnIds.add(e.requestId); }
  });
  cdp.on('Network.loadingFinished', (e) => {
    bytes += e.encodedDataLength;
    if (cdnIds.has(e.requestId)) cdnBytes += e.encodedDataLength;
  });
  page.on('response', (res) => { if (res.status() >= 400) failed.push(`${res.url()}: HTTP ${res.status()}`); });
  const problems = []; const info = {};
  const url = new URL(rel, opts.base).href;
  try {
    await page.goto(url, { waitUntil: 'commit', timeout: 60000 });
    await page.waitForFunction(() => performance.getEntriesByName('first-contentful-paint').length > 0, null, { timeout: 60000, polling: 100 });
    info.firstPaintMs = Math.round(await page.evaluate(() => performance.getEntriesByName('first-contentful-paint')[0].startTime));
    if (info.firstPaintMs >= FIRST_PAINT_LIMIT_MS) problems.push(`first contentful paint after ${info.firstPaintMs} ms (limit ${FIRST_PAINT_LIMIT_MS} ms)`);
    // the explorers are ready when each has run its script and shows its first frame; the page is
    // parsed (readyState no longer 'loading') before its deferred scripts have run
    await page.waitForFunction(() => document.readyState !== 'loading' || document.querySelector('.pntk-static-widget'),
      null, { timeout: 90000, polling: 100 });
    const readyAt = await page.waitForFunction(() => {
      const widgets = document.querySelectorAll('.pntk-static-widget');
      if (!widgets.length) return document.readyState !== 'loading' ? -1 : 0;
      return [...widgets].every((w) => w.dataset.ready === 'true'
        && [...w.querySelectorAll('img')].filter((img) => !img.hidden).every((img) => img.complete && img.naturalWidth > 0))
        ? performance.now() : 0;
    }, null, { timeout: 90000, polling: 100 });
    const readyMs = await readyAt.jsonValue();
    info.explorers = await page.evaluate(() => document.querySelectorAll('.pntk-static-widget').length);
    if (info.explorers) {
      info.explorerReadyMs = Math.round(readyMs);
      if (info.explorerReadyMs >= EXPLORER_LIMIT_MS) problems.push(`explorer shown after ${info.explorerReadyMs} ms (limit ${EXPLORER_LIMIT_MS} ms)`);
    }
    // MathJax (from the site or from the CDN) has typeset the page: its startup promise resolves
    // after the first typesetting pass
    const hasMath = await page.evaluate(() => !!document.querySelector('script[src*="mathjax"]'));
    if (hasMath) {
      await page.waitForFunction(() => window.MathJax && window.MathJax.startup && window.MathJax.startup.promise,
        null, { timeout: 90000, polling: 100 });
      info.mathMs = Math.round(await page.evaluate(() => window.MathJax.startup.promise.then(() => performance.now())));
    }
    await page.waitForLoadState('load', { timeout: 120000 });
    info.loadMs = Math.round(await page.evaluate(() => performance.getEntriesByType('navigation')[0].loadEventEnd));
    await page.waitForTimeout(200);  // requests started by the typesetting (fonts) finish before the count
    if (hasMath) await page.waitForFunction(() => document.fonts.status === 'loaded', null, { timeout: 60000, polling: 100 });
    info.bytes = bytes;
    info.requests = requests;
    if (CDN_HOSTS.size) {
      info.cdnBytes = cdnBytes;
      info.cdnRequests = cdnRequests;
      // the largest CDN file answered by the mirror, as the page timed it (Resource Timing; the
      // mirror sends Timing-Allow-Origin as jsdelivr does): its duration shows the Slow 4G cost
      info.largestCdnFile = await page.evaluate((hosts) => {
        const cdn = performance.getEntriesByType('resource').filter((e) => hosts.includes(new URL(e.name).hostname));
        const e = cdn.sort((a, b) => b.transferSize - a.transferSize)[0];
        return e ? { url: e.name, transferBytes: e.transferSize, ms: Math.round(e.responseEnd - e.startTime) } : null;
      }, [...CDN_HOSTS]);
    }
  } catch (err) {
    problems.push(`${err.name}: ${err.message.split('\n')[0]}`);
  }
  await context.close();
  problems.push(...[...new Set(external)].map((u) => `request to an external host: ${u}`), ...new Set(failed));
  return { ok: problems.length === 0, problems, info };
}

// ---- pages ---------------------------------------------------------------------------------------

const slug = (rel) => rel.replace(/\.html$/, '').replace(/[\/\\]/g, '__');

async function openPage(browser, contextOptions) {
  const context = await browser.newContext(contextOptions);
  const page = await context.newPage();
  const logs = { external: [], failedRequests: [], consoleErrors: [], pageErrors: [] };
  await context.route('**/*', (route) => {
    const u = route.request().url();
    if (isLocal(u)) return route.continue();
    logs.external.push(u);
    return route.abort('blockedbyclient');
  });
  page.on('console', (msg) => { if (msg.type() === 'error') logs.consoleErrors.push(`${msg.text()} (${msg.location().url || ''})`); });
  page.on('pageerror', (err) => logs.pageErrors.push(String(err && err.stack ? err.stack.split('\n')[0] : err)));
  page.on('requestfailed', (req) => {
    if (isLocal(req.url())) logs.failedRequests.push(`${req.url()}: ${req.failure() ? req.failure().errorText : 'failed'}`);
  });
  page.on('response', (res) => {
    if (res.status() >= 400) logs.failedRequests.push(`${res.url()}: HTTP ${res.status()}`);
  });
  return { context, page, logs };
}

async function loadAndRender(page, url, timeout) {
  await page.goto(url, { waitUntil: 'load', timeout });
  const widgets = await waitForWidgets(page, timeout);
  await waitForMath(page, timeout);
  await page.waitForTimeout(300);  // late typesetting of widget labels
  await waitForMath(page, timeout);
  return widgets;
}

// Problems found by the listeners while the page was open (external or failed requests, console errors).
async function closePage(context, page, logs) {
  await page.waitForTimeout(200);  // let late console messages and requests arrive
  await context.close();
  const errors = [...logs.consoleErrors, ...logs.pageErrors.map((e) => `page error: ${e}`)];
  return [...new Set(logs.external)].map((u) => `request to an external host: ${u}`)
    .concat([...new Set(logs.failedRequests)], errors);
}

async function checkPage(browser, opts, rel) {
  const url = new URL(rel, opts.base).href;
  if (opts.slow4gOnly) {
    const slow4g = await checkSlow4g(browser, opts, rel);
    return { page: rel, url, checks: { slow4g }, ok: slow4g.ok };
  }
  const { context, page, logs } = await openPage(browser, { viewport: { width: 1280, height: 900 } });
  const result = { page: rel, url, checks: {} };
  const check = (name, problems, info) => { result.checks[name] = { ok: problems.length === 0, problems, ...(info ? { info } : {}) }; };
  try {
    const widgets = await loadAndRender(page, url, opts.timeoutMs);
    check('widgets', widgets.missing.map((m) => `widget not rendered: ${m}`),
      { views: widgets.views, sliders: widgets.sliders, staticWidgets: widgets.staticWidgets });
    check('math', await page.evaluate(rawTexInPage));
    check('outputs', await page.evaluate(outputProblemsInPage));
    const layout = await page.evaluate(layoutInPage, { clippable: CLIPPABLE, minFigureScale: MIN_FIGURE_SCALE });
    check('layout', [...(layout.overflow > 1 ? [`page overflows horizontally by ${layout.overflow}px`] : []),
      ...layout.clipped], layout);
    fs.mkdirSync(opts.shots, { recursive: true });
    result.screenshot = path.resolve(opts.shots, slug(rel) + '.png');
    await page.screenshot({ path: result.screenshot, fullPage: true });
    const sliders = await checkStaticWidgets(page);
    check('static_widgets', sliders.filter((s) => !s.ok).map((s) => `static widget ${s.widget}, slider ${s.slider ?? '-'} ${s.label || ''}: ${s.problem}`),
      sliders);
    if (widgets.staticWidgets !== new Set(sliders.map((s) => s.widget)).size) {
      result.checks.static_widgets.ok = false;
      result.checks.static_widgets.problems.push('not every static widget was checked');
    }
    for (const mode of ['light', 'dark']) {
      await setColorMode(page, mode);
      check(`axe_${mode}`, ...axeCheck(await runAxe(page)));
    }
  } catch (err) {
    check('load', [`${err.name}: ${err.message.split('\n')[0]}`]);
  }
  const problems = await closePage(context, page, logs);
  const known = (e) => KNOWN_UPSTREAM.some((re) => re.test(e));
  check('offline', problems.filter((p) => p.startsWith('request to an external host')));
  check('requests', problems.filter((p) => /: HTTP \d+$|^http.*: net::/.test(p) && !p.startsWith('request to')));
  const errors = problems.filter((p) => !result.checks.offline.problems.includes(p) && !result.checks.requests.problems.includes(p));
  check('console', errors.filter((e) => !known(e)));
  result.checks.console.ignored = errors.filter(known);
  if (opts.devices.length) Object.assign(result.checks, await checkNarrow(browser, opts, rel, opts.devices, opts.shots));
  if (opts.print.includes(rel)) result.checks.print = await checkPrint(browser, opts, rel, opts.shots);
  if (opts.slow4g) result.checks.slow4g = await checkSlow4g(browser, opts, rel);
  result.ok = Object.values(result.checks).every((c) => c.ok);
  return result;
}

// ---- search ----------------------------------------------------------------------------------------

async function checkSearch(browser, opts, word) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  await context.route('**/*', (route) => (isLocal(route.request().url()) ? route.continue() : route.abort('blockedbyclient')));
  const page = await context.newPage();
  const problems = [];
  let snippets = [];
  try {
    await page.goto(new URL(`search.html?q=${encodeURIComponent(word)}`, opts.base).href, { timeout: opts.timeoutMs });
    // Sphinx fills the summaries in one by one, after fetching each page; the status line says when it is done
    await page.waitForFunction(() => /Search finished|did not match/.test(document.querySelector('#search-results')?.textContent || ''),
      null, { timeout: opts.timeoutMs });
    await page.waitForFunction(() => [...document.querySelectorAll('#search-results ul.search li')]
      .every((li) => li.querySelector('p.context')), null, { timeout: opts.timeoutMs }).catch(() => {});
    snippets = await page.$$eval('#search-results ul.search li p.context', (ps) => ps.map((p) => p.textContent.trim()));
  } catch (err) {
    problems.push(`search page failed: ${err.message.split('\n')[0]}`);
  }
  if (!snippets.length && !problems.length) problems.push('no result with a summary');
  for (const text of snippets) {
    if (/\\[A-Za-z()[\]]|\$/.test(text)) problems.push(`TeX in a summary: ${text.slice(0, 160)}`);
    if (/^\.*\s*Contents\b/.test(text)) problems.push(`a summary shows the page's contents list: ${text.slice(0, 160)}`);
  }
  await context.close();
  return { word, ok: problems.length === 0, problems, snippets };
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  // the CDN hosts resolve to the local mirror, whose self-signed certificate is accepted
  const cdnArgs = opts.cdnHosts.length ? [`--host-resolver-rules=${opts.cdnHosts.map((h) => `MAP ${h} ${opts.cdnAddress}`).join(', ')}`,
    '--ignore-certificate-errors'] : [];
  const browser = await chromium.launch({ executablePath: opts.chromium, headless: true, args: [...CHROMIUM_ARGS, ...cdnArgs] });
  const started = Date.now();
  const pages = []; const searches = [];
  try {
    for (const rel of opts.pages) {
      const t0 = Date.now();
      const result = await checkPage(browser, opts, rel);
      result.seconds = (Date.now() - t0) / 1000;
      pages.push(result);
      const failed = Object.entries(result.checks).filter(([, c]) => !c.ok).map(([k]) => k);
      console.log(`${result.ok ? 'ok  ' : 'FAIL'} ${rel} (${result.seconds.toFixed(1)} s)${failed.length ? ': ' + failed.join(', ') : ''}`);
    }
    for (const word of opts.search) {
      const result = await checkSearch(browser, opts, word);
      searches.push(result);
      console.log(`${result.ok ? 'ok  ' : 'FAIL'} search "${word}": ${result.snippets.length} results${result.ok ? '' : ': ' + result.problems.join('; ')}`);
    }
  } finally {
    await browser.close();
  }
  const report = { base: opts.base, chromium: opts.chromium, seconds: (Date.now() - started) / 1000, pages, searches };
  fs.mkdirSync(path.dirname(path.resolve(opts.report)), { recursive: true });
  fs.writeFileSync(opts.report, JSON.stringify(report, null, 2));
  return pages.every((p) => p.ok) && searches.every((r) => r.ok) ? 0 : 1;
}

main().then((code) => process.exit(code), (err) => { console.error(err); process.exit(2); });
