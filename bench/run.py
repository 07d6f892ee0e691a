"""Benchmarks of the PNTK Book (issue 10): `make bench`, or `.venv/bin/python bench/run.py [--quick] [--book] [--large]`.

Prints a table, writes the same results to bench/results/latest.json (+ one CSV row per
measurement) and regenerates BENCHMARKS.md from them. Sections:

  kernels    exact PNN NTK (pntk) vs neural-tangents' kernel_fn (jit-compiled) vs the empirical
             NTK at width 1024; one fresh subprocess per case, so peak memory is the growth of the
             process's peak RSS (ru_maxrss) over its value after imports and data creation
  spectrum   Funk-Hecke eigenvalues vs eigendecomposition of an n-point Gram matrix
  widgets    one slider change of each widget of pntk.widgets.BENCH_CASES, JIT warm
  training   the spectral-bias chapter's linearised dynamics (closed form) and gradient descent
  chapters   per-chapter execution time (tests/chapters.py, a fresh kernel each)
  binder     Binder's limits (1 CPU, 2 GB): each chapter in a fresh process pinned to one CPU (its
             kernel inherits the affinity): wall time, the kernel's CPU time and the kernel's peak
             RSS (getrusage(RUSAGE_CHILDREN) after the kernel exits); both live explorers' update
             latency on one CPU. `--chapters book/a.md ...` measures only those chapters and keeps
             the other chapters' rows of the previous run (each row has its own date and commit)
  book       (--book) full jupyter-book build of a /tmp copy, cold and with the cache warm
  large      (--large) pntk.blocked Gram matrix of n = 20000, time and peak RSS
  slow4g     (--only slow4g) every page loaded cold under DevTools' Slow 4G in headless Chromium,
             offline variant and default build (CDN requests answered by a local mirror with the
             same throttling): first paint, MathJax typeset, explorers ready, load, page weight and
             requests. Measured by the browser tests (tests/test_browser.py, which fail a page at
             8 s first paint or 15 s explorer); this section copies their _build/screenshots/slow4g.json,
             with when, where and at which commit it was measured, into the results

Timings are medians over repeats after a warm-up call; the warm-up's extra time over the
median is reported as compile time. Sections not run this time are carried over from the
previous results file (marked with their date). Tests never assert timings.
"""

from __future__ import annotations

import argparse
import csv
import datetime
import json
import os
import pathlib
import platform
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
PYTHON = sys.executable
EMPIRICAL_WIDTH = 1024
DIM = 10
TARGETS = {
    "kernel_vs_nt": 5.0,          # exact kernel at least 5x faster than nt's kernel_fn
    "kernel_vs_empirical": 50.0,  # ... and 50x faster than the empirical NTK at width 1024
    "widget_s": 0.25,             # median widget update
    "chapter_s": 60.0,            # each chapter
    "cold_build_s": 600.0,        # full cold build
}


# ----------------------------------------------------------------------------
# machine
# ----------------------------------------------------------------------------

def _cpu_model() -> str:
    try:
        for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _mem_total_gb() -> float | None:
    try:
        for line in pathlib.Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                return round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    return None


def machine_info() -> dict:
    import jax
    import numpy as np
    import scipy
    from importlib.metadata import version

    def ver(name):
        try:
            return version(name)
        except Exception:
            return None

    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count()
    return {
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "commit": git_commit(),
        "cpu_model": _cpu_model(),
        "cores_available": cores,
        "cpu_count": os.cpu_count(),
        "memory_gb": _mem_total_gb(),
        "load_average_1_5_15": [round(v, 2) for v in os.getloadavg()],
        "platform": platform.platform(),
        "python": platform.python_version(),
        "jax": jax.__version__,
        "jaxlib": ver("jaxlib"),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "neural_tangents": ver("neural-tangents"),
        "jupyter_book": ver("jupyter-book"),
        "jax_devices": [str(d) for d in jax.devices()],
        "XLA_FLAGS": os.environ.get("XLA_FLAGS"),
        "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS"),
    }


# ----------------------------------------------------------------------------
# timing helpers
# ----------------------------------------------------------------------------

def _block(value):
    import jax
    return jax.block_until_ready(value)


def timed(fn, repeats: int) -> dict:
    """Warm-up call (compile + run), then ``repeats`` timed calls: median, min, and compile = warm-up - median."""
    start = time.perf_counter()
    _block(fn())
    first = time.perf_counter() - start
    repeats = min(repeats, max(2, int(30 / max(first, 1e-9))))  # slow cases: fewer repeats
    times, cpu = [], []
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        _block(fn())
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    med = statistics.median(times)
    # CPU time of the process (all its threads): less sensitive than wall time to other jobs on a shared machine
    return {"median_s": med, "min_s": min(times), "median_cpu_s": statistics.median(cpu), "first_call_s": first,
            "compile_s": max(first - med, 0.0), "repeats": repeats}


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: kB


# ----------------------------------------------------------------------------
# one kernel case, run in a fresh subprocess (`run.py --case METHOD N DEGREE REPEATS`)
# ----------------------------------------------------------------------------

def kernel_case(method: str, n: int, degree: int, repeats: int) -> dict:
    import jax
    import pntk
    from pntk import data, kernels, models, reference

    x = data.sphere(jax.random.key(0), n, DIM)
    if method == "pntk":
        def fn():
            return kernels.pnn_ntk(x, None, degree)
    elif method == "nt":
        _, _, kernel_fn = reference.pnn_stax(degree, 1, DIM)
        jitted = jax.jit(kernel_fn, static_argnames="get")
        import warnings
        warnings.filterwarnings("ignore")

        def fn():
            return jitted(x, x, "ntk")
    elif method == "nt_eager":  # kernel_fn called as it comes (pntk.reference.pnn_kernel_nt does this)
        _, _, kernel_fn = reference.pnn_stax(degree, 1, DIM)
        import warnings
        warnings.filterwarnings("ignore")

        def fn():
            return kernel_fn(x, x, "ntk")
    elif method == "empirical":
        init_fn, apply_fn = models.pnn(degree, EMPIRICAL_WIDTH)
        params = init_fn(jax.random.key(1), DIM)

        def fn():
            return kernels.empirical_ntk(apply_fn, params, x)
    else:
        raise ValueError(f"unknown method {method!r}")
    base = _rss_mb()
    result = timed(fn, repeats)
    result["peak_rss_delta_mb"] = _rss_mb() - base
    result["baseline_rss_mb"] = base
    del pntk
    return result


def _subprocess_json(args: list[str], timeout: float, env: dict | None = None) -> dict:
    try:
        proc = subprocess.run([PYTHON, str(pathlib.Path(__file__).resolve()), *args], capture_output=True,
                              text=True, timeout=timeout, cwd=ROOT, env={**os.environ, **(env or {})})
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    lines = [l for l in proc.stdout.splitlines() if l.startswith("{")]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        return {"error": f"exit {proc.returncode}: {' | '.join(tail)}"}
    return json.loads(lines[-1])


