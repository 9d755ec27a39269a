"""The container files in deploy/: the Dockerfile passes hadolint, its HEALTHCHECK command
tells a healthy bot from a stuck or absent one, every folder it copies reaches the build
context, and compose.yaml follows the Compose Specification and starts the bot only once
PostgreSQL answers. (Building and running the image needs a Docker daemon: see
docs/deployment.md for what was checked where.)"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import peewee
import yaml
from live_bot import free_port

from engine.ops.health import Health
from engine.ops.http_routes import Operations, OperationsServer
from engine.ops.metrics import BotMetrics

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
DOCKERFILE = DEPLOY / "Dockerfile"
COMPOSE_SCHEMA = Path(__file__).resolve().parent / "data" / "compose-spec.json"


def tool(name: str) -> str:
    """A tool of the dev extra; its absence is an install mistake, not a reason to skip."""
    found = shutil.which(name) or shutil.which(name, path=str(Path(sys.executable).parent))
    assert found, f"{name} is not installed: pip install -e '.[dev]'"
    return found


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile, continuation lines joined."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text(encoding="utf-8"))
    found = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            found.append((word.upper(), rest.strip()))
    return found


def test_the_dockerfile_passes_hadolint() -> None:
    result = subprocess.run(
        [tool("hadolint"), str(DOCKERFILE)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_reports_a_careless_dockerfile(tmp_path: Path) -> None:
    careless = tmp_path / "Dockerfile"
    careless.write_text("FROM python:latest\nRUN apt-get install curl\nUSER root\n")
    result = subprocess.run(
        [tool("hadolint"), str(careless)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0
    assert "DL3007" in result.stdout  # the `latest` tag


def test_the_image_runs_as_a_user_with_its_data_in_a_volume() -> None:
    instructions = dockerfile_instructions()
    stages = [args for word, args in instructions if word == "FROM"]
    assert len(stages) == 2 and stages[0].endswith("AS build"), stages
    runtime = instructions[[w for w, _ in instructions].index("FROM", 1) :]
    users = [args for word, args in runtime if word == "USER"]
    assert users and users[-1].split(":")[0] not in ("0", "root"), users
    assert ("VOLUME", '["/data"]') in runtime
    assert any(w == "ENV" and "DATABASE_URL=sqlite:////data/bot.db" in a for w, a in runtime)


def healthcheck_command() -> list[str]:
    (args,) = [args for word, args in dockerfile_instructions() if word == "HEALTHCHECK"]
    command: list[str] = json.loads(args.split(" CMD ", 1)[1])
    assert command[0] == "python"
    return [sys.executable, *command[1:]]


def run_healthcheck(port: int) -> int:
    env = {**os.environ, "BOT_HTTP_PORT": str(port)}
    return subprocess.run(
        healthcheck_command(), env=env, capture_output=True, timeout=30
    ).returncode


def test_the_healthcheck_passes_while_the_loops_run_and_fails_when_one_is_stuck(
    sqlite_db: peewee.Database,
) -> None:
    now = [1000.0]
    health = Health(clock=lambda: now[0])
    health.expect("sender", 120)
    operations = Operations(health, BotMetrics(), sqlite_db, lambda: "v1", lambda: True)
    port = free_port()
    server = OperationsServer(operations, "127.0.0.1", port)
    server.start()
    try:
        assert run_healthcheck(port) == 0
        now[0] += 130  # the sender's last round is older than its limit: /healthz says 503
        assert run_healthcheck(port) == 1
    finally:
        server.stop()
    assert run_healthcheck(port) == 1  # nothing listens


def test_every_folder_the_dockerfile_copies_is_in_the_build_context() -> None:
    allowed = {
        line[1:].strip("/")
        for line in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if line.startswith("!")
    }
    lines = (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
    assert "*" in lines, "the context is a list of what may enter it"
    copied = [
        source.strip("/")
        for word, args in dockerfile_instructions()
        if word == "COPY" and not args.startswith("--from")
        for source in args.split()[:-1]
    ]
    assert copied and set(copied) <= allowed, set(copied) - allowed
    assert not {".env", "data", ".git", ".venv"} & allowed


def compose_validator() -> jsonschema.Draft201909Validator:
    schema = json.loads(COMPOSE_SCHEMA.read_text(encoding="utf-8"))
    return jsonschema.Draft201909Validator(schema)


def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))
    return data


def test_the_compose_file_follows_the_compose_specification() -> None:
    errors = [error.message for error in compose_validator().iter_errors(compose())]
    assert errors == []


def test_the_compose_schema_rejects_a_misspelt_condition() -> None:
    broken = compose()
    broken["services"]["bot"]["depends_on"]["db"]["condition"] = "service_helthy"
    assert list(compose_validator().iter_errors(broken))


def test_the_bot_starts_once_postgresql_answers_and_prometheus_scrapes_it() -> None:
    services = compose()["services"]
    bot, db, prometheus = services["bot"], services["db"], services["prometheus"]
    assert bot["depends_on"]["db"]["condition"] == "service_healthy"
    assert "pg_isready" in " ".join(db["healthcheck"]["test"])
    url = bot["environment"]["DATABASE_URL"]
    assert url.startswith("postgresql://") and "@db:5432/" in url
    assert db["environment"]["POSTGRES_PASSWORD"] in url
    assert bot["env_file"] == ".env"
    assert prometheus["profiles"] == ["monitoring"] and "profiles" not in bot
    config = yaml.safe_load((DEPLOY / "prometheus.yml").read_text(encoding="utf-8"))
    (job,) = config["scrape_configs"]
    targets = job["static_configs"][0]["targets"]
    assert targets == [f"bot:{bot['environment']['BOT_HTTP_PORT']}"]
    assert bot["environment"]["BOT_HTTP_HOST"] == "0.0.0.0"  # reachable from Prometheus
