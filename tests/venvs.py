"""Throw-away virtual environments for tests that install real clients (pip, repo2docker, actionlint).

Shared by tests/test_clean_install.py, tests/test_binder.py and tests/test_publishing.py. A throw-away
environment is made by the interpreter that made the project's venv (never the venv itself, whose
packages must not leak in), in a temporary directory; pip's download cache (``PIP_CACHE_DIR``, default
``~/.cache/pip``) is shared, so a second run does not download the wheels again.
"""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]


def base_python() -> str:
    """The interpreter that made the project's venv (not the venv itself)."""
    return getattr(sys, "_base_executable", None) or sys.executable


def clean_env() -> dict:
    """os.environ without the project's venv (VIRTUAL_ENV, PYTHONPATH, PYTHONHOME)."""
    return {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")}


def run(cmd, cwd, env, timeout):
    """Run ``cmd``; fail with the tail of its output when it exits non-zero."""
    result = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True,
                            timeout=timeout)
    assert result.returncode == 0, (f"{' '.join(map(str, cmd))} failed (exit {result.returncode}):\n"
                                    f"{result.stdout[-4000:]}\n{result.stderr[-4000:]}")
    return result


def registry_reachable(env, tmp_path, probe: str | None = None) -> tuple[bool, str]:
    """A quick pip download of one small pinned package (frozendict from requirements.txt): fails fast
    without a registry. Returns (reachable, pip's output tail)."""
    if probe is None:
        pins = [l for l in (ROOT / "requirements.txt").read_text().splitlines() if l.startswith("frozendict==")]
        probe = pins[0] if pins else "frozendict"
    result = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--dest",
                             str(pathlib.Path(tmp_path) / "probe"), "--timeout", "15", "--retries", "1", probe],
                            env=env, capture_output=True, text=True, timeout=120)
    return result.returncode == 0, result.stdout[-1000:] + result.stderr[-1000:]


def make_venv(path: pathlib.Path, *requirements: str, env: dict | None = None, timeout: int = 900) -> tuple[
        pathlib.Path, dict]:
    """A fresh venv at ``path`` with ``requirements`` (exact pins) installed by its own pip.
    Returns (its bin directory, an environment whose PATH and VIRTUAL_ENV point at it)."""
    env = clean_env() if env is None else env
    run([base_python(), "-m", "venv", str(path)], path.parent, env, 300)
    bin_dir = path / "bin"
    env = {**env, "VIRTUAL_ENV": str(path), "PATH": f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"}
    if requirements:
        run([bin_dir / "python", "-m", "pip", "install", "--quiet", "--require-virtualenv", *requirements],
            path.parent, env, timeout)
    return bin_dir, env