def section_kernels(quick: bool, log) -> dict:
    ns = (256, 1024) if quick else (256, 1024, 4096, 8192)
    degrees = (1, 3) if quick else (1, 3, 9)
    rows = []
    measured = {}
    for degree in degrees:
        for n in ns:
            for method in ("pntk", "nt", "nt_eager", "empirical"):
                row = {"n": n, "degree": degree, "method": method}
                reason = None
                if method == "nt_eager" and n > 1024:
                    reason = ("skipped: neural-tangents' kernel_fn without jit dispatches every operation "
                              "separately; time estimated as the n = 1024 median times (n/1024)^2")
                    ref = measured.get(("nt_eager", 1024, degree))
                    if ref:
                        row["estimated_median_s"] = ref["median_s"] * (n / 1024) ** 2
                if method == "empirical" and n > 1024:
                    reason = ("skipped: the n^2 * P Jacobian contraction (P = degree * width * d + width "
                              "parameters) would take minutes; time estimated as the n = 1024 median "
                              "times (n/1024)^2")
                    ref = measured.get(("empirical", 1024, degree))
                    if ref:
                        row["estimated_median_s"] = ref["median_s"] * (n / 1024) ** 2
                if method == "nt" and n > 4096:
                    reason = ("skipped: neural-tangents' kernel_fn keeps many n x n intermediates; time "
                              "and memory estimated as the n = 4096 values times 4")
                    ref = measured.get(("nt", 4096, degree))
                    if ref:
                        row["estimated_median_s"] = ref["median_s"] * 4
                        row["estimated_peak_rss_delta_mb"] = ref["peak_rss_delta_mb"] * 4
                if reason:
                    row["skipped"] = reason
                    rows.append(row)
                    continue
                repeats = 5 if n <= 1024 else 3
                res = _subprocess_json(["--case", method, str(n), str(degree), str(repeats)], timeout=900)
                row.update(res)
                if "median_s" in res:
                    measured[(method, n, degree)] = res
                rows.append(row)
                log(f"  kernels  n={n:5d} degree={degree} {method:9s} "
                    + (f"median {res['median_s']:.4f} s, compile {res['compile_s']:.2f} s, "
                       f"peak RSS +{res['peak_rss_delta_mb']:.0f} MB" if "median_s" in res else res.get("error", "")))
    ratios = []
    for degree in degrees:
        for n in ns:
            p = measured.get(("pntk", n, degree))
            if not p:
                continue
            r = {"n": n, "degree": degree}
            for other in ("nt", "nt_eager", "empirical"):
                o = measured.get((other, n, degree))
                est = next((row.get("estimated_median_s") for row in rows
                            if row["method"] == other and row["n"] == n and row["degree"] == degree), None)
                if o:
                    r[f"speedup_vs_{other}"] = o["median_s"] / p["median_s"]
                    r[f"cpu_speedup_vs_{other}"] = o["median_cpu_s"] / p["median_cpu_s"]
                elif est:
                    r[f"speedup_vs_{other}_estimated"] = est / p["median_s"]
            ratios.append(r)
    return {"dim": DIM, "empirical_width": EMPIRICAL_WIDTH, "rows": rows, "ratios": ratios}


# ----------------------------------------------------------------------------
# in-process sections
# ----------------------------------------------------------------------------

def section_spectrum(quick: bool, log) -> dict:
    import jax
    import numpy as np
    from pntk import data, frequency, kernels, spectra

    dim, max_k = 3, 60
    rows = []
    for degree in (1, 4):
        fh = timed(lambda: frequency.pnn_spectrum(degree, dim, max_k), 3)
        rows.append({"method": "funk_hecke", "degree": degree, "dim": dim, "max_k": max_k, **fh})
        log(f"  spectrum Funk-Hecke degree={degree} max_k={max_k}: {fh['median_s']:.4f} s")
        for n in ((1000,) if quick else (1000, 2000, 4000)):
            x = data.sphere(jax.random.key(0), n, dim)
            kern = timed(lambda: kernels.pnn_ntk(x, None, degree), 3)
            k = np.asarray(kernels.pnn_ntk(x, None, degree))
            eig = timed(lambda: spectra.gram_eigenvalues(k), 1 if n > 2000 else 3)
            rows.append({"method": "gram_eigh", "degree": degree, "dim": dim, "n": n,
                         "kernel_median_s": kern["median_s"], "eigh_median_s": eig["median_s"],
                         "median_s": kern["median_s"] + eig["median_s"]})
            log(f"  spectrum Gram n={n} degree={degree}: kernel {kern['median_s']:.3f} s + eigh {eig['median_s']:.3f} s")
    return {"rows": rows}


def section_widgets(quick: bool, log) -> dict:
    """Each widget's latency in a fresh process, with single-threaded OpenBLAS (as the chapters set it) and with the default."""
    out = {}
    for label, env in (("OPENBLAS_NUM_THREADS=1", {"OPENBLAS_NUM_THREADS": "1"}),
                       ("OpenBLAS default threads", {})):
        res = _subprocess_json(["--widgets-case", "1" if quick else "0"], timeout=1800, env=env)
        if "error" in res or "skipped" in res:
            return res if "skipped" in res else {"skipped": f"widget benchmark failed: {res['error']}"}
        for name, r in res["widgets"].items():
            log(f"  widget {name} [{label}]: median {r['median_s']:.3f} s, max {r['max_s']:.3f} s "
                f"over {r['settings']} settings; cache hit {r['cache_hit_median_s']:.4f} s")
        out[label] = res["widgets"]
    first = next(iter(out))
    setters = sorted(p.name for p in (ROOT / "book").glob("*.md") if "OPENBLAS_NUM_THREADS" in p.read_text())
    ratios = ", ".join(f"{name} {out[first][name]['median_s']:.3f} s vs {r['median_s']:.3f} s"
                       for name, r in out["OpenBLAS default threads"].items())
    return {"widgets": out[first], "by_blas_setting": out,
            "note": (f"Chapters that set OPENBLAS_NUM_THREADS=1 before importing numpy: {', '.join(setters) or 'none'}. "
                     f"Median first-visit latency with one OpenBLAS thread vs the default threads: {ratios} "
                     "(the spectrum widget's eigendecompositions suffer from BLAS threads competing for 2 loaded cores).")}


def widgets_case(quick: bool) -> dict:
    try:
        from pntk import widgets
    except Exception as err:  # the widgets module is another engineer's work in progress
        return {"skipped": f"pntk.widgets could not be imported ({type(err).__name__}: {err})"}
    cases = getattr(widgets, "BENCH_CASES", None)
    if not cases:
        return {"skipped": "pntk.widgets has no BENCH_CASES"}
    out = {}
    for name, (fn, kwargs_list) in cases.items():
        kwargs_list = kwargs_list[::3] if quick else kwargs_list  # quick: a spread subset
        for kw in kwargs_list:  # warm-up: every compiled program of these settings
            fn(**kw)
        widgets.cache_clear()
        first_visit, first_visit_cpu = [], []
        for kw in kwargs_list:  # each setting's first visit (results of earlier settings cached, as live)
            start, start_cpu = time.perf_counter(), time.process_time()
            fn(**kw)
            first_visit.append(time.perf_counter() - start)
            # CPU time of the process, all its threads: on one CPU of its own, the latency; other jobs'
            # turns on a shared CPU add to the wall time but not to this
            first_visit_cpu.append(time.process_time() - start_cpu)
        repeat = []
        for kw in kwargs_list:  # a setting seen before: cache hit
            start = time.perf_counter()
            fn(**kw)
            repeat.append(time.perf_counter() - start)
        cold = []
        for kw in kwargs_list[: min(6, len(kwargs_list))]:  # worst case: every cache of the module cleared
            widgets.cache_clear()
            start = time.perf_counter()
            fn(**kw)
            cold.append(time.perf_counter() - start)
        slowest = max(range(len(kwargs_list)), key=lambda i: first_visit[i])
        out[name] = {"settings": len(kwargs_list), "median_s": statistics.median(first_visit),
                     "max_s": max(first_visit), "median_cpu_s": statistics.median(first_visit_cpu),
                     "max_cpu_s": max(first_visit_cpu), "slowest_setting": {k: str(v) for k, v in kwargs_list[slowest].items()},
                     "cache_hit_median_s": statistics.median(repeat),
                     "all_caches_cleared_median_s": statistics.median(cold)}
    return {"widgets": out}


