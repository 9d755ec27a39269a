"""python3 run.py --stats --html FILE: the page shows the figures --format json gives, keeps
the names users and authors chose as text (never markup), and needs nothing but itself."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path

import peewee
import pytest
from conftest import CliResult
from test_stats import MARCH_2, stats_cli  # noqa: F401 (the fixture, on both databases)

from engine.admin.stats_output import duration
from engine.cli import run
from engine.store.models import AuditRow, SessionRow, UserRow

HOSTILE_STATE = '</text><script>alert("state")</script>'
HOSTILE_LANGUAGE = '"><img src=x onerror=alert(1)>'


class Page(HTMLParser):
    """What a reader of the page gets: each table's rows (by the table's id), the headline
    figures (by data-figure), every tag with its attributes, and the style sheet."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tables: dict[str, list[list[str]]] = {}
        self.figures: dict[str, str] = {}
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.style = ""
        self.texts: list[tuple[str, str]] = []  # (the tag it is in, the text)
        self._table: str | None = None
        self._cell: list[str] | None = None
        self._figure: str | None = None
        self._in: list[str] = []
        self.feed(text)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        self.tags.append((tag, named))
        self._in.append(tag)
        if tag == "table":
            self._table = named["id"] or ""
            self.tables[self._table] = []
        elif tag == "tr" and self._table is not None:
            self.tables[self._table].append([])
        elif tag in ("td", "th") and self._table is not None:
            self._cell = []
        elif tag == "dd":
            self._figure = named.get("data-figure")
        elif tag == "small":
            self._figure = None

    def handle_endtag(self, tag: str) -> None:
        if self._in:
            self._in.pop()
        if tag in ("td", "th") and self._table is not None and self._cell is not None:
            self.tables[self._table][-1].append("".join(self._cell))
            self._cell = None
        elif tag == "table":
            self._table = None
        elif tag == "dd":
            self._figure = None

    def handle_data(self, data: str) -> None:
        if self._in:
            self.texts.append((self._in[-1], data))
        if self._cell is not None:
            self._cell.append(data)
        elif self._figure is not None:
            self.figures[self._figure] = self.figures.get(self._figure, "") + data
        if self._in and self._in[-1] == "style":
            self.style += data

    def body(self, table: str) -> list[list[str]]:
        """The table's rows under its header, numbers without their thousands commas."""
        return [[cell.replace(",", "") for cell in row] for row in self.tables[table][1:]]


def run_cli(*argv: str) -> CliResult:
    out, err = io.StringIO(), io.StringIO()
    code = run(list(argv), out, err)
    return CliResult(code, out.getvalue(), err.getvalue())


def _page(cli: Callable[..., CliResult], tmp_path: Path, *argv: str) -> tuple[str, Page]:
    report = tmp_path / "report.html"
    result = cli("--stats", "--html", str(report), *argv)
    assert result.code == 0, result.err
    assert result.out.startswith("wrote the statistics of") and str(report) in result.out
    text = report.read_text(encoding="utf-8")
    return text, Page(text)


def test_the_page_shows_the_figures_of_the_json_output(
    stats_cli: Callable[..., CliResult],  # noqa: F811
    tmp_path: Path,
) -> None:
    figures = json.loads(stats_cli("--stats", "--format", "json").out)
    _, page = _page(stats_cli, tmp_path)
    assert page.body("languages") == [
        ["(unknown)" if lang == "" else lang, str(n)] for lang, n in figures["by_language"].items()
    ]
    days = sorted(set(figures["new_per_day"]) | set(figures["active_per_day"]))
    assert page.body("per-day") == [
        [d, str(figures["new_per_day"].get(d, 0)), str(figures["active_per_day"].get(d, 0))]
        for d in days
    ]
    assert page.body("funnel") == [
        [
            s["state"],
            str(s["entries"]),
            str(s["reached"]),
            str(s["updates"]),
            str(s["not_understood"]),
            str(s["waiting"]),
            str(s["ended"]),
            f"{round(s['drop_off'] * 100)}%",
            duration(s["median_stay_seconds"]),
        ]
        for s in figures["funnel"]
    ]
    assert [row[-1] for row in page.body("funnel")] == ["30s", "1m", "-"]
    assert {k: v.replace(",", "") for k, v in page.figures.items()} == {
        "users": "4",
        "blocked": "1",
        "new": "4",
        "active_latest": "2",  # 2026-03-02
        "waiting": "3",
        "ended": "1",
        "not_understood": "2",
    }
    titles = [tag for tag, _ in page.tags if tag == "title"]
    assert len(titles) >= 4  # the page's and one per chart (the charts' <title> elements)
    assert [(a.actor, a.action, json.loads(a.details)["format"]) for a in AuditRow.select()] == [
        ("cli", "stats", "json"),
        ("cli", "stats", "html"),
    ]


