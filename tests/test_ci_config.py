"""The CI workflow and the pre-commit hooks: .github/workflows/ci.yml passes actionlint and
runs every check .ci/run runs, and the pre-commit hooks run offline on a copy of the
repository, pass on it as it is and stop a commit of a broken scenario."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
WORKFLOW = ROOT / ".github" / "workflows" / "ci.yml"
BIN = Path(sys.executable).parent


def tool(name: str) -> str:
    """A tool of the dev extra; its absence is an install mistake, not a reason to skip."""
    found = shutil.which(name, path=str(BIN)) or shutil.which(name)
    assert found, f"{name} is not installed: pip install -e '.[dev]'"
    return found


def test_the_workflow_passes_actionlint() -> None:
    result = subprocess.run(
        [tool("actionlint"), str(WORKFLOW)], capture_output=True, text=True, timeout=60, cwd=ROOT
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_reports_an_undefined_expression(tmp_path: Path) -> None:
    broken = tmp_path / "ci.yml"
    broken.write_text(
        WORKFLOW.read_text(encoding="utf-8").replace("run: mypy", "run: mypy ${{ matrix.python }}"),
        encoding="utf-8",
    )
    result = subprocess.run(
        [tool("actionlint"), str(broken)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0 and "matrix" in result.stdout, result.stdout


def ci_run_checks() -> list[str]:
    """The check commands of .ci/run: the lines after the install, up to its end."""
    lines = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    start = max(i for i, line in enumerate(lines) if "pip install" in line) + 1
    return [line.strip() for line in lines[start:] if line.strip() and not line.startswith("#")]


def test_the_workflow_runs_what_ci_runs() -> None:
    workflow = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    (job,) = workflow["jobs"].values()
    commands = [
        line.strip() for step in job["steps"] if "run" in step for line in step["run"].splitlines()
    ]
    checks = ci_run_checks()
    assert "ruff check ." in checks and "python3 -m coverage run -m pytest" in checks, checks
    assert [check for check in checks if check not in commands] == []
    assert job["env"]["REQUIRE_POSTGRES"] == "1"
    assert job["env"]["REQUIRE_GRAPHVIZ"] == "1"  # --graph's svg and png, drawn by dot
    assert "apt-get install" in "".join(
        s.get("run", "") for s in job["steps"] if "graphviz" in str(s)
    )
    ci_run = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "graphviz" in ci_run and "export REQUIRE_GRAPHVIZ=1" in ci_run
    postgres = job["services"]["postgres"]
    assert "--health-cmd" in postgres["options"] and "pg_isready" in postgres["options"]
    assert job["env"]["TEST_POSTGRES_URL"].startswith("postgresql://")


def copy_of_the_repository(target: Path) -> Path:
    """The files git tracks or would track, in a new git repository (pre-commit needs one)."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        capture_output=True,
        check=True,
        cwd=ROOT,
    ).stdout.split(b"\0")
    for name in filter(None, (entry.decode() for entry in listed)):
        source = ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid"]
    subprocess.run([*git, "init", "-q"], check=True, cwd=target)
    subprocess.run([*git, "add", "-A"], check=True, cwd=target)
    return target


def pre_commit(repo: Path, tmp_path: Path, *hook: str) -> subprocess.CompletedProcess[str]:
    env = {
        # not measured by coverage (.ci/run): the hooks run a copy of the engine, whose files
        # would be counted as a second, unexercised engine
        **{k: v for k, v in os.environ.items() if not k.startswith("COVERAGE_")},
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home"),
        "MYPY_CACHE_DIR": str(ROOT / ".mypy_cache"),  # the one `mypy` in .ci/run just filled
        "PYTHONPATH": "",
    }
    return subprocess.run(
        [tool("pre-commit"), "run", *hook, "--all-files", "--color=never"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=repo,
        env=env,
    )


def test_the_hooks_pass_on_the_repository_and_stop_a_broken_scenario(tmp_path: Path) -> None:
    repo = copy_of_the_repository(tmp_path / "repo")
    result = pre_commit(repo, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    passed = [line for line in result.stdout.splitlines() if line.endswith("Passed")]
    for name in ("ruff check.", "ruff format --check.", "mypy (", "run.py --validate --strict."):
        assert any(line.startswith(name) for line in passed), result.stdout

    demo = repo / "scenarios" / "hello.yaml"
    demo.write_text(demo.read_text(encoding="utf-8").replace("say:", "sya:", 1))
    broken = pre_commit(repo, tmp_path, "validate-scenarios")
    assert broken.returncode == 1, broken.stdout + broken.stderr
    assert "unknown key 'sya'" in broken.stdout, broken.stdout