def section_training(quick: bool, log) -> dict:
    """The learning-speed chapter's settings (book/learning_speed.md): n = 1000, d = 10, 30 000 steps; GD n = 200, width 1024."""
    import jax
    import numpy as np
    from pntk import data, frequency, kernels, models, training

    rows = []
    n, d, harmonics = 1000, 10, (1, 3, 4, 5, 8, 12)
    x = data.sphere(jax.random.key(2), n, d)
    target = data.zonal_harmonic_target(jax.random.key(3), d, harmonics)
    y, proj = np.asarray(target(x)), np.asarray(target.projections(x))
    steps = np.unique(np.concatenate([[0], np.geomspace(1, 30_000, 80).astype(int)]))
    k = np.asarray(kernels.pnn_ntk(x, None, 3))
    res = timed(lambda: frequency.projection_dynamics(k, y, proj, [0.0016], steps), 3)
    rows.append({"loop": "linearised dynamics, closed form (frequency.projection_dynamics)", "n": n,
                 "steps": int(steps[-1]), "evaluated_steps": int(steps.size), **res,
                 "steps_per_s": steps[-1] / res["median_s"]})
    log(f"  training linearised n={n}: {res['median_s']:.3f} s for {steps[-1]} steps")
    res = timed(lambda: training.linearized_dynamics(k, y, learning_rate=0.0016, steps=steps).train_predictions, 3)
    rows.append({"loop": "linearised dynamics, closed form (training.linearized_dynamics)", "n": n,
                 "steps": int(steps[-1]), "evaluated_steps": int(steps.size), **res,
                 "steps_per_s": steps[-1] / res["median_s"]})
    n_gd, width, gd_steps = 200, 1024, 100 if quick else 300
    xg, yg = x[:n_gd], target(x[:n_gd])
    pg = target.projections(xg)
    for degree in (1, 3):
        init_fn, apply_fn = models.pnn(degree, width)
        params = init_fn(jax.random.key(20 + degree), d)
        res = timed(lambda: training.train(apply_fn, params, xg, yg, learning_rate=0.01, steps=gd_steps,
                                           record_every=20, projections=pg).loss, 3)
        rows.append({"loop": f"gradient descent (training.train), degree {degree}, width {width}", "n": n_gd,
                     "steps": gd_steps, **res, "steps_per_s": gd_steps / res["median_s"]})
        log(f"  training GD degree={degree}: {gd_steps / res['median_s']:.0f} steps/s, compile {res['compile_s']:.1f} s")
    return {"rows": rows}


def section_profile(quick: bool, log) -> dict:
    """Where the exact kernel's time goes (n = 2048, d = 10): CPU-time minima of its parts, and neural-tangents'."""
    import functools
    import warnings

    import jax
    import jax.numpy as jnp
    import numpy as np
    from pntk import _acos, data, kernels, reference

    warnings.filterwarnings("ignore")
    n = 1024 if quick else 2048
    x = data.sphere(jax.random.key(0), n, DIM)
    cos = jnp.clip(x @ x.T, -1.0, 1.0)
    cos_np = np.asarray(cos)

    def cpu_min(fn, repeats=7):
        _block(fn())
        best = float("inf")
        for _ in range(repeats):
            start = time.process_time()
            _block(fn())
            best = min(best, time.process_time() - start)
        return best

    @functools.partial(jax.jit, static_argnames=("degree",))
    def static_degree(x, degree):
        return kernels._pnn_from_inputs(kernels.inputs(x, x), degree, True, "relu").ntk

    @jax.jit
    def matmul_kernel(x, degree):
        # the kernel as before the fused inner products: x x^T from a matmul, written to memory
        k = kernels.inputs(x, x)
        dot = x @ x.T
        k = k._replace(nngp=dot, ntk=dot)
        return kernels._pnn_from_inputs(k, degree, True, "relu").ntk

    acos_rational, acos_xla = jax.jit(_acos.arccos), jax.jit(jnp.arccos)
    rows = {
        "one elementwise pass over an n x n array (K + 1)": cpu_min(lambda: jax.jit(lambda c: c + 1.0)(cos)),
        "inner products x x^T (matmul)": cpu_min(lambda: jax.jit(lambda x: x @ x.T)(x)),
        "arccos, pntk rational (jit)": cpu_min(lambda: acos_rational(cos)),
        "arccos, jnp.arccos (jit)": cpu_min(lambda: acos_xla(cos)),
        "arccos, numpy": cpu_min(lambda: np.arccos(cos_np)),
        "symmetrise pass 0.5 (K + K^T) (only where n % 16 != 0 or d > 32)":
            cpu_min(lambda: kernels._symmetrize(cos)),
    }
    for degree in (1, 3):
        _, _, kernel_fn = reference.pnn_stax(degree, 1, DIM)
        nt_jit = jax.jit(kernel_fn, static_argnames="get")
        rows[f"degree {degree}: pntk.kernels.pnn_ntk (public: checks + kernel)"] = \
            cpu_min(lambda: kernels.pnn_ntk(x, None, degree))
        rows[f"degree {degree}: fused kernel, traced degree (one compile for all degrees)"] = \
            cpu_min(lambda: kernels._pnn_kernel_jit(x, x, degree, True, "relu", False, "ntk"))
        rows[f"degree {degree}: the same kernel with x x^T from a matmul"] = \
            cpu_min(lambda: matmul_kernel(x, degree))
        rows[f"degree {degree}: fused kernel, static degree (one compile per degree)"] = \
            cpu_min(lambda: static_degree(x, degree))
        rows[f"degree {degree}: neural-tangents kernel_fn (jit)"] = cpu_min(lambda: nt_jit(x, x, "ntk"))
    for name, value in rows.items():
        log(f"  profile n={n} {name}: {value * 1e3:.1f} ms CPU")
    return {"n": n, "cpu_s": rows}


def section_chapters(quick: bool, log) -> dict:
    sys.path.insert(0, str(ROOT / "tests"))
    import chapters  # tests/chapters.py: executes a chapter as the build does

    rows = []
    for path in chapters.toc_chapters():
        if not chapters.is_notebook(path):
            continue
        try:
            seconds = chapters.execute(path)
            rows.append({"chapter": path.relative_to(ROOT).as_posix(), "seconds": seconds})
            log(f"  chapter {path.name}: {seconds:.1f} s")
        except Exception as err:
            rows.append({"chapter": path.relative_to(ROOT).as_posix(), "error": f"{type(err).__name__}: {str(err)[:200]}"})
            log(f"  chapter {path.name}: FAILED {type(err).__name__}")
    return {"rows": rows}


# ----------------------------------------------------------------------------
# Binder's limits: one CPU, 2 GB of memory
# ----------------------------------------------------------------------------

BINDER_MEMORY_MB = 2048        # a mybinder.org session: 2 GB for the whole container ...
BINDER_KERNEL_BUDGET_MB = 1536  # ... of which a chapter's kernel may use 75 % (the Jupyter server
                                # and the rest of the container need the remainder)
CHAPTER_SUBSET: list[str] | None = None  # --chapters: measure only these


def git_commit() -> str | None:
    """The commit the benchmarked tree is at (``git rev-parse HEAD``), or None outside a checkout."""
    try:
        proc = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return proc.stdout.strip() or None


def _changed_since_commit(path: pathlib.Path) -> bool | None:
    """Whether the chapter ``path``, the library or the environment differ from the commit (then the
    row measured uncommitted code)."""
    try:
        proc = subprocess.run(["git", "status", "--porcelain", "--", str(path), "lib/pntk", "requirements.txt",
                               "postBuild"], cwd=ROOT, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return bool(proc.stdout.strip()) if proc.returncode == 0 else None


def one_cpu() -> int:
    """Pin this process (and every process it starts, e.g. a Jupyter kernel) to one CPU, as
    ``taskset -c`` does; returns the CPU. XLA and OpenBLAS size their thread pools from the affinity."""
    cpu = min(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cpu})
    return cpu


def chapter_case(path: str) -> dict:
    """Execute one chapter in this (fresh) process as the build does (tests/chapters.py). The Jupyter
    kernel is this process's child: once nbclient has shut it down and reaped it,
    getrusage(RUSAGE_CHILDREN) holds its peak RSS and CPU time."""
    sys.path.insert(0, str(ROOT / "tests"))
    import chapters

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    seconds = chapters.execute(pathlib.Path(path).resolve())
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {"seconds": seconds, "kernel_peak_mb": after.ru_maxrss / 1024,  # Linux: kB
            "kernel_cpu_s": (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime),
            "client_peak_mb": _rss_mb(), "cpus": sorted(os.sched_getaffinity(0))}


