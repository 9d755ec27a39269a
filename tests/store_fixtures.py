"""The store's tests run twice: on a real SQLite file and on a real PostgreSQL server.

`store_url` is the DATABASE_URL of an empty database made for one test: a file in tmp_path,
or a fresh database on the server named by TEST_POSTGRES_URL, dropped afterwards. Without
TEST_POSTGRES_URL the PostgreSQL cases are skipped, unless REQUIRE_POSTGRES=1 (CI), where a
missing or unreachable server fails them.

A test that asks for `db` (a migrated database) gets its fresh PostgreSQL database already
migrated: a copy (CREATE DATABASE … TEMPLATE) of a database migrated once per test process,
so the migrations do not run again for every test. Names are random: pytest-xdist's workers,
and other test runs on the same server, never share a database."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import peewee
import pytest
from builders import NOW, compile_yaml

from engine.core.events import Chat, Event, TextMessage, User
from engine.core.interpreter import StepResult, step
from engine.core.model import Scenario
from engine.core.session import Session
from engine.core.store_protocol import BatchResult, IncomingUpdate
from engine.store.database import open_database
from engine.store.migrations import migrate
from engine.store.models import OutboxRow
from engine.store.pipeline import Store
from engine.store.serialization import effect_from_json

BACKENDS = ["sqlite", "postgres"]


def postgres_admin_url() -> str:
    url = os.environ.get("TEST_POSTGRES_URL", "")
    if not url:
        message = "PostgreSQL tests need TEST_POSTGRES_URL (a superuser's URL)"
        if os.environ.get("REQUIRE_POSTGRES") == "1":
            pytest.fail(f"REQUIRE_POSTGRES=1 but {message}")
        pytest.skip(message)
    return url


def _admin_connection(url: str) -> object:
    import psycopg2

    try:
        connection = psycopg2.connect(url, connect_timeout=5)
    except psycopg2.OperationalError as exc:
        pytest.fail(f"TEST_POSTGRES_URL={url} cannot be reached: {exc}")
    connection.autocommit = True
    return connection


def with_database(url: str, name: str) -> str:
    base, _, rest = url.rpartition("/")
    query = rest.partition("?")[2]
    return f"{base}/{name}" + (f"?{query}" if query else "")


def create_database(admin: object, template: str | None = None) -> str:
    """The name of a new database: empty, or a copy of `template` (which nobody may be
    connected to while it is copied)."""
    name = f"store_test_{uuid.uuid4().hex[:12]}"
    copy = f' TEMPLATE "{template}"' if template else ""
    admin.cursor().execute(f'CREATE DATABASE "{name}"{copy}')  # type: ignore[attr-defined]
    return name


@pytest.fixture(scope="session")
def migrated_postgres_template() -> Iterator[str]:
    """A database migrated once for this test process, copied for each test that asks for
    `db` (dropped at the end)."""
    admin_url = postgres_admin_url()
    admin = _admin_connection(admin_url)
    name = create_database(admin)
    try:
        database = open_database(with_database(admin_url, name))
        migrate(database)
        close_all(database)  # a template is copied only while nobody is connected
        yield name
    finally:
        admin.cursor().execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[attr-defined]
        admin.close()  # type: ignore[attr-defined]


@pytest.fixture
def postgres_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh PostgreSQL database for this test (dropped afterwards): empty, or migrated
    when the test asks for `db` too."""
    admin_url = postgres_admin_url()
    migrated = "db" in request.fixturenames
    template = request.getfixturevalue("migrated_postgres_template") if migrated else None
    admin = _admin_connection(admin_url)
    name = create_database(admin, template)
    try:
        yield with_database(admin_url, name)
    finally:
        admin.cursor().execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[attr-defined]
        admin.close()  # type: ignore[attr-defined]