def test_names_from_users_and_authors_stay_text(
    db: peewee.Database,
    stats_cli: Callable[..., CliResult],  # noqa: F811
    tmp_path: Path,
) -> None:
    UserRow.create(id=5, language=HOSTILE_LANGUAGE, first_seen=MARCH_2)
    SessionRow.create(chat_id=5, user_id=5, scenario="s", state=HOSTILE_STATE)
    text, page = _page(stats_cli, tmp_path)
    assert "<script" not in text and "<img" not in text and "onerror=alert(1)>" not in text
    assert [HOSTILE_LANGUAGE, "1"] in page.body("languages")
    assert [HOSTILE_STATE, "0", "0", "0", "0", "1", "0", "0%", "-"] in page.body("funnel")
    # the charts show them too, as text: the bar's label and its tooltip (<title>)
    assert ("text", HOSTILE_STATE) in page.texts and ("text", HOSTILE_LANGUAGE) in page.texts
    assert any(tag == "title" and data.startswith(HOSTILE_STATE) for tag, data in page.texts)


def test_the_page_needs_nothing_but_itself(
    stats_cli: Callable[..., CliResult],  # noqa: F811
    tmp_path: Path,
) -> None:
    text, page = _page(stats_cli, tmp_path)
    fetching = {"script", "link", "img", "iframe", "object", "embed", "image", "use", "audio"}
    assert not [tag for tag, _ in page.tags if tag in fetching]
    links = [
        (tag, name, value)
        for tag, attrs in page.tags
        for name, value in attrs.items()
        if name in ("src", "href", "xlink:href", "srcset", "action", "data", "poster")
    ]
    assert links == []
    assert page.style.strip() and "url(" not in page.style and "@import" not in page.style
    assert "http:" not in text and "https:" not in text
    # per day, languages, not understood, funnel
    assert [tag for tag, _ in page.tags].count("svg") == 4
    assert "over the whole log" in text
    recent, _ = _page(stats_cli, tmp_path, "--days", "3")
    assert "per day and funnel since" in recent  # --days is said on the page
    assert "No new or active users in this period." in recent  # the figures are of March


def test_an_empty_database_gives_a_page_that_says_so(
    db: peewee.Database, store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", store_url)
    report = tmp_path / "empty.html"
    result = run_cli("--stats", "--html", str(report))
    assert result.code == 0, result.err
    page = Page(report.read_text(encoding="utf-8"))
    assert page.figures["users"] == "0" and page.body("funnel") == []
    assert "No new or active users in this period." in report.read_text(encoding="utf-8")


def test_html_goes_with_stats_alone_and_a_file_it_can_write(
    db: peewee.Database, store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", store_url)
    refused = run_cli("--stats", "--html", str(tmp_path / "a.html"), "--format", "json")
    assert refused.code == 2 and "--html applies to --stats only" in refused.err
    assert run_cli("--validate", "--html", str(tmp_path / "a.html")).code == 2
    missing_folder = tmp_path / "no such folder" / "a.html"
    failed = run_cli("--stats", "--html", str(missing_folder))
    assert failed.code == 1 and f"cannot write the report to {missing_folder}" in failed.err