def section_binder(quick: bool, log) -> dict:
    sys.path.insert(0, str(ROOT / "tests"))
    import chapters

    commit, date = git_commit(), datetime.datetime.now().isoformat(timespec="seconds")
    toc = [p for p in chapters.toc_chapters() if chapters.is_notebook(p)]
    if CHAPTER_SUBSET is not None:
        wanted = {(ROOT / c).resolve() for c in CHAPTER_SUBSET}
        toc = [p for p in toc if p.resolve() in wanted]
    rows = []
    for path in toc:
        rel = path.relative_to(ROOT).as_posix()
        res = _subprocess_json(["--one-cpu", "--chapter-case", rel], timeout=1800)
        if "error" in res:  # the kernel's traceback comes with terminal colours
            res["error"] = re.sub(r"\x1b\[[0-9;]*m", "", res["error"])
        row = {"chapter": rel, "date": date, "commit": commit, "changed_since_commit": _changed_since_commit(path),
               **res}
        rows.append(row)
        log(f"  binder chapter {path.name} on one CPU: " + (
            f"{res['seconds']:.1f} s, kernel CPU {res['kernel_cpu_s']:.1f} s, kernel peak {res['kernel_peak_mb']:.0f} MB"
            if "seconds" in res else f"FAILED {res.get('error', '')}"))
    explorers = _subprocess_json(["--one-cpu", "--widgets-case", "1" if quick else "0"], timeout=1800)
    if "widgets" in explorers:
        explorers = {name: {k: v for k, v in r.items()} for name, r in explorers["widgets"].items()}
        for name, r in explorers.items():
            log(f"  binder explorer {name} on one CPU: median {r['median_s']:.3f} s, max {r['max_s']:.3f} s "
                f"(CPU time: median {r['median_cpu_s']:.3f} s, max {r['max_cpu_s']:.3f} s)")
    elif "error" in explorers:
        explorers = {"skipped": f"explorer benchmark failed: {explorers['error']}"}
    return {"rows": rows, "explorers": explorers, "explorers_date": date, "explorers_commit": commit,
            "memory_limit_mb": BINDER_MEMORY_MB, "kernel_budget_mb": BINDER_KERNEL_BUDGET_MB,
            "cpu_model": _cpu_model(), "subset": CHAPTER_SUBSET}


def merge_binder_rows(new: dict, old: dict | None) -> dict:
    """A run of some chapters (--chapters) keeps the previous rows of the others, each with its own
    date and commit; rows of chapters no longer in the table of contents are dropped."""
    if not old or new.get("subset") is None:
        return new
    sys.path.insert(0, str(ROOT / "tests"))
    import chapters

    toc = [p.relative_to(ROOT).as_posix() for p in chapters.toc_chapters() if chapters.is_notebook(p)]
    measured = {r["chapter"] for r in new["rows"]}
    kept = [r for r in old.get("rows", []) if r["chapter"] not in measured and r["chapter"] in toc]
    order = {c: i for i, c in enumerate(toc)}
    new["rows"] = sorted(new["rows"] + kept, key=lambda r: order.get(r["chapter"], len(order)))
    return new


def section_book(quick: bool, log) -> dict:
    """Full build of a /tmp copy (never the shared _build): cold, then again with the execution cache warm."""
    jb = pathlib.Path(PYTHON).parent / "jupyter-book"
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="pntk-bench-book-"))
    try:
        ignore = shutil.ignore_patterns(".venv", "_build", "_build_student", ".git", "node_modules", "bench",
                                        ".pytest_cache", "__pycache__")
        shutil.copytree(ROOT, tmp / "book", ignore=ignore)
        out = {}
        for label in ("cold", "warm"):
            start = time.perf_counter()
            proc = subprocess.run([str(jb), "build", "-W", "-n", "--keep-going", str(tmp / "book")],
                                  capture_output=True, text=True)
            out[f"{label}_s"] = time.perf_counter() - start
            out[f"{label}_exit"] = proc.returncode
            log(f"  book build {label}: {out[f'{label}_s']:.0f} s (exit {proc.returncode})")
            if proc.returncode:
                out[f"{label}_tail"] = proc.stdout[-1500:] + proc.stderr[-1500:]
                break
        return out
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def large_case(n: int, block_size: int, dtype: str) -> dict:
    import jax
    import pntk
    from pntk import blocked, data

    x = data.sphere(jax.random.key(0), n, DIM)
    base = _rss_mb()
    start = time.perf_counter()
    k = blocked.pnn_ntk_blocked(x, None, 3, block_size=block_size, dtype=dtype)
    seconds = time.perf_counter() - start
    del pntk
    return {"n": n, "degree": 3, "block_size": block_size, "dtype": dtype, "seconds": seconds,
            "result_mb": k.nbytes / 2**20, "peak_rss_delta_mb": _rss_mb() - base, "baseline_rss_mb": base,
            "symmetric": bool(k[0, -1] == k[-1, 0])}


SLOW4G_FILE = ROOT / "_build" / "screenshots" / "slow4g.json"
SLOW4G_LIMITS_MS = {"first_paint": 8000, "explorer": 15000}  # issue 20; tests/test_browser.py enforces them


def section_slow4g(quick: bool, log) -> dict:
    """The Slow 4G numbers of the last browser-test run (both variants), with their provenance."""
    if not SLOW4G_FILE.exists():
        raise SystemExit(f"{SLOW4G_FILE} not found: run the browser tests first "
                         "(.venv/bin/python -m pytest tests/test_browser.py)")
    data = json.loads(SLOW4G_FILE.read_text())
    missing = [v for v in ("offline", "default") if v not in data]
    if missing:
        raise SystemExit(f"{SLOW4G_FILE} has no {', '.join(missing)} variant: run the whole of tests/test_browser.py")
    for variant, d in data.items():
        fp = max(i["firstPaintMs"] for i in d["pages"].values())
        ex = [i["explorerReadyMs"] for i in d["pages"].values() if i.get("explorerReadyMs")]
        log(f"  slow4g {variant}: {len(d['pages'])} pages measured {d['measured']['date']}, first paint max {fp} ms, "
            f"explorers max {max(ex) if ex else '-'} ms")
    return {"variants": data, "limits_ms": SLOW4G_LIMITS_MS, "source": str(SLOW4G_FILE.relative_to(ROOT))}


def section_large(quick: bool, log) -> dict:
    rows = []
    for n, dtype in ((20_000, "float64"), (20_000, "float32")) if not quick else ((8192, "float64"),):
        res = _subprocess_json(["--large-case", str(n), "2048", dtype], timeout=3600)
        rows.append(res)
        log(f"  blocked n={n} {dtype}: " + (f"{res['seconds']:.1f} s, peak RSS +{res['peak_rss_delta_mb']:.0f} MB "
                                           f"(result {res['result_mb']:.0f} MB)" if "seconds" in res else res.get("error", "")))
    return {"rows": rows}


SECTIONS = {
    "kernels": section_kernels,
    "spectrum": section_spectrum,
    "widgets": section_widgets,
    "training": section_training,
    "profile": section_profile,
    "chapters": section_chapters,
    "binder": section_binder,
    "book": section_book,
    "large": section_large,
    "slow4g": section_slow4g,
}
DEFAULT = ("kernels", "profile", "spectrum", "widgets", "training", "chapters", "binder")


# ----------------------------------------------------------------------------
# report
# ----------------------------------------------------------------------------

def _fmt_s(v):
    if v is None:
        return "–"
    return f"{v * 1e3:.1f} ms" if v < 1 else f"{v:.2f} s"


def _fmt_mb(v):
    return "–" if v is None else f"{v:.0f} MB"