@pytest.fixture(params=BACKENDS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """DATABASE_URL of an empty database, once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'bot.db'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture(params=BACKENDS)
def fresh_store_urls(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], str]]:
    """Makes an empty database each time it is called (a test's several rounds), once on
    SQLite and once on PostgreSQL; the PostgreSQL ones are dropped afterwards."""
    if request.param == "sqlite":
        files = iter(range(1_000_000))
        yield lambda: f"sqlite:///{tmp_path / f'bot{next(files)}.db'}"
        return
    admin_url = postgres_admin_url()
    admin = _admin_connection(admin_url)
    names: list[str] = []

    def fresh() -> str:
        names.append(create_database(admin))
        return with_database(admin_url, names[-1])

    try:
        yield fresh
    finally:
        for name in names:
            admin.cursor().execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[attr-defined]
        admin.close()  # type: ignore[attr-defined]


@pytest.fixture
def db(store_url: str) -> Iterator[peewee.Database]:
    """The migrated database of `store_url`, closed (and its pool emptied) afterwards (on
    PostgreSQL a copy of a migrated template: `migrate` finds nothing to do)."""
    database = open_database(store_url)
    migrate(database)
    yield database
    close_all(database)


def close_all(database: peewee.Database) -> None:
    if hasattr(database, "close_all"):
        database.close_all()
    elif not database.is_closed():
        database.close()


# -- a bot on the store ---------------------------------------------------------------------
COUNTER = """
bot: {name: Counter, start: count}
vars: {n: 0}
states:
  count:
    say: Send me anything.
    on: [{set: {n: "{{ n + 1 }}"}, say: "{{ n }}: {{ message.text }}"}]
"""


def text_update(
    update_id: int, user_id: int, words: str, chat_id: int | None = None
) -> IncomingUpdate:
    """An incoming text message, as the Telegram adapter hands it to the store."""
    chat = user_id if chat_id is None else chat_id
    event = TextMessage(user=User(user_id, "Ann", username="ann"), chat=Chat(chat), text=words)
    raw = json.dumps({"update_id": update_id, "message": {"chat": {"id": chat}, "text": words}})
    return IncomingUpdate(update_id, raw, chat, event)


class StoreBot:
    """A scenario served through a Store: `send` commits updates like the runtime does and
    returns what the batch acknowledged."""

    def __init__(self, scenario: Scenario, store: Store) -> None:
        self.scenario, self.store = scenario, store

    def handle(self, session: Session, event: Event) -> StepResult:
        return step(self.scenario, session, event, NOW)

    def send(self, *updates: IncomingUpdate) -> BatchResult:
        return self.store.process(list(updates), self.handle, NOW)

    def say(self, update_id: int, user_id: int, words: str) -> BatchResult:
        return self.send(text_update(update_id, user_id, words))

    def replies(self, chat_id: int | None = None) -> list[str]:
        """The texts queued for sending, in the order they will be sent."""
        rows = OutboxRow.select().order_by(OutboxRow.id)
        if chat_id is not None:
            rows = rows.where(OutboxRow.chat_id == chat_id)
        return [str(getattr(effect_from_json(r.payload), "text", "")) for r in rows]


@pytest.fixture
def counter(db: peewee.Database, tmp_path: Path) -> StoreBot:
    return StoreBot(compile_yaml(COUNTER, tmp_path), Store(db, "counter"))


def require_postgresql_driver() -> None:
    """psycopg2, for a case about PostgreSQL's driver itself: a `.[dev]` install has none, and
    there the case is not run, like the PostgreSQL ones, unless PostgreSQL is asked for."""
    try:
        import psycopg2  # noqa: F401
    except ImportError:
        message = (
            "PostgreSQL tests need TEST_POSTGRES_URL (a superuser's URL) and psycopg2 "
            "(pip install -e '.[postgres]')"
        )
        if os.environ.get("TEST_POSTGRES_URL") or os.environ.get("REQUIRE_POSTGRES") == "1":
            pytest.fail(f"psycopg2 is not installed: {message}")
        pytest.skip(message)
