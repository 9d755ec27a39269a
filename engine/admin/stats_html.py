"""--stats --html FILE: the figures as one self-contained page, because people would rather
look at a funnel than read it. The charts are plain SVG laid out here (no library, nothing
fetched: the file works offline, on a phone and on paper); the page is the template
engine/admin/templates/stats.html.j2, rendered with autoescape, since state names come from
scenario authors and languages from Telegram users."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from importlib import resources

import jinja2
import markupsafe

from engine.admin.stats import Stats
from engine.admin.stats_output import duration

WIDTH = 400  # every chart's viewBox width: its text stays readable scaled down to a phone
LABEL_CHARACTERS = 44  # a longer name is cut in the chart (whole in its <title> and table)
MOST_LANGUAGES = 12  # drawn one by one; the rest as one bar (all of them in the table)
GLYPH_WIDTH = 0.62  # an average character's width in em, sans-serif (wide ones squeeze)
FUNNEL_ROW = 86  # a state's label, two bars and two lines of figures
LANGUAGE_ROW = 38  # a language's label and bar
MOST_DOTS = 62  # days with a dot (and its tooltip) each; above, the lines alone


@dataclass(frozen=True)
class Headline:
    name: str  # the figure's key (data-figure), as in --format json where there is one
    label: str
    value: int
    note: str = ""


@dataclass(frozen=True)
class Bar:
    """A horizontal bar's row: its label line at `y`, the bar (or bars) under it."""

    y: float
    label: str
    full_label: str
    note: str
    parts: tuple[tuple[float, float, float, str], ...]  # x, y, width, css class
    figure: str = ""  # at the right of the label line
    more: str = ""  # a second line of figures under the note


@dataclass(frozen=True)
class BarChart:
    height: float
    bars: tuple[Bar, ...]


@dataclass(frozen=True)
class Dot:
    x: float
    y: float
    day: str
    value: int


@dataclass(frozen=True)
class Line:
    name: str
    css: str
    points: str  # the polyline's "x,y x,y ..."
    dots: tuple[Dot, ...]


@dataclass(frozen=True)
class LineChart:
    height: float
    left: float
    right: float
    top: float
    bottom: float
    lines: tuple[Line, ...]
    y_ticks: tuple[tuple[float, str], ...]
    x_ticks: tuple[tuple[float, str, str], ...]  # x, text-anchor, label


def render_html(stats: Stats, generated: dt.datetime) -> str:
    """The whole page; `generated` is when the figures were read (UTC), shown in it."""
    environment = jinja2.Environment(
        autoescape=True, undefined=jinja2.StrictUndefined, keep_trailing_newline=True
    )
    environment.filters["n"] = lambda value: f"{value:,}"
    environment.globals["fit"] = fit
    environment.globals["text_width"] = text_width
    source = resources.files("engine.admin").joinpath("templates/stats.html.j2")
    template = environment.from_string(source.read_text(encoding="utf-8"))
    days = _days(stats)
    new = {d.day: d.users for d in stats.new_per_day}
    active = {d.day: d.users for d in stats.active_per_day}
    return template.render(
        stats=stats,
        generated=f"{generated:%Y-%m-%d %H:%M} UTC",
        since=f"{stats.since:%Y-%m-%d}" if stats.since else "",
        headlines=_headlines(stats),
        days=[(day, new.get(day, 0), active.get(day, 0)) for day in days],
        per_day=_per_day_chart(stats, new, active) if days else None,
        languages=_language_chart(stats),
        not_understood=_not_understood_chart(stats),
        duration=duration,
        funnel=_funnel_chart(stats),
        width=WIDTH,
    )


def fit(text: str, size: float, room: float) -> markupsafe.Markup:
    """The attributes that squeeze a chart's text into `room` units when it may not fit
    there at `size` px (a long state name, seven-digit figures); nothing when it fits. The
    width is guessed from the characters (the browser's font is not known here), generously,
    so a text is squeezed a little early rather than run out of its chart."""
    if text_width(text, size) <= room:
        return markupsafe.Markup("")
    return markupsafe.Markup(f' textLength="{room:g}" lengthAdjust="spacingAndGlyphs"')


def text_width(text: str, size: float) -> float:
    """A text's width at `size` px as `fit` guesses it."""
    return len(text) * size * GLYPH_WIDTH


def _days(stats: Stats) -> list[str]:
    """The days with a figure, as the table prints them."""
    return sorted({d.day for d in stats.new_per_day} | {d.day for d in stats.active_per_day})


def _headlines(stats: Stats) -> tuple[Headline, ...]:
    latest = stats.active_per_day[-1] if stats.active_per_day else None
    return (
        Headline("users", "Users", stats.users),
        Headline("blocked", "Blocked the bot", stats.blocked),
        Headline("new", "New users", sum(d.users for d in stats.new_per_day)),
        Headline(
            "active_latest",
            "Active on the latest day",
            latest.users if latest else 0,
            latest.day if latest else "no activity logged",
        ),
        Headline("waiting", "Waiting in a state", sum(s.waiting for s in stats.funnel)),
        Headline("ended", "Conversations ended", sum(s.ended for s in stats.funnel)),
        Headline("not_understood", "Not understood", sum(s.not_understood for s in stats.funnel)),
    )