def tables(results: dict) -> str:
    """Markdown tables of every section in ``results`` (also printed to the terminal)."""
    out = []
    sec = results["sections"]
    note = lambda s: f" *(carried over from the run of {s['carried_from']})*" if "carried_from" in s else ""  # noqa: E731
    if "kernels" in sec:
        s = sec["kernels"]
        out.append(f"### Exact PNN NTK vs neural-tangents vs empirical NTK (width {s['empirical_width']}, d = {s['dim']}){note(s)}\n")
        out.append("Median time of one n x n Gram matrix (after a warm-up call); compile = warm-up minus median; "
                   "peak = growth of the subprocess's peak RSS.\n")
        out.append("| n | degree | method | median | compile | peak memory | note |")
        out.append("|---:|---:|---|---:|---:|---:|---|")
        for r in s["rows"]:
            if "skipped" in r:
                est = r.get("estimated_median_s")
                mem = r.get("estimated_peak_rss_delta_mb")
                out.append(f"| {r['n']} | {r['degree']} | {r['method']} | ~{_fmt_s(est)} (est.) | – | "
                           f"{'~' + _fmt_mb(mem) + ' (est.)' if mem else '–'} | {r['skipped'].split(':')[0]} |")
            elif "error" in r:
                out.append(f"| {r['n']} | {r['degree']} | {r['method']} | – | – | – | error: {r['error'][:80]} |")
            else:
                out.append(f"| {r['n']} | {r['degree']} | {r['method']} | {_fmt_s(r['median_s'])} | "
                           f"{_fmt_s(r['compile_s'])} | {_fmt_mb(r['peak_rss_delta_mb'])} | |")
        out.append("\nSpeed-ups of the exact kernel, wall-time medians (CPU-time medians in brackets, less "
                   "sensitive to other jobs). Targets: >= 5x vs nt's kernel_fn, >= 50x vs the empirical NTK. "
                   "`nt` is `jax.jit(kernel_fn)`, `nt_eager` the kernel_fn as returned by `stax` (how "
                   "`pntk.reference.pnn_kernel_nt` calls it).\n")
        out.append("| n | degree | vs nt (jit) | vs nt (eager) | vs empirical NTK |")
        out.append("|---:|---:|---:|---:|---:|")
        for r in s["ratios"]:
            def cell(key):
                if f"speedup_vs_{key}" in r:
                    return f"{r[f'speedup_vs_{key}']:.1f}x ({r[f'cpu_speedup_vs_{key}']:.1f}x)"
                if f"speedup_vs_{key}_estimated" in r:
                    return f"~{r[f'speedup_vs_{key}_estimated']:.0f}x (est.)"
                return "–"
            out.append(f"| {r['n']} | {r['degree']} | {cell('nt')} | {cell('nt_eager')} | {cell('empirical')} |")
        reasons = sorted({r["skipped"] for r in s["rows"] if "skipped" in r})
        if reasons:
            out.append("\n" + "\n".join(f"- {why}" for why in reasons))
        out.append("")
    if "profile" in sec:
        s = sec["profile"]
        out.append(f"### Profile of the exact kernel (n = {s['n']}, d = {DIM}; CPU time, best of 7){note(s)}\n")
        out.append("| part | CPU time |")
        out.append("|---|---:|")
        for name, v in s["cpu_s"].items():
            out.append(f"| {name} | {_fmt_s(v)} |")
        out.append("")
    if "spectrum" in sec:
        s = sec["spectrum"]
        out.append(f"### Funk-Hecke spectrum vs Gram-matrix eigendecomposition (S^2){note(s)}\n")
        out.append("| method | degree | n / max_k | median |")
        out.append("|---|---:|---:|---:|")
        for r in s["rows"]:
            if r["method"] == "funk_hecke":
                out.append(f"| Funk-Hecke (`frequency.pnn_spectrum`) | {r['degree']} | max_k = {r['max_k']} | {_fmt_s(r['median_s'])} |")
            else:
                out.append(f"| Gram kernel + `spectra.gram_eigenvalues` | {r['degree']} | n = {r['n']} | "
                           f"{_fmt_s(r['median_s'])} ({_fmt_s(r['kernel_median_s'])} + {_fmt_s(r['eigh_median_s'])}) |")
        out.append("")
    if "widgets" in sec:
        s = sec["widgets"]
        out.append(f"### Widget update latency (target < 0.25 s median){note(s)}\n")
        if "skipped" in s:
            out.append(f"Skipped: {s['skipped']}\n")
        else:
            out.append("One slider change = one call of the function in `pntk.widgets.BENCH_CASES`, JIT warm. "
                       "'first visit': each setting once, in order, results of earlier settings cached (as in a live "
                       "session); 'cache hit': a setting seen before; 'all caches cleared': the worst case.\n")
            out.append("| widget | BLAS | settings | median (first visit) | max | cache hit | all caches cleared | slowest setting |")
            out.append("|---|---|---:|---:|---:|---:|---:|---|")
            for blas, ws in s.get("by_blas_setting", {"(default)": s["widgets"]}).items():
                for name, r in ws.items():
                    slow = ", ".join(f"{k}={v}" for k, v in r["slowest_setting"].items())
                    out.append(f"| {name} | {blas} | {r['settings']} | {_fmt_s(r['median_s'])} | {_fmt_s(r['max_s'])} | "
                               f"{_fmt_s(r['cache_hit_median_s'])} | {_fmt_s(r['all_caches_cleared_median_s'])} | {slow} |")
            if "note" in s:
                out.append(f"\n{s['note']}")
            out.append("")
    if "training" in sec:
        s = sec["training"]
        out.append(f"### Training loops of the spectral-bias chapter{note(s)}\n")
        out.append("| loop | n | steps | median | compile | steps/s |")
        out.append("|---|---:|---:|---:|---:|---:|")
        for r in s["rows"]:
            out.append(f"| {r['loop']} | {r['n']} | {r['steps']} | {_fmt_s(r['median_s'])} | {_fmt_s(r['compile_s'])} | "
                       f"{r['steps_per_s']:,.0f} |")
        out.append("\nThe closed form evaluates the linearised dynamics at 81 step counts up to 30 000 with one "
                   "eigendecomposition; its steps/s is 30 000 / time.\n")
    if "chapters" in sec:
        s = sec["chapters"]
        out.append(f"### Chapter execution (target < 60 s each){note(s)}\n")
        out.append("| chapter | seconds |")
        out.append("|---|---:|")
        for r in s["rows"]:
            out.append(f"| {r['chapter']} | {r['seconds']:.1f} |" if "seconds" in r else f"| {r['chapter']} | error: {r['error'][:80]} |")
        out.append("")
    if "binder" in sec:
        s = sec["binder"]
        out.append(f"### Binder's limits: one CPU, {s.get('memory_limit_mb', BINDER_MEMORY_MB)} MB (target: kernel peak "
                   f"< {s.get('kernel_budget_mb', BINDER_KERNEL_BUDGET_MB)} MB, kernel CPU time < 60 s){note(s)}\n")
        out.append("Each chapter in a fresh process pinned to one CPU (its Jupyter kernel inherits the affinity, "
                   "as under `taskset -c 0`): wall time of its cells, the kernel's CPU time (less sensitive to other "
                   "jobs) and the kernel's peak resident memory. Date and commit per row (a * marks a row measured "
                   "while the chapter, lib/pntk, requirements.txt or postBuild differed from that commit).\n")
        out.append("| chapter | one CPU | kernel CPU | kernel peak memory | date | commit |")
        out.append("|---|---:|---:|---:|---|---|")
        for r in s["rows"]:
            star = "*" if r.get("changed_since_commit") else ""
            if "seconds" in r:
                out.append(f"| {r['chapter']} | {r['seconds']:.1f} s | {r['kernel_cpu_s']:.1f} s | "
                           f"{_fmt_mb(r['kernel_peak_mb'])} | {r['date']} | {(r['commit'] or '?')[:10]}{star} |")
            else:
                out.append(f"| {r['chapter']} | error: {r.get('error', '')[:80].replace('|', '/')} | | | {r['date']} | "
                           f"{(r['commit'] or '?')[:10]}{star} |")
        ex = s.get("explorers", {})
        if "skipped" in ex:
            out.append(f"\nLive explorers on one CPU: skipped: {ex['skipped']}")
        elif ex:
            out.append(f"\nLive explorers on one CPU ({s.get('explorers_date')}, commit "
                       f"{(s.get('explorers_commit') or '?')[:10]}): one slider change, JIT warm, each setting's first "
                       "visit.\n")
            out.append("| explorer | settings | median | max | median CPU time | max CPU time | cache hit |")
            out.append("|---|---:|---:|---:|---:|---:|---:|")
            for name, r in ex.items():
                out.append(f"| {name} | {r['settings']} | {_fmt_s(r['median_s'])} | {_fmt_s(r['max_s'])} | "
                           f"{_fmt_s(r.get('median_cpu_s'))} | {_fmt_s(r.get('max_cpu_s'))} | "
                           f"{_fmt_s(r['cache_hit_median_s'])} |")
        out.append("")
    if "book" in sec:
        s = sec["book"]
        out.append(f"### Full book build (target: cold < 10 min){note(s)}\n")
        out.append("| build | seconds | exit |")
        out.append("|---|---:|---:|")
        for label in ("cold", "warm"):
            if f"{label}_s" in s:
                out.append(f"| {label} | {s[f'{label}_s']:.0f} | {s[f'{label}_exit']} |")
        out.append("")
    if "large" in sec:
        s = sec["large"]
        out.append(f"### Blocked Gram matrix (`pntk.blocked.pnn_ntk_blocked`, degree 3, d = {DIM}){note(s)}\n")
        out.append("Peak RSS of the whole process (its baseline after `import pntk` and the data in brackets).\n")
        out.append("| n | block | dtype | time | result | peak RSS of the process |")
        out.append("|---:|---:|---|---:|---:|---:|")
        for r in s["rows"]:
            if "seconds" in r:
                out.append(f"| {r['n']} | {r['block_size']} | {r['dtype']} | {_fmt_s(r['seconds'])} | "
                           f"{_fmt_mb(r['result_mb'])} | {_fmt_mb(r['baseline_rss_mb'] + r['peak_rss_delta_mb'])} "
                           f"({_fmt_mb(r['baseline_rss_mb'])}) |")
            else:
                out.append(f"| – | – | – | error: {r.get('error', '')[:80]} | | |")
        out.append("")
    if "slow4g" in sec:
        s = sec["slow4g"]
        lim = s["limits_ms"]
        out.append(f"### Pages on a slow connection: Slow 4G, cold cache (limits: first paint < {lim['first_paint'] / 1000:.0f} s, "
                   f"explorer < {lim['explorer'] / 1000:.0f} s){note(s)}\n")
        out.append("Every page of the table of contents loaded cold in headless Chromium under DevTools' Slow 4G "
                   "preset (562.5 ms latency per request, 1.44 Mbit/s down, 675 kbit/s up, cache disabled), served "
                   "from localhost gzip-compressed as GitHub Pages and Read the Docs serve text. **offline**: the "
                   "offline variant (MathJax and the widget scripts from the site); **default**: the default build "
                   "(`_config.yml`: MathJax from cdn.jsdelivr.net), its CDN requests answered by a local HTTPS "
                   "mirror with the same files from `browser/node_modules`, to which Chromium resolves the CDN "
                   "host, so they carry the same latency and bandwidth (method and its check: "
                   "`browser/PERFORMANCE.md`). First paint: first-contentful-paint; math: MathJax's first "
                   "typesetting done; explorer: every static explorer has run its script and shows its first "
                   "frame; load: the load event; weight and requests: bytes received and requests made until "
                   "load, math and fonts are done (CDN: the part from the CDN). Measured by the browser tests "
                   f"(`tests/test_browser.py`, which fail a page at the limits), copied from `{s['source']}`.\n")
        for variant, d in s["variants"].items():
            m = d["measured"]
            out.append(f"- {variant}: `{m['command']}` on {m['date']} at commit {(m.get('commit') or '?')[:10]}"
                       f"{' (with uncommitted changes)' if m.get('changed_since_commit') else ''}, {m['machine']}, "
                       f"load average {m['load_average']}, {m['chromium']}")
        out.append("")
        out.append("| page | variant | first paint | math | explorer | load | weight | requests (CDN) |")
        out.append("|---|---|---:|---:|---:|---:|---:|---:|")
        sec_ms = lambda v: "–" if v is None else f"{v / 1000:.1f} s"  # noqa: E731
        pages = list(next(iter(s["variants"].values()))["pages"])
        for page in pages:
            for variant, d in s["variants"].items():
                i = d["pages"].get(page)
                if i is None:
                    continue
                cdn = f" ({i['cdnRequests']})" if "cdnRequests" in i else ""
                name = page.removeprefix("book/").removesuffix(".html")
                out.append(f"| {name} | {variant} | {sec_ms(i.get('firstPaintMs'))} | {sec_ms(i.get('mathMs'))} | "
                           f"{sec_ms(i.get('explorerReadyMs'))} | {sec_ms(i.get('loadMs'))} | "
                           f"{i['bytes'] / 1e6:.2f} MB | {i['requests']}{cdn} |" if "bytes" in i else
                           f"| {name} | {variant} | {sec_ms(i.get('firstPaintMs'))} | – | {sec_ms(i.get('explorerReadyMs'))} | – | – | – |")
        proof = [i["largestCdnFile"] for i in s["variants"].get("default", {}).get("pages", {}).values()
                 if i.get("largestCdnFile")]
        if proof:
            big = max(proof, key=lambda t: t["transferBytes"])
            times = sorted(t["ms"] for t in proof if t["url"] == big["url"])
            floor = 562.5 + big["transferBytes"] / (1.44e6 / 8) * 1000
            out.append(f"\nThe largest CDN file, `{big['url'].split('/npm/')[-1]}` ({big['transferBytes'] / 1e3:.0f} kB "
                       f"compressed), took {times[0] / 1000:.1f}-{times[-1] / 1000:.1f} s on the default build's pages "
                       f"(at least the {floor / 1000:.1f} s that Slow 4G's latency and bandwidth give it alone; the "
                       "page's other files share the bandwidth).")
        out.append("")
    return "\n".join(out)


