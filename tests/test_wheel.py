"""The installed engine works without the repository: the wheel is built (offline, from a
copy of the source), installed into a fresh venv, and its `scenario-bot` run from an empty
folder. `pip install .` once gave a --validate that failed because the schema stayed behind."""

from __future__ import annotations

import os
import re
import shutil
import site
import subprocess
import sys
import urllib.request
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# The files of the source tree the wheel must carry, and where they land in it.
SHIPPED = {
    "engine": (
        "engine",
        [
            "**/*.py",
            "i18n/locales/*/LC_MESSAGES/*.po",
            "testing/data/*",
            "web/templates/*",
            "web/static/*",
            "admin/templates/*",
        ],
    ),
    "schemas": ("engine/bundled/schemas", ["*.json"]),
    "scenarios": ("engine/bundled/scenarios", ["*.yaml", "*.py"]),
    "locales": ("engine/bundled/locales", ["*.pot", "babel.cfg", "*/LC_MESSAGES/*.po"]),
}
SOURCE = [*SHIPPED, "pyproject.toml", "README.md", "LICENSE"]
# Settings the developer's shell may carry that would change what the installed bot does.
_LEAKING = ("PYTHONPATH", "TELEGRAM_BOT_TOKEN", "DATABASE_URL", "BOT_SCENARIO", "BOT_LOCALES")


def _run(argv: list[str | Path], cwd: Path, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in _LEAKING and not k.startswith(("BOT_", "COVERAGE_"))
    }
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env["PIP_NO_INDEX"] = "1"  # nothing is fetched: the test must not reach the internet
    return subprocess.run(
        [str(a) for a in argv],
        cwd=cwd,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def _expected_files() -> set[str]:
    found: set[str] = set()
    for folder, (target, patterns) in SHIPPED.items():
        for pattern in patterns:
            for path in (ROOT / folder).glob(pattern):
                if path.is_file() and "__pycache__" not in path.parts:
                    found.add(f"{target}/{path.relative_to(ROOT / folder).as_posix()}")
    return found


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel, built from a copy of the source so that the checkout is not written to."""
    work = tmp_path_factory.mktemp("wheel")
    source = work / "source"
    for name in SOURCE:
        if (ROOT / name).is_dir():
            ignored = shutil.ignore_patterns("__pycache__", "*.mo")
            shutil.copytree(ROOT / name, source / name, ignore=ignored)
        else:
            shutil.copy2(ROOT / name, source / name)
    built = _run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            work / "dist",
            source,
        ],
        cwd=work,
    )
    assert built.returncode == 0, built.stdout + built.stderr
    (found,) = (work / "dist").glob("scenario_bot_engine-*.whl")
    return found


@pytest.fixture(scope="module")
def installed(wheel: Path) -> Iterator[Path]:
    """A fresh venv holding the wheel; the dependencies are those of the running interpreter,
    made visible by a .pth line (so nothing is downloaded, and the checkout's editable engine,
    itself put on the path by a .pth file there, stays invisible)."""
    venv = wheel.parent / "venv"
    created = _run([sys.executable, "-m", "venv", "--without-pip", venv], cwd=wheel.parent)
    assert created.returncode == 0, created.stderr
    python = venv / "bin" / "python"
    purelib = _run([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"], venv)
    searched = site.getsitepackages() + (
        [site.getusersitepackages()] if site.ENABLE_USER_SITE else []
    )
    dependencies = [p for p in searched if os.path.isdir(p)]
    Path(purelib.stdout.strip(), "dependencies.pth").write_text("\n".join(dependencies) + "\n")
    pip = [sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", wheel]
    done = _run(pip, cwd=wheel.parent)
    assert done.returncode == 0, done.stdout + done.stderr
    yield venv / "bin"


def test_the_wheel_carries_every_file_the_engine_reads_and_its_licence(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        metadata = next(n for n in names if n.endswith(".dist-info/METADATA"))
        headers = archive.read(metadata).decode("utf-8").split("\n\n", 1)[0].splitlines()
    missing = _expected_files() - names
    assert not missing, f"not in the wheel (pyproject.toml [tool.setuptools]): {sorted(missing)}"
    assert "engine/bundled/schemas/scenario.schema.json" in names
    assert "License-Expression: MIT" in headers
    assert "License-File: LICENSE" in headers
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)


def test_the_installed_scenario_bot_runs_the_bundled_demo_from_an_empty_folder(
    installed: Path, tmp_path: Path
) -> None:
    where = _run([installed / "python", "-c", "import engine; print(engine.__file__)"], tmp_path)
    site_packages = Path(where.stdout.strip()).parent.parent
    assert site_packages.is_relative_to(installed.parent), where.stdout + where.stderr
    bundled = site_packages / "engine" / "bundled" / "scenarios"
    scenario_bot = installed / "scenario-bot"

    checked = _run([scenario_bot, "--validate"], tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout.splitlines()[-1] == "checked 2 scenarios (3 files): no problems found"
    assert f"using the bundled demo in {bundled} " in checked.stderr

    tested = _run([scenario_bot, "--test"], tmp_path)
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert re.search(r"^ran (\d+) tests in 2 files: \1 passed$", tested.stdout, re.MULTILINE)

    chat = _run([scenario_bot, "--chat", "--lang", "de"], tmp_path, stdin="/start\n/quit\n")
    assert chat.returncode == 0, chat.stdout + chat.stderr
    assert "bot: Hi Alex! Willkommen bei Pizza Planet 🍕" in chat.stdout  # the bundled catalogs

    wrong = _run([scenario_bot, "--colour"], tmp_path)
    assert wrong.returncode == 2
    assert wrong.stderr.startswith("usage: scenario-bot ")
    assert list(tmp_path.iterdir()) == []  # nothing written where it ran


def test_the_installed_playground_serves_its_page_and_the_files_it_loads(
    installed: Path, tmp_path: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if k not in _LEAKING and not k.startswith("BOT_")}
    process = subprocess.Popen(
        [installed / "scenario-bot", "--playground", "--port", "0"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        url = re.search(r"http://127\.0\.0\.1:\d+/", line)
        assert url is not None, line
        for path in ("", "static/mermaid.min.js", "static/playground.js", "static/playground.css"):
            with urllib.request.urlopen(url.group(0) + path, timeout=20) as answer:
                assert answer.status == 200 and len(answer.read()) > 1000, path
    finally:
        process.terminate()
        assert process.wait(timeout=20) == 0
        if process.stdout is not None:
            process.stdout.close()