def _cut(text: str) -> str:
    return text if len(text) <= LABEL_CHARACTERS else text[: LABEL_CHARACTERS - 1] + "…"


def _every_day(first: str, last: str) -> list[str]:
    """The days from first to last: a day without a figure is drawn as 0, not skipped."""
    start, end = dt.date.fromisoformat(first), dt.date.fromisoformat(last)
    return [(start + dt.timedelta(days=k)).isoformat() for k in range((end - start).days + 1)]


def _nice_top(value: int) -> int:
    """The y axis' top: 1, 2 or 5 times a power of ten, at least `value`."""
    step = 1
    while True:
        for factor in (1, 2, 5):
            if value <= factor * step:
                return factor * step
        step *= 10


def _per_day_chart(stats: Stats, new: dict[str, int], active: dict[str, int]) -> LineChart:
    known = _days(stats)
    days = _every_day(known[0], known[-1])
    peak = _nice_top(max([*new.values(), *active.values(), 1]))
    # room at the left for the longest y label (about 6.5 units a character at 11.5 px)
    left, right, top, bottom = 10.0 + 6.5 * len(f"{peak:,}"), WIDTH - 14.0, 12.0, 180.0
    span = max(len(days) - 1, 1)

    def x(k: int) -> float:
        return round(left + (right - left) * (k / span if len(days) > 1 else 0.5), 1)

    def y(value: int) -> float:
        return round(bottom - (bottom - top) * value / peak, 1)

    lines = []
    for name, css, values in (("new users", "new", new), ("active users", "active", active)):
        points = [
            (x(k), y(values.get(day, 0)), day, values.get(day, 0)) for k, day in enumerate(days)
        ]
        lines.append(
            Line(
                name,
                css,
                " ".join(f"{px},{py}" for px, py, _, _ in points),
                tuple(Dot(*p) for p in points) if len(days) <= MOST_DOTS else (),
            )
        )
    y_ticks = tuple((y(peak * k // 4), f"{peak * k // 4:,}") for k in range(5))
    marks = sorted({0, len(days) // 2, len(days) - 1})
    anchors = {0: "start", len(days) - 1: "end"}
    x_ticks = tuple(
        (x(k), anchors.get(k, "middle") if len(days) > 1 else "middle", days[k][5:]) for k in marks
    )
    return LineChart(bottom + 22, left, right, top, bottom, tuple(lines), y_ticks, x_ticks)


def _language_chart(stats: Stats) -> BarChart:
    rows = [(lang.language or "(unknown)", lang.users, stats.users) for lang in stats.by_language]
    if len(rows) > MOST_LANGUAGES:
        rest = rows[MOST_LANGUAGES - 1 :]
        others = sum(n for _, n, _ in rest)
        rows = [*rows[: MOST_LANGUAGES - 1], (f"{len(rest)} other languages", others, stats.users)]
    return _bars(rows, "users")


def _not_understood_chart(stats: Stats) -> BarChart:
    """The states where the fallback answered most, with its share of their updates."""
    rows = sorted(
        ((s.state, s.not_understood, s.updates) for s in stats.funnel if s.not_understood),
        key=lambda row: (-row[1], row[0]),
    )
    return _bars(rows[:MOST_LANGUAGES], "waiting")


def _bars(rows: list[tuple[str, int, int]], css: str) -> BarChart:
    """One bar per (label, value, whole): the value and its share of the whole beside it."""
    peak = max([n for _, n, _ in rows] + [1])
    scale = (WIDTH - 2) / peak
    bars = []
    for k, (label, value, whole) in enumerate(rows):
        y = 14.0 + LANGUAGE_ROW * k
        share = f" ({value / whole:.0%})" if whole else ""
        parts = ((0.0, y + 6, round(value * scale, 1), css),)
        note = f"{value:,}{share}"
        bars.append(Bar(y, _cut(label), label, note, parts, note))
    return BarChart(14.0 + LANGUAGE_ROW * len(rows) - 14, tuple(bars))


def _funnel_chart(stats: Stats) -> BarChart:
    """Per state: the users who reached it, and under that the sessions waiting in it (the
    drop-off) and those that ended there, on one scale."""
    peak = max([max(s.reached, s.waiting + s.ended) for s in stats.funnel] + [1])
    scale = (WIDTH - 2) / peak
    bars = []
    for k, state in enumerate(stats.funnel):
        y = 14.0 + FUNNEL_ROW * k
        waiting = round(state.waiting * scale, 1)
        parts = (
            (0.0, y + 6, round(state.reached * scale, 1), "reached"),
            (0.0, y + 21, waiting, "waiting"),
            (waiting, y + 21, round(state.ended * scale, 1), "ended"),
        )
        note = f"waiting {state.waiting:,} (drop-off {state.drop_off:.0%}) · ended {state.ended:,}"
        more = (
            f"entered {state.entries:,} · not understood {state.not_understood:,}"
            f" · median stay {duration(state.median_stay)}"
        )
        figure = f"reached {state.reached:,}"
        bars.append(Bar(y, _cut(state.state), state.state, note, parts, figure, more))
    return BarChart(14.0 + FUNNEL_ROW * len(stats.funnel) - 18, tuple(bars))