def targets(results: dict) -> list[str]:
    """One line per target: met, missed (with the number), or not measured."""
    sec = results["sections"]
    lines = []
    if "kernels" in sec:
        rs = sec["kernels"]["ratios"]
        labels = {"nt": "neural-tangents kernel_fn (jit)", "nt_eager": "neural-tangents kernel_fn (eager)",
                  "empirical": f"empirical NTK at width {EMPIRICAL_WIDTH}"}
        for key, goal in (("nt", TARGETS["kernel_vs_nt"]), ("nt_eager", TARGETS["kernel_vs_nt"]),
                          ("empirical", TARGETS["kernel_vs_empirical"])):
            vals = [r[f"speedup_vs_{key}"] for r in rs if f"speedup_vs_{key}" in r]
            if not vals:
                continue
            per = []
            for degree in sorted({r["degree"] for r in rs}):
                v = [r[f"speedup_vs_{key}"] for r in rs if r["degree"] == degree and f"speedup_vs_{key}" in r]
                if v:
                    per.append(f"{min(v):.1f}-{max(v):.1f}x at degree {degree}")
            worst = min(vals)
            lines.append(f"exact kernel vs {labels[key]}: {'; '.join(per)} over the measured n "
                         f"({'met' if worst >= goal else 'MISSED' if max(vals) < goal else 'partly met'}, "
                         f"target >= {goal:.0f}x)")
    if "widgets" in sec and "widgets" in sec["widgets"]:
        by = sec["widgets"].get("by_blas_setting", {"": sec["widgets"]["widgets"]})
        for name in sec["widgets"]["widgets"]:
            parts = [f"{by[b][name]['median_s']:.3f} s" + (f" ({b})" if b else "") for b in by if name in by[b]]
            ok = [by[b][name]["median_s"] < TARGETS["widget_s"] for b in by if name in by[b]]
            verdict = "met" if all(ok) else "MISSED" if not any(ok) else "met only with OPENBLAS_NUM_THREADS=1"
            lines.append(f"widget {name}: median {', '.join(parts)} ({verdict}, target < {TARGETS['widget_s']} s)")
    if "chapters" in sec:
        done = [r for r in sec["chapters"]["rows"] if "seconds" in r]
        if done:
            worst = max(done, key=lambda r: r["seconds"])
            lines.append(f"chapters: slowest {worst['chapter']} {worst['seconds']:.1f} s "
                         f"({'met' if worst['seconds'] < TARGETS['chapter_s'] else 'MISSED'}, target < 60 s)")
    if "binder" in sec:
        done = [r for r in sec["binder"]["rows"] if "kernel_peak_mb" in r]
        if done:
            worst = max(done, key=lambda r: r["kernel_peak_mb"])
            budget = sec["binder"].get("kernel_budget_mb", BINDER_KERNEL_BUDGET_MB)
            over = [r["chapter"] for r in done if r["kernel_peak_mb"] >= budget]
            lines.append(f"Binder memory: largest kernel peak {worst['chapter']} {worst['kernel_peak_mb']:.0f} MB "
                         f"({'met' if not over else 'MISSED by ' + ', '.join(over)}, target < {budget} MB of "
                         f"Binder's {sec['binder'].get('memory_limit_mb', BINDER_MEMORY_MB)} MB)")
            slow = max(done, key=lambda r: r["kernel_cpu_s"])
            lines.append(f"Binder time: largest kernel CPU time on one CPU {slow['chapter']} "
                         f"{slow['kernel_cpu_s']:.1f} s ({slow['seconds']:.1f} s wall) "
                         f"({'met' if slow['kernel_cpu_s'] < TARGETS['chapter_s'] else 'MISSED'}, target < 60 s "
                         "of kernel CPU time: wall time on a shared machine includes other jobs' turns)")
        failed = [r["chapter"] for r in sec["binder"]["rows"] if "error" in r]
        if failed:
            lines.append(f"Binder: chapters that failed to execute on one CPU: {', '.join(failed)}")
    if "slow4g" in sec:
        lim = sec["slow4g"]["limits_ms"]
        for variant, d in sec["slow4g"]["variants"].items():
            fp = max(d["pages"].items(), key=lambda kv: kv[1]["firstPaintMs"])
            ex = [(p, i["explorerReadyMs"]) for p, i in d["pages"].items() if i.get("explorerReadyMs")]
            worst = max(ex, key=lambda kv: kv[1]) if ex else None
            ok = fp[1]["firstPaintMs"] < lim["first_paint"] and (worst is None or worst[1] < lim["explorer"])
            lines.append(f"Slow 4G, {variant} build: slowest first paint {fp[0]} {fp[1]['firstPaintMs'] / 1000:.1f} s"
                         + (f", slowest explorer {worst[0]} {worst[1] / 1000:.1f} s" if worst else "")
                         + f" ({'met' if ok else 'MISSED'}, targets < {lim['first_paint'] / 1000:.0f} s and "
                         f"< {lim['explorer'] / 1000:.0f} s)")
    if "book" in sec and "cold_s" in sec["book"]:
        c = sec["book"]["cold_s"]
        lines.append(f"cold book build: {c:.0f} s ({'met' if c < TARGETS['cold_build_s'] else 'MISSED'}, target < 600 s)")
    return lines


