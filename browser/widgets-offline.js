// Loaded between require.js and the ipywidgets manager (embed-amd.js) in the offline book.
(function () {
  // 1. The manager's bundles load their assets (Font Awesome fonts) relative to the URL that
  //    require.js gives their AMD modules, by default under the page's folder: @jupyter-widgets/ for
  //    the base, controls and html-manager modules, @jupyter-widgets/html-manager/dist/ for
  //    libembed-amd. Point both module paths, and the manager's own assets path, at the folder beside
  //    this file, where `make assets` put the fonts.
  const folder = new URL('html-manager/', document.currentScript.src).href;
  const dir = folder.replace(/\/$/, '');
  window.__jupyter_widgets_assets_path__ = folder;
  window.require.config({ paths: { '@jupyter-widgets': dir, '@jupyter-widgets/html-manager/dist': dir } });

  // 2. html-manager 1.0.6 typesets widget labels with MathJax 2's MathJax.Hub.Queue, but the book
  //    loads MathJax 3 (TypeError: Cannot read properties of undefined (reading 'Queue')). Give it a
  //    Hub.Queue that typesets with MathJax 3, once MathJax has started.
  if (window.MathJax === undefined) return;  // no math on this page: the manager skips typesetting
  const pending = [];
  const typeset = (elements) => window.MathJax.startup.promise.then(() => window.MathJax.typesetPromise(elements));
  const hub = {
    Queue(job) {
      const element = Array.isArray(job) ? job[2] : undefined;
      if (!element) return;
      if (window.MathJax.typesetPromise) typeset([element]); else pending.push(element);
    },
  };
  window.MathJax.Hub = hub;  // while window.MathJax is still the configuration object
  const startup = window.MathJax.startup = window.MathJax.startup || {};
  const ready = startup.ready;
  startup.ready = function () {
    if (ready) ready(); else window.MathJax.startup.defaultReady();
    window.MathJax.Hub = hub;  // MathJax 3 has replaced window.MathJax by now
    if (pending.length) typeset(pending.splice(0));
  };
})();
