"""Digit arithmetic at the official width and epochs (book chapter "Arithmetic on handwritten digits").

The chapter runs the experiment of ``extra/main_ad.py`` (official code, pntk_code) on
scikit-learn's 8x8 digits at width 128 for 32 epochs, which is what fits its time budget. This
script runs the same experiment (``pntk.digits``, same split, data and optimiser) at the
official width 256 and the official 100 epochs, 5 seeds, at the official learning rate 1e-4 and
at 1e-2: about 5 minutes of CPU. It writes the results with their provenance (command, commit,
date, machine) to ``experiments/results/digit_arithmetic.json``, which the chapter reads. A tiny
configuration is run and stored as well; ``tests/test_digits.py`` re-runs it and checks that it
reproduces the stored numbers.

    .venv/bin/python experiments/digit_arithmetic.py           # full run, rewrites the results
    .venv/bin/python experiments/digit_arithmetic.py --tiny    # the tiny run only, printed
"""

from __future__ import annotations

import argparse
import datetime
import json
import pathlib
import platform
import subprocess
import sys

import jax
import numpy as np

from pntk import digits as dg

ROOT = pathlib.Path(__file__).resolve().parents[1]
RESULTS = ROOT / "experiments" / "results" / "digit_arithmetic.json"
OFFICIAL = dict(width=256, epochs=100, seeds=[0, 1, 2, 3, 4], rates=[1e-4, 1e-2],
                n_train=2048, n_test=512, max_train_sum=9)
TINY = dict(width=8, epochs=2, seeds=[0], rates=[1e-2], n_train=256, n_test=64, max_train_sum=9)


def run(width, epochs, seeds, rates, n_train, n_test, max_train_sum):
    """One row per (rate, net, seed): Round/FloorCeil/Leeway and the share of predictions above
    max_train_sum + 1/2 on the training pairs, fresh in-range pairs and fresh out-of-range pairs,
    and the final training loss over the variance of the training targets. Seeds as in the chapter."""
    images, labels = dg.load_digit_images()
    nets = {"pinet": dg.pinet(128, width), "mlp": dg.relu_mlp(128, width)}
    rows = []
    for lr in rates:
        for seed in seeds:
            k_data, k_init = jax.random.split(jax.random.key(seed))
            d = dg.arithmetic_split(k_data, images, labels, max_train_sum=max_train_sum,
                                    n_train=n_train, n_test=n_test)
            sets = {"train": (d.x_train, d.y_train), "id": (d.x_id, d.y_id), "ood": (d.x_ood, d.y_ood)}
            for name, net in nets.items():
                fit = dg.sgd_nesterov(net.apply_fn, net.init_fn(k_init), d.x_train, d.y_train,
                                      learning_rate=lr, epochs=epochs)
                row = {"rate": lr, "net": name, "seed": seed,
                       "loss_ratio": float(fit.loss[-1] / np.var(d.y_train))}
                for part, (x, y) in sets.items():
                    pred = np.asarray(net.apply_fn(fit.params, x))
                    for metric, value in dg.arithmetic_accuracy(y, pred).items():
                        row[f"{part}_{metric}"] = value
                    row[f"{part}_above"] = float(np.mean(pred > max_train_sum + 0.5))
                rows.append(row)
                print(f"rate {lr:g} seed {seed} {name}: OOD round {row['ood_round']:.3f}", flush=True)
    return rows


def provenance(command):
    try:
        commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True,
                                text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        commit = "unknown"
    return {"command": command, "commit": commit,
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "machine": f"{platform.node()} ({platform.machine()}, {platform.processor() or 'cpu'})",
            "python": platform.python_version(), "jax": jax.__version__}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="run the tiny configuration only and print it")
    args = parser.parse_args(argv)
    if args.tiny:
        print(json.dumps(run(**TINY), indent=1))
        return
    out = {"provenance": provenance("python experiments/digit_arithmetic.py"),
           "config": OFFICIAL, "rows": run(**OFFICIAL),
           "tiny": {"config": TINY, "rows": run(**TINY)}}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(out, indent=1) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    sys.exit(main())