def analysis(results: dict) -> str:
    """Prose explaining missed targets, with every number taken from ``results``."""
    sec = results["sections"]
    parts = []
    prof = sec.get("profile", {}).get("cpu_s")
    ker = sec.get("kernels")
    if prof:
        n = sec["profile"]["n"]
        g = lambda key: next(v for k, v in prof.items() if k.startswith(key)) * 1e3  # noqa: E731
        one_pass = g("one elementwise pass")
        parts.append(
            f"**Exact kernel vs neural-tangents' jit-compiled `kernel_fn` (target 5x).** Both evaluate "
            f"closed-form arc-cosine formulas in fused XLA loops over the n x n entries, and on this machine "
            f"such loops are bound by memory traffic: one elementwise pass over an n x n float64 array (read "
            f"and write) takes {one_pass:.0f} ms at n = {n}, and writing x x^T with a matmul "
            f"{g('inner products'):.0f} ms. pntk writes the n x n result once: the inner products are summed "
            f"from d outer products inside the same fused loop, and its Gram matrices are exactly symmetric by "
            f"construction, so the symmetrising pass ({g('symmetrise'):.0f} ms) runs only where n is not a "
            f"multiple of 16 or d > 32. The public `pnn_ntk` takes {g('degree 1: pntk'):.0f} ms at degree 1 "
            f"and {g('degree 3: pntk'):.0f} ms at degree 3 (CPU time, about "
            f"{g('degree 1: pntk') / one_pass:.1f} elementwise passes); neural-tangents takes "
            f"{g('degree 1: neural-tangents'):.0f} ms and {g('degree 3: neural-tangents'):.0f} ms: it writes "
            f"x x^T to memory and, from degree 2 on, keeps one branch per Hadamard factor, so the speed-up grows "
            f"with the degree. At degree 1 both compute the same kernel with the same arithmetic, and 5x would "
            f"mean {g('degree 1: neural-tangents') / 5:.0f} ms, "
            f"{g('degree 1: neural-tangents') / 5 / one_pass:.1f} of one elementwise pass over the result: out "
            f"of reach for anything that returns the dense matrix on this memory system.")
        parts.append(
            f"**What was fixed.** (1) The arccos, which dominated the kernel: XLA's `jnp.arccos` takes "
            f"{g('arccos, jnp'):.0f} ms on {n} x {n} cosines; pntk's rational approximation evaluates one "
            f"rational function at the selected argument ({g('arccos, pntk'):.0f} ms; numpy's SIMD arccos takes "
            f"{g('arccos, numpy'):.0f} ms). (2) `hadamard_power` takes one traced power of the n x n matrix "
            f"instead of two. (3) The inner products are fused into the kernel and the symmetrising pass is "
            f"gone where the result is symmetric by construction: with x x^T from a matmul the same fused kernel "
            f"takes {g('degree 1: the same kernel with x x^T'):.0f} ms at degree 1 instead of "
            f"{g('degree 1: fused kernel, traced'):.0f} ms, plus the symmetrising pass the public function "
            f"needed then. The traced degree costs little: the static-degree kernel takes "
            f"{g('degree 1: fused kernel, static'):.0f} ms, and one compiled program serves every degree the "
            f"chapters and widgets sweep.")
    if ker:
        rs = ker["ratios"]
        emp = {(r["n"], r["degree"]): r["speedup_vs_empirical"] for r in rs if "speedup_vs_empirical" in r}
        eager = {(r["n"], r["degree"]): r["speedup_vs_nt_eager"] for r in rs if "speedup_vs_nt_eager" in r}
        if emp:
            low = sorted(emp.items(), key=lambda kv: kv[1])[0]
            parts.append(
                f"**Exact kernel vs the empirical NTK at width {ker['empirical_width']} (target 50x).** The empirical "
                f"NTK costs about n^2 P for P = degree x width x d + width parameters, so the exact kernel's advantage "
                f"grows with the degree: it is smallest at degree 1 (P = {EMPIRICAL_WIDTH * (DIM + 1)}), "
                f"{low[1]:.0f}x at n = {low[0][0]}, degree {low[0][1]}, and "
                + ", ".join(f"{v:.0f}x at n = {k[0]}, degree {k[1]}" for k, v in sorted(emp.items()) if k != low[0])
                + ". For n above 1024 the empirical NTK was estimated, not run (minutes per matrix).")
        if eager:
            parts.append(
                "**Against `kernel_fn` called without `jax.jit`** (how `pntk.reference.pnn_kernel_nt` and "
                "neural-tangents' first examples call it), the speed-up is "
                + ", ".join(f"{v:.0f}x at n = {k[0]}, degree {k[1]}" for k, v in sorted(eager.items()))
                + ": per-operation dispatch dominates at small n, so this comparison is mostly about compilation.")
    wid = sec.get("widgets", {}).get("by_blas_setting")
    if wid and "OpenBLAS default threads" in wid and "OPENBLAS_NUM_THREADS=1" in wid:
        slow = {k: v["median_s"] for k, v in wid["OpenBLAS default threads"].items() if v["median_s"] >= TARGETS["widget_s"]}
        if slow:
            one = wid["OPENBLAS_NUM_THREADS=1"]
            parts.append(
                "**Widgets (target < 0.25 s).** "
                + ", ".join(f"The {k} widget takes {v:.2f} s per update with OpenBLAS's default threads but "
                            f"{one[k]['median_s']:.2f} s with one thread" for k, v in slow.items())
                + ": its cost is eigendecompositions (`scipy.linalg.eigh`), and OpenBLAS threads competing for two "
                "busy cores slow them down several times. `pntk.widgets` runs its computations with one BLAS thread "
                "(`threadpoolctl`), which should make both settings equal; where this paragraph appears, that limit "
                "did not take effect in this run.")
    return "\n\n".join(parts) or "(no kernel or profile section in these results)"


