"""Binder as mybinder.org builds it: the real client, repo2docker, on a copy of the repository.

repo2docker (pinned below, the version mybinder.org runs) is installed into a throw-away venv of its
own. ``repo2docker --no-build --debug`` needs no Docker: it picks the build pack and prints the
Dockerfile it would build, including the Python it chose ("Building conda environment for
python=X.Y") and the conda environment lock it ships for that Python (a file inside the package,
which pins the exact micro version, e.g. python-3.11.14). The tests then check that every pin of
requirements.txt, and the neural-tangents that postBuild installs, resolves for exactly that Python
(``pip install --dry-run --only-binary=:all: --python-version X.Y.Z``), that the lock is complete
for it, and that postBuild is executable and stops at its first failing command.

They need the package registry (PyPI). When it cannot be reached they are skipped with pip's error;
any other failure fails them. Before runtime.txt existed repo2docker chose Python 3.10, on which
contourpy 1.3.3, matplotlib 3.11.2, scipy 1.16.3 and ipython 9.18.1 have no wheel: every launch
button led to a failed build.
"""

from __future__ import annotations

import json
import os
import pathlib
import re
import shutil
import subprocess

import pytest
from packaging.specifiers import SpecifierSet
from packaging.version import Version

try:
    import tomllib
except ImportError:  # Python < 3.11
    import tomli as tomllib

from venvs import ROOT, clean_env, make_venv, registry_reachable, run

REPO2DOCKER = "jupyter-repo2docker==2026.4.0"  # the client mybinder.org runs (its 2026.4 release)
# not what Binder reads: build output, environments, caches
IGNORE = shutil.ignore_patterns(".git", ".venv", "_build", "_build_student", "node_modules", "__pycache__",
                                ".pytest_cache", ".hypothesis", "*.egg-info", ".lock-venv", ".ipynb_checkpoints")
# pip freeze (make lock) leaves these out; a resolver may add them
UNPINNED_TOOLS = {"pip", "setuptools", "wheel"}

pytestmark = pytest.mark.slow


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(path: pathlib.Path) -> dict[str, str]:
    """{normalised name: version} of every ``name==version`` line of a requirements file."""
    out = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, sep, version = line.partition("==")
            assert sep and version, f"{path.name}: not an exact pin: {line!r}"
            out[_normalise(name)] = version.strip()
    return out


def postbuild_no_deps_pins() -> list[str]:
    """``name==version`` of what postBuild installs from the registry with --no-deps (neural-tangents)."""
    return re.findall(r"pip install --no-deps ([\w.-]+==[\w.]+)", (ROOT / "postBuild").read_text())


def copy_of_repository(dest: pathlib.Path) -> pathlib.Path:
    """The files Binder would see: in a git checkout, those git tracks (and new files it does not
    ignore); elsewhere the tree without build output and environments."""
    listed = None
    if (ROOT / ".git").exists() and shutil.which("git"):
        proc = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                              cwd=ROOT, capture_output=True, text=True)
        if proc.returncode == 0:
            listed = [p for p in proc.stdout.split("\0") if p]
    if listed is None:
        shutil.copytree(ROOT, dest, ignore=IGNORE)
        return dest
    for rel in listed:
        src = ROOT / rel
        if src.is_file():  # deleted but still tracked: absent, as after a commit
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)
    return dest


def unescape(name: str) -> str:
    """Undo repo2docker's escaping of build-script file names (escapism with '-': '/' -> '-2f')."""
    return re.sub(r"-([0-9a-f]{2})", lambda m: chr(int(m.group(1), 16)), name)


@pytest.fixture(scope="module")
def repo2docker(tmp_path_factory):
    """(bin directory, environment) of a throw-away venv with the pinned repo2docker."""
    tmp = tmp_path_factory.mktemp("repo2docker")
    env = clean_env()
    ok, why = registry_reachable(env, tmp)
    if not ok:
        pytest.skip(f"the package registry cannot be reached, so repo2docker cannot be installed here:\n{why}")
    return make_venv(tmp / "venv", REPO2DOCKER, env=env)


@pytest.fixture(scope="module")
def binder(repo2docker, tmp_path_factory):
    """What repo2docker decides for a copy of the repository: its output, the Python it chose
    (major.minor), the environment lock it ships for it, and that lock's exact Python version."""
    bin_dir, env = repo2docker
    repo = copy_of_repository(tmp_path_factory.mktemp("binder") / "repo")
    result = run([bin_dir / "repo2docker", "--no-build", "--debug", repo], repo.parent, env, 600)
    output = result.stdout + result.stderr
    chosen = re.search(r"Building conda environment for python=(\d+\.\d+)\b", output)
    assert chosen, f"repo2docker's output names no Python version:\n{output[:3000]}"
    # the lock copied into the image: COPY build_script_files/<escaped path>-<hash> /tmp/env/environment.lock
    copied = re.search(r"^COPY .*?build_script_files/(\S+) /tmp/env/environment\.lock$", output, flags=re.M)
    assert copied, f"repo2docker's Dockerfile copies no environment lock:\n{output[:3000]}"
    lock = pathlib.Path(unescape(copied.group(1).rsplit("-", 1)[0]))
    assert lock.is_file() and lock.name.startswith(f"environment.py-{chosen.group(1)}-"), lock
    micro = re.search(r"/python-(\d+\.\d+\.\d+)-", lock.read_text())
    assert micro, f"{lock.name} pins no python package"
    assert micro.group(1).startswith(chosen.group(1) + "."), (chosen.group(1), micro.group(1))
    return {"output": output, "python": chosen.group(1), "lock": lock, "python_exact": micro.group(1),
            "repo": repo, "bin": bin_dir, "env": env}