BENCHMARKS_HEAD = """# Benchmarks

Generated by `bench/run.py` from `bench/results/latest.json`; do not edit by hand (edit the
template in `bench/run.py`). Reproduce with

```bash
{command}
```

Sections of this file and the runs that produced them (sections not run by the last command
are carried over from an earlier run):

{provenance}

(`make bench` runs the default sections; `--quick` a fast subset; `--book` adds the full book
build, cold and warm, of a copy in /tmp; `--large` the blocked n = 20 000 Gram matrix;
`--only slow4g` copies the Slow 4G page numbers of the last browser-test run.)

**Machine of this run**: {cpu} ({cores} cores available, {mem} GB memory), Python {python},
jax {jax}, numpy {numpy}, neural-tangents {nt}; {date}. Load average (1, 5, 15 min) at the
start: {load}.

**Noise.** These numbers were taken on a 2-core machine shared with other jobs (see the load
average): absolute times are noisy, by tens of percent and more. Ratios measured side by side
in the same run are more reliable than absolute times. Medians over repeats after a warm-up;
compile time is reported separately.

## Targets

{targets}

## Why targets are missed, and what was done

{analysis}

## Results

{tables}

## Large n, GPUs and several devices

The dense kernels (`pntk.kernels.pnn_ntk`, `pnn_nngp`, `pnn_kernel`, `relu_ntk`) evaluate the
whole matrix in one XLA program whose peak memory is about 2x the result (11x for
`pnn_kernel`, which returns both matrices); they refuse an estimated peak above `max_bytes`
(default 4 GiB, so n above about 13 000 for one float64 NTK) with a `ValueError` that names the
blocked function. `pntk.blocked` computes the same matrix tile by tile (one compiled program of
`block_size x block_size`, default 2048; only the upper tiles for a symmetric Gram matrix),
writing into one preallocated NumPy array (or a `numpy.memmap` passed as `out`), optionally as
float32:

```python
import jax, pntk
x = pntk.data.sphere(jax.random.key(0), 20_000, 10)
theta = pntk.blocked.pnn_ntk_blocked(x, degree=3)                   # 3.2 GB float64
theta32 = pntk.blocked.pnn_ntk_blocked(x, degree=3, dtype="float32")  # 1.6 GB
```

For results larger than memory, pass `out=numpy.lib.format.open_memmap(path, mode="w+",
dtype="float32", shape=(n, n))`: tiles are written to disk as they finish.

**On a GPU** the same code runs unchanged: install the CUDA build of the same jax version
(`pip install "jax[cuda12]==0.5.3"`); JAX then puts every tile on its default device, the GPU,
and only finished tiles are copied to host memory. Most GPUs run float64 many times slower
than float32 (consumer cards 32-64x): pass float32 inputs (`x.astype("float32")`) for speed,
at about 1e-6 relative accuracy (`tests/test_blocked.py` checks 1e-4). With **several GPUs**,
`devices=jax.devices("gpu")` sends the tiles round-robin to all of them (each holds a copy of
the inputs, a few MB); the result is assembled in host memory. (No GPU was available to this
project: the device path is tested on the CPU device only, with the same device listed twice.)
For neural-tangents' own kernels, `neural_tangents.batch(kernel_fn, batch_size,
device_count=-1)` is the library's tool for the same tiling over all devices.
"""


def write_outputs(results: dict, command: str) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "latest.json").write_text(json.dumps(results, indent=1, default=float) + "\n")
    with open(RESULTS / "latest.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["section", "case", "metric", "value"])
        for name, sec in results["sections"].items():
            for i, row in enumerate(sec.get("rows", [])):
                case = ";".join(f"{k}={v}" for k, v in row.items() if isinstance(v, (str, int)) and k not in ("skipped", "error"))
                for k, v in row.items():
                    if isinstance(v, float):
                        w.writerow([name, case or i, k, v])
            for wname, row in sec.get("widgets", {}).items():
                for k, v in row.items():
                    if isinstance(v, float):
                        w.writerow([name, wname, k, v])
    m = results["machine"]
    prov = []
    for name, sec in results["sections"].items():
        if "run_command" in sec:
            prov.append(f"- {name}: `{sec['run_command']}` on {sec['run_date']}"
                        + (f" at commit {sec['run_commit'][:10]}" if sec.get("run_commit") else "")
                        + ", load average at its start "
                        f"{sec.get('load_at_start')}, {sec.get('section_wall_s', 0):.0f} s")
    text = BENCHMARKS_HEAD.format(
        provenance="\n".join(prov), analysis=analysis(results),
        command=command, cpu=m["cpu_model"], cores=m["cores_available"], mem=m["memory_gb"], python=m["python"],
        jax=m["jax"], numpy=m["numpy"], nt=m["neural_tangents"], date=m["date"], load=m["load_average_1_5_15"],
        targets="\n".join(f"- {t}" for t in targets(results)) or "- (no targeted section was run)",
        tables=tables(results))
    (ROOT / "BENCHMARKS.md").write_text(text)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a fast subset (small n, fewer degrees and settings)")
    parser.add_argument("--book", action="store_true", help="also build the whole book (cold and warm) in a /tmp copy")
    parser.add_argument("--large", action="store_true", help="also the blocked n = 20000 Gram matrix")
    parser.add_argument("--only", nargs="+", choices=sorted(SECTIONS), help="run only these sections")
    parser.add_argument("--no-write", action="store_true", help="print only; leave results and BENCHMARKS.md alone")
    # internal: one measurement in this fresh process
    parser.add_argument("--case", nargs=4, metavar=("METHOD", "N", "DEGREE", "REPEATS"), help=argparse.SUPPRESS)
    parser.add_argument("--large-case", nargs=3, metavar=("N", "BLOCK", "DTYPE"), help=argparse.SUPPRESS)
    parser.add_argument("--chapters", nargs="*", metavar="BOOK/NAME.md",
                        help="binder section: measure only these chapters (keeps the previous rows of the others; "
                             "none: only the explorers)")
    parser.add_argument("--widgets-case", metavar="QUICK", help=argparse.SUPPRESS)
    parser.add_argument("--chapter-case", metavar="PATH", help=argparse.SUPPRESS)
    parser.add_argument("--one-cpu", action="store_true", help=argparse.SUPPRESS)  # pin this case to one CPU
    args = parser.parse_args(argv)
    if args.one_cpu:
        one_cpu()
    if args.chapter_case:
        print(json.dumps(chapter_case(args.chapter_case)))
        return 0
    if args.case:
        method, n, degree, repeats = args.case
        print(json.dumps(kernel_case(method, int(n), int(degree), int(repeats))))
        return 0
    if args.widgets_case is not None:
        import pntk  # noqa: F401
        print(json.dumps(widgets_case(args.widgets_case == "1")))
        return 0
    if args.large_case:
        n, block, dtype = args.large_case
        print(json.dumps(large_case(int(n), int(block), dtype)))
        return 0

    names = list(args.only or DEFAULT) + (["book"] if args.book else []) + (["large"] if args.large else [])
    if args.quick and not args.only:
        names = [n for n in names if n not in ("chapters", "binder")]
    global CHAPTER_SUBSET
    CHAPTER_SUBSET = args.chapters
    command = "python bench/run.py " + " ".join(a for a in (argv if argv is not None else sys.argv[1:]))
    import pntk  # noqa: F401  (float64, as everywhere in the book)

    results = {"machine": machine_info(), "command": command.strip(), "quick": args.quick, "sections": {}}

    def log(msg):
        print(msg, flush=True)

    print(f"bench: {', '.join(names)} on {results['machine']['cpu_model']} "
          f"({results['machine']['cores_available']} cores, load {results['machine']['load_average_1_5_15']})", flush=True)
    for name in names:
        start = time.perf_counter()
        load = [round(v, 2) for v in os.getloadavg()]
        results["sections"][name] = SECTIONS[name](args.quick, log)
        results["sections"][name].update(section_wall_s=time.perf_counter() - start, run_date=results["machine"]["date"],
                                         run_command=results["command"], run_commit=results["machine"]["commit"],
                                         run_machine=results["machine"]["cpu_model"], load_at_start=load)
    # sections not run this time: carry over the previous run's, marked with its date
    previous = RESULTS / "latest.json"
    if previous.exists() and not args.no_write:
        try:
            old = json.loads(previous.read_text())
            if "binder" in results["sections"]:
                results["sections"]["binder"] = merge_binder_rows(results["sections"]["binder"],
                                                                  old.get("sections", {}).get("binder"))
            for name, sec in old.get("sections", {}).items():
                if name not in results["sections"]:
                    sec.setdefault("carried_from", old["machine"]["date"])
                    results["sections"][name] = sec
        except (ValueError, KeyError):
            pass
    results["sections"] = {k: results["sections"][k] for k in SECTIONS if k in results["sections"]}
    print()
    print(tables(results))
    for line in targets(results):
        print("target:", line)
    if not args.no_write:
        write_outputs(results, results["command"])
        print(f"\nwrote {RESULTS / 'latest.json'}, {RESULTS / 'latest.csv'} and {ROOT / 'BENCHMARKS.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