def test_binder_uses_the_python_of_runtime_txt(binder):
    """Binder's Python is the one runtime.txt names, not a default that repo2docker says will change,
    and pyproject.toml's requires-python admits that Python and no other minor version."""
    runtime = ROOT / "runtime.txt"
    assert runtime.is_file(), (f"no runtime.txt: repo2docker {REPO2DOCKER.split('==')[1]} chose Python "
                               f"{binder['python']} by default")
    wanted = re.fullmatch(r"python-(\d+\.\d+)", runtime.read_text().strip())
    assert wanted, f"runtime.txt should read python-X.Y, not {runtime.read_text()!r}"
    assert binder["python"] == wanted.group(1), (binder["python"], wanted.group(1))
    assert "Python version unspecified" not in binder["output"], binder["output"][:2000]
    spec = SpecifierSet(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"])
    exact = Version(binder["python_exact"])
    assert exact in spec, f"requires-python {spec} excludes Binder's Python {exact}"
    major, minor = exact.release[:2]
    for other in (f"{major}.{minor - 1}.99", f"{major}.{minor + 1}.0"):
        assert Version(other) not in spec, f"requires-python {spec} admits Python {other}, for which there is no lock"


def test_every_pin_installs_on_binders_python(binder, tmp_path):
    """The lock installs, from wheels, on exactly the Python Binder uses; and it is complete there:
    the resolver adds no package that requirements.txt does not pin (pip, setuptools, wheel aside)."""
    # repo2docker's Python build pack installs requirements.txt (no environment.yml or other file took over)
    assert re.search(r'^RUN \$\{KERNEL_PYTHON_PREFIX\}/bin/pip install .*-r "?requirements\.txt"?$', binder["output"],
                     flags=re.M), "repo2docker does not install requirements.txt"
    python, env, exact = binder["bin"] / "python", binder["env"], binder["python_exact"]
    common = ["-m", "pip", "install", "--dry-run", "--ignore-installed", "--only-binary=:all:",
              "--python-version", exact, "--target", tmp_path / "target", "--quiet"]
    report = tmp_path / "report.json"
    proc = subprocess.run([python, *common, "--report", report, "-r", ROOT / "requirements.txt"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)
    errors = "\n".join(l for l in (proc.stdout + proc.stderr).splitlines() if "is ignored" not in l)
    assert proc.returncode == 0, f"requirements.txt does not install on Binder's Python {exact}:\n{errors[-3000:]}"
    resolved = {_normalise(item["metadata"]["name"]): item["metadata"]["version"]
                for item in json.loads(report.read_text())["install"]}
    locked = pins(ROOT / "requirements.txt")
    missing = {n: v for n, v in resolved.items() if n not in UNPINNED_TOOLS and locked.get(n) != v}
    assert not missing, f"on Python {exact} the resolver adds or changes packages not pinned so: {missing}"
    assert set(locked) <= set(resolved), set(locked) - set(resolved)

    extra = postbuild_no_deps_pins()
    assert any(p.startswith("neural-tangents==") for p in extra), "postBuild installs no pinned neural-tangents"
    proc = subprocess.run([python, *common, "--no-deps", *extra], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, f"{extra} do not install on Python {exact}:\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}"


def test_postbuild_is_executable_and_stops_at_the_first_error(binder):
    """Binder runs ./postBuild after requirements.txt: it must be executable (in git, too) and begin
    with `set -e`, so that a failed install fails the build instead of giving a broken image."""
    assert re.search(r"^RUN \./postBuild$", binder["output"], flags=re.M), "repo2docker does not run postBuild"
    script = ROOT / "postBuild"
    assert os.access(script, os.X_OK), "postBuild is not executable"
    if (ROOT / ".git").exists() and shutil.which("git"):
        staged = subprocess.run(["git", "ls-files", "-s", "postBuild"], cwd=ROOT, capture_output=True, text=True)
        if staged.stdout:
            assert staged.stdout.startswith("100755 "), f"postBuild is not executable in git: {staged.stdout}"
    lines = script.read_text().splitlines()
    assert lines and lines[0].startswith("#!") and "sh" in lines[0], f"postBuild has no shell shebang: {lines[:1]}"
    commands = [l.strip() for l in lines[1:] if l.strip() and not l.strip().startswith("#")]
    assert commands and re.match(r"set\s+(-\w*e\w*|-o\s+errexit)\b", commands[0]), \
        f"postBuild's first command should be `set -e` (or -euo pipefail), not {commands[:1]}"


@pytest.mark.parametrize("on_binder", [True, False])
def test_postbuild_makes_md_chapters_open_as_notebooks_only_on_binder(tmp_path, on_binder):
    """On Binder (REPO_DIR set by repo2docker's image) postBuild sets jupytext's notebook view as
    JupyterLab's default for .md, so the launch buttons open a chapter as a notebook; under
    ``make env`` it leaves the developer's own JupyterLab settings alone. pip and jupytext-config
    are stand-ins that record their arguments."""
    log = tmp_path / "calls"
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in ("python", "jupytext-config"):
        stub = bin_dir / name
        stub.write_text(f'#!/bin/sh\necho "{name} $*" >> "{log}"\n')
        stub.chmod(0o755)
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "HOME": str(tmp_path)}
    if on_binder:
        env["REPO_DIR"] = str(tmp_path)
    subprocess.run(["bash", str(ROOT / "postBuild")], cwd=ROOT, env=env, check=True)
    calls = log.read_text().splitlines()
    assert any(c.startswith("python -m pip install --no-deps neural-tangents==") for c in calls)
    assert ("jupytext-config set-default-viewer" in calls) == on_binder, calls
