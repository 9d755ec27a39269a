"""Translations: extraction, catalog operations, negotiation, plural forms, and the checks
`--validate` runs on catalogs. Catalogs are real .po files in a temporary project."""

from __future__ import annotations

import datetime as dt
import io
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_file
from babel.messages.pofile import read_po, write_po
from builders import Conversation, compile_yaml, texts

from engine.cli import run
from engine.core.effects import NotifyChat
from engine.core.formatting import FILTERS
from engine.core.templating import environment
from engine.core.translation import negotiate
from engine.i18n import catalogs, command_menus
from engine.runtime.scenario_holder import ScenarioHolder
from engine.scenario import validate_file
from engine.scenario.compiler import compile_scenario

BOT = """\
bot: {name: Shop, language: en, languages: [en, ru, de], start: menu}
vars: {n: 1, size: null}
commands:
  start: {description: Start over, goto: menu}
  secret: {description: Staff only, goto: menu, hidden: true}
fallback: Sorry?
states:
  menu:
    note: not for users
    set: {n: "{{ n }}"}
    say: "Hello {{ user.first_name }}! {% trans count=n %}{{ count }} pizza{% pluralize %}{{ count }} pizzas{% endtrans %}"
    buttons:
      - {text: Order, goto: size}
      - {text: Site, url: "https://example.com"}
    on:
      - {text: hi, say: Hi again.}
      - {match: '^status$', say: "New order: {{ size }}"}  # as the notice: translated here only
      - {match: '^(\\d+)$', set: {n: "{{ match[1] | int }}"}, goto: menu}
  size:
    say: Which size?
    ask: {var: size, choices: [Small, Large], retry: Tap a key.}
    goto: done
  done:
    do: [{notify: {to: admins, say: "New order: {{ size }}"}}]
    say: "You chose {{ _(size) }}."
    buttons: languages
    goto: menu
"""

RU = {
    "Start over": "Начать заново",
    "Sorry?": "Простите?",
    ("%(count)s pizza", "%(count)s pizzas"): (
        "%(count)s пицца",
        "%(count)s пиццы",
        "%(count)s пицц",
    ),
    "Hello {{ user.first_name }}! {% trans count=n %}{{ count }} pizza{% pluralize %}{{ count }} pizzas{% endtrans %}": "",
    "Order": "Заказать",
    "Site": "Сайт",
    "hi": "привет",
    "Hi again.": "Снова привет.",
    "Which size?": "Какой размер?",
    "Small": "Маленькая",
    "Large": "Большая",
    "Tap a key.": "Нажмите кнопку.",
    "New order: {{ size }}": "Новый заказ: {{ size }}",
    "You chose {{ _(size) }}.": "Вы выбрали: {{ _(size) }}.",
}


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "scenarios").mkdir()
    (tmp_path / "scenarios" / "shop.yaml").write_text(BOT, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("BOT_LOCALES", raising=False)
    return tmp_path


def cli(*argv: str) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    code = run(list(argv), out, err)
    return code, out.getvalue() + err.getvalue()


def translate(path: Path, translations: dict[object, object]) -> None:
    with open(path, "rb") as handle:
        catalog = read_po(handle)
    for message in catalog:
        if translations.get(message.id):
            message.string = translations[message.id]  # type: ignore[assignment]
    with open(path, "wb") as handle:
        write_po(handle, catalog)


def test_extraction_finds_what_users_see_with_state_and_place(project: Path) -> None:
    assert cli("--extract")[0] == 0
    with open(project / "locales" / "shop.pot", "rb") as handle:
        catalog = read_po(handle)
    ids = {m.id for m in catalog if m.id}
    assert {
        "Start over",
        "Sorry?",
        "Order",
        "hi",
        "Which size?",
        "Small",
        "Tap a key.",
    } <= ids
    # a notice is written in the bot's own language: nobody reads it translated
    assert not [m.id for m in catalog if any("notification" in c for c in m.auto_comments)]
    assert ("%(count)s pizza", "%(count)s pizzas") in ids
    assert "not for users" not in ids and "{{ n }}" not in ids and "https://example.com" not in ids
    order = catalog.get("Order")
    assert order is not None and order.locations == [("scenarios/shop.yaml", 13)]
    assert order.auto_comments == ["button in state menu"]


def test_init_writes_the_languages_plural_forms_and_update_keeps_translations(
    project: Path,
) -> None:
    assert cli("--init", "ru", "scenarios/shop.yaml")[0] == 0
    po = project / "locales" / "ru" / "LC_MESSAGES" / "shop.po"
    text = po.read_text(encoding="utf-8")
    assert "nplurals=3" in text and "msgstr[2]" in text
    code, output = cli("--init", "ru", "scenarios/shop.yaml")
    assert code == 1 and "exists already" in output
    translate(po, {"Order": "Заказать"})
    (project / "scenarios" / "shop.yaml").write_text(
        BOT.replace("Which size?", "What size?"), encoding="utf-8"
    )
    assert cli("--update")[0] == 0
    with open(po, "rb") as handle:
        catalog = read_po(handle)
    assert catalog.get("Order").string == "Заказать"  # type: ignore[union-attr]
    assert catalog.get("What size?") is not None
    assert cli("--compile")[0] == 0 and (po.parent / "shop.mo").exists()


def ready(project: Path) -> Path:
    cli("--init", "ru", "scenarios/shop.yaml")
    cli("--init", "de", "scenarios/shop.yaml")
    po = project / "locales" / "ru" / "LC_MESSAGES" / "shop.po"
    translate(po, RU)
    return po


def shop(project: Path):  # type: ignore[no-untyped-def]
    report = validate_file(str(project / "scenarios" / "shop.yaml"))
    assert report.scenario is not None
    return compile_scenario(report.scenario)


@pytest.mark.parametrize(
    ("n", "word"), [(1, "пицца"), (2, "пиццы"), (5, "пицц"), (21, "пицца"), (11, "пицц")]
)
def test_russian_plural_forms(project: Path, n: int, word: str) -> None:
    ready(project)
    chat = Conversation(shop(project))
    chat.session = chat.session.evolve(language="ru")
    chat.send("/start")
    assert texts(chat.send(str(n)))[-1].endswith(f"{n} {word}")


def test_a_new_users_language_is_negotiated_and_texts_are_translated_before_rendering(
    project: Path,
) -> None:
    ready(project)
    chat = Conversation(shop(project))
    chat.user = chat.user.__class__(7, "Аня", language="ru-RU")
    # the text itself has no translation, its {% trans %} part has
    # a first "hi" is answered after the greeting, by `on: text` matching the translation
    assert texts(chat.send("привет")) == ["Hello Аня! 1 пицца", "Снова привет."]
    assert chat.session.language == "ru"
    assert texts(chat.send("Привет")) == ["Снова привет."]  # `on: text` matches the translation
    chat.press("Заказать")
    assert texts(chat.send("большая")) == ["Вы выбрали: Большая."]  # translated choice, `_(size)`
    assert chat.session.vars["size"] == "Large"  # the variable keeps the source label
    assert chat.last is not None


def test_the_language_menu_switches_and_shows_each_language_by_its_own_name(project: Path) -> None:
    ready(project)
    chat = Conversation(shop(project))
    chat.send("/start")
    chat.press("Order")
    chat.send("Small")
    assert list(chat.buttons) == ["English", "Русский", "Deutsch"]
    chat.press("Русский")
    assert chat.session.language == "ru"
    assert "Заказать" in chat.buttons


def test_negotiation_falls_back_step_by_step() -> None:
    offered = ("en", "pt_BR", "pt", "de")
    assert negotiate("pt-BR", offered, "en") == "pt_BR"
    assert negotiate("pt-PT", offered, "en") == "pt"
    assert negotiate("de-AT", offered, "en") == "de"
    assert negotiate("fr", offered, "en") == "en"
    assert negotiate("", offered, "en") == "en"


def test_command_menus_per_language_leave_hidden_commands_out(project: Path) -> None:
    ready(project)
    menus = command_menus(shop(project))
    assert menus["ru"] == [("start", "Начать заново")]  # /secret is hidden
    assert menus["en"] == [("start", "Start over")] and menus["de"] == [("start", "Start over")]


def test_translations_are_compiled_once(project: Path) -> None:
    ready(project)
    scenario = shop(project)
    text = scenario.states["size"].enter.say[0].text
    assert text is not None
    assert scenario.translator.text(text, "ru") is scenario.translator.text(text, "ru")


def test_validate_reports_missing_and_incomplete_catalogs(project: Path) -> None:
    code, output = cli("--validate")
    assert code == 0 and "there is no ru catalog" in output and "[catalog-missing]" in output
    ready(project)
    code, output = cli("--validate")
    assert (
        "locales/ru/LC_MESSAGES/shop.po:1:1: warning: ru: 13 of 14 texts translated (92%), 1 missing, 0 fuzzy"
        in output
    )
    assert "de: 0 of 14 texts translated (0%)" in output
    assert cli("--validate", "--strict")[0] == 1


@pytest.mark.parametrize(
    ("translation", "code", "words"),
    [
        (
            "Новый заказ: {{ размер }}",
            "translation-placeholders",
            "drops {{ size }} and adds {{ размер }}",
        ),
        ("Новый заказ", "translation-placeholders", "drops {{ size }}"),
        ("Новый заказ: {{ size }", "translation-syntax", "breaks the template"),
        (
            "Новый заказ: {{ size }}{% trans %}x{% endtrans %",
            "translation-syntax",
            "breaks the template",
        ),
    ],
)
def test_validate_rejects_translations_that_break_placeholders(
    project: Path, translation: str, code: str, words: str
) -> None:
    po = ready(project)
    translate(po, {"New order: {{ size }}": translation})
    status, output = cli("--validate")
    line = (
        next(
            i
            for i, text in enumerate(po.read_text(encoding="utf-8").splitlines(), 1)
            if text.startswith('msgid "New order')
        )
        + 1
    )  # the msgstr line below it, where the translator writes
    assert status == 1
    assert (
        f"locales/ru/LC_MESSAGES/shop.po:{line}:1: error:" in output
        and f"[{code}]" in output
        and words in output
    )


def test_validate_reports_broken_po_files_and_hostile_plural_rules(project: Path) -> None:
    po = ready(project)
    po.write_text(
        po.read_text(encoding="utf-8") + '\nmsgid "broken\nmsgstr "x"\n', encoding="utf-8"
    )
    status, output = cli("--validate")
    assert status == 1 and "[po-syntax]" in output and "shop.po:" in output
    ready_text = po.read_text(encoding="utf-8").split('\nmsgid "broken')[0]
    hostile = ready_text.replace("nplurals=3; plural=", "nplurals=3; plural=__import__('os') if ")
    po.write_text(hostile, encoding="utf-8")
    status, output = cli("--validate")
    assert status == 1 and "[po-plural-forms]" in output
    chat = Conversation(shop(project))  # the bot still runs, in English for that language
    chat.session = chat.session.evolve(language="ru")
    assert texts(chat.send("/start")) == ["Hello Ann! 1 pizza"]


def test_pybabel_can_extract_with_the_registered_extractor(project: Path) -> None:
    found = list(extract_from_file("scenario", os.path.join("scenarios", "shop.yaml")))
    assert (13, "Order", ["button in state menu"], None) in found


def test_percent_signs_only_matter_in_plural_and_trans_texts(project: Path) -> None:
    po = ready(project)
    translate(po, {"Tap a key.": "Нажмите кнопку: скидка 10% сегодня."})
    status, output = cli("--validate")
    assert status == 0 and "[translation-format]" not in output
    plural = ("%(count)s pizza", "%(count)s pizzas")
    translate(po, {plural: ("%(count)s пицца", "%(count)d пиццы", "%(count)s пицц")})
    status, output = cli("--validate")
    assert status == 1 and "[translation-format]" in output
    broken = next(  # the msgstr[1] line of that entry, where the translator wrote it
        i
        for i, text in enumerate(po.read_text(encoding="utf-8").splitlines(), 1)
        if text.startswith('msgstr[1] "%(count)d')
    )
    assert f"shop.po:{broken}:1: error:" in output


ROOT = Path(__file__).resolve().parents[1]


def _pybabel_extract(folder: Path, target: str) -> Catalog:
    """Babel's own command line, with the project's mapping file, as a translator runs it."""
    out = folder / "out.pot"
    mapping = str(ROOT / "locales" / "babel.cfg")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "babel.messages.frontend",
            "extract",
            "-F",
            mapping,
            "-o",
            str(out),
            target,
        ],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    with open(out, "rb") as handle:
        return read_po(handle)


@pytest.mark.parametrize("target", [".", "scenarios"])
def test_pybabel_extract_with_the_mapping_file_finds_the_texts_and_skips_tests(
    project: Path, target: str
) -> None:
    (project / "scenarios" / "shop.tests.yaml").write_text(
        "- name: orders\n  steps:\n    - send: a text only this test sends\n", encoding="utf-8"
    )
    catalog = _pybabel_extract(project, target)
    order = catalog.get("Order")
    assert order is not None, "pybabel found no texts with locales/babel.cfg"
    assert order.auto_comments == ["button in state menu"]
    assert order.locations == [("scenarios/shop.yaml", 13)]
    assert catalog.get(("%(count)s pizza", "%(count)s pizzas")) is not None
    assert catalog.get("a text only this test sends") is None


def test_fuzzy_translations_are_counted_and_not_shown(project: Path) -> None:
    po = ready(project)
    with open(po, "rb") as handle:
        catalog = read_po(handle)
    catalog.get("Which size?").flags.add("fuzzy")  # type: ignore[union-attr]
    with open(po, "wb") as handle:
        write_po(handle, catalog)
    code, output = cli("--validate")
    assert code == 0
    assert "ru: 12 of 14 texts translated (85%), 1 missing, 1 fuzzy" in output
    chat = Conversation(shop(project))
    chat.session = chat.session.evolve(language="ru")
    chat.send("/start")
    assert texts(chat.press("Заказать")) == ["Which size?"]  # not the fuzzy "Какой размер?"


def test_a_broken_po_line_is_reported_at_its_line(project: Path) -> None:
    po = ready(project)
    lines = po.read_text(encoding="utf-8").splitlines()
    at = next(i for i, text in enumerate(lines) if text == 'msgstr "Заказать"')
    lines[at] = 'msgstr "Заказать'
    po.write_text("\n".join(lines) + "\n", encoding="utf-8")
    status, output = cli("--validate")
    assert status == 1
    assert f"locales/ru/LC_MESSAGES/shop.po:{at + 1}:1: error: " in output
    assert "[po-syntax]" in output


def _documented_formats() -> list[tuple[str, str, str]]:
    """The table of docs/translating.md: (template, language, what it must show)."""
    text = (ROOT / "docs" / "translating.md").read_text(encoding="utf-8")
    table = text.split("| filter | English | Russian | German |")[1].split("\n\n")[0]
    rows: list[tuple[str, str, str]] = []
    for line in table.strip().splitlines()[1:]:
        cells = [c.strip() for c in line.replace("\\|", "¦").strip("|").split("|")]
        template = cells[0].split("`")[1].replace("¦", "|")
        rows.extend(zip([template] * 3, ("en", "ru", "de"), cells[1:], strict=True))
    return rows


@pytest.mark.parametrize(("template", "language", "shown"), _documented_formats())
def test_formats_follow_the_users_language_as_documented(
    template: str, language: str, shown: str
) -> None:
    moment = dt.datetime(2025, 12, 24, 19, 30)
    rendered = (
        environment()
        .from_string(template)
        .render(
            _locale=language,
            deliver_on=moment.date(),
            now=moment,
            last_order_at=moment - dt.timedelta(days=3),
        )
    )
    # Babel writes the spaces of a number or a date as no-break spaces, as they should be
    assert rendered.replace("\u202f", " ").replace("\xa0", " ") == shown


def test_the_formats_table_covers_every_locale_filter() -> None:
    text = (ROOT / "docs" / "translating.md").read_text(encoding="utf-8")
    table = text.split("| filter | English | Russian | German |")[1].split("\n\n")[0]
    for name in FILTERS:
        assert f"\\| {name}" in table or f"`{name}`" in table, f"{name} is not in the table"


def test_a_language_with_a_region_from_init_to_a_new_user(project: Path) -> None:
    bot = project / "scenarios" / "shop.yaml"
    bot.write_text(BOT.replace("languages: [en, ru, de]", "languages: [en, pt_BR]"), "utf-8")
    code, output = cli("--init", "pt-BR", "scenarios/shop.yaml")  # as Telegram writes it
    assert code == 0, output
    po = project / "locales" / "pt_BR" / "LC_MESSAGES" / "shop.po"
    assert "(add" not in output  # pt_BR is the language the bot offers
    translate(po, {"Which size?": "Qual tamanho?", "Order": "Pedir"})
    chat = Conversation(shop(project))
    chat.user = chat.user.__class__(7, "Ana", language="pt-br")  # Telegram's language_code
    chat.send("/start")
    assert chat.session.language == "pt_BR"
    assert texts(chat.press("Pedir")) == ["Qual tamanho?"]


def test_catalogs_are_read_when_the_bot_starts_not_per_message(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ready(project)
    scenario = shop(project)
    reads: list[object] = []
    real_read_po = catalogs.read_po
    monkeypatch.setattr(
        catalogs, "read_po", lambda *a, **k: reads.append(a) or real_read_po(*a, **k)
    )
    chat = Conversation(scenario)
    chat.session = chat.session.evolve(language="ru")
    for _ in range(3):
        chat.send("/start")
        assert texts(chat.press("Заказать")) == ["Какой размер?"]
        chat.send("Большая")
    assert reads == []
    shop(project)  # compiling the scenario (start, reload) is when catalogs are read
    assert len(reads) >= 1


@pytest.mark.parametrize(
    ("translation", "tag"),
    [
        ("{% set size = user.id %}Вы выбрали: {{ _(size) }}.", "{% set %}"),
        ("{% macro m() %}{% endmacro %}Вы выбрали: {{ _(size) }}.{{ m() }}", "{% macro %}"),
        ("{% autoescape false %}Вы выбрали: {{ _(size) }}.{% endautoescape %}", "{% autoescape %}"),
        ("{% with size = user.id %}Вы выбрали: {{ _(size) }}.{% endwith %}", "{% with %}"),
    ],
)
def test_translations_may_not_assign_or_define(project: Path, translation: str, tag: str) -> None:
    """A translator's `{% set size = user.id %}` showed another value under a known name:
    `--validate` names the .po entry's line, and the running bot keeps the original text."""
    po = ready(project)
    translate(po, {"You chose {{ _(size) }}.": translation})
    status, output = cli("--validate")
    line = (
        next(
            i
            for i, text in enumerate(po.read_text(encoding="utf-8").splitlines(), 1)
            if text.startswith('msgid "You chose')
        )
        + 1
    )  # the msgstr line below it
    assert status == 1
    assert f"shop.po:{line}:1: error:" in output and "[translation-statement]" in output
    assert tag in output
    chat = Conversation(shop(project))
    chat.session = chat.session.evolve(language="ru")
    chat.send("/start")
    chat.press("Заказать")
    assert texts(chat.send("большая")) == ["You chose Большая."]  # the original text, not 7


def test_translations_keep_their_ifs_and_loops(project: Path) -> None:
    po = ready(project)
    translate(po, {"New order: {{ size }}": "Новый заказ: {% if size %}{{ size }}{% endif %}"})
    assert "[translation-statement]" not in cli("--validate")[1]


def test_an_empty_fallback_stays_silent_in_every_language(project: Path) -> None:
    """`fallback: ""` means "say nothing": gettext("") is a catalog's header, which users of a
    translated language were sent ("Project-Id-Version: ...")."""
    shop_file = project / "scenarios" / "shop.yaml"
    shop_file.write_text(BOT.replace("fallback: Sorry?", 'fallback: ""'), encoding="utf-8")
    ready(project)
    chat = Conversation(shop(project))
    chat.session = chat.session.evolve(language="ru")
    chat.send("/start")
    assert texts(chat.send("something the menu does not expect")) == []
    assert texts(chat.send("привет")) == ["Снова привет."]  # the catalog is in use


@pytest.mark.parametrize(
    "expression",
    [
        "price | currency",
        "price | currency('USD')",
        "price | number",
        "price | percent",
        "due | date",
        "due | time",
        "due | datetime",
        "wait | minutes",
        "wait | hours",
        "wait | days",
        "due | ago",
    ],
)
def test_a_null_value_through_a_filter_prints_as_nothing(tmp_path: Path, expression: str) -> None:
    """docs: a variable with no value yet prints as nothing; through `currency` (or another
    format filter) it raised, and the whole message was replaced by the apology."""
    bot = f"""\
bot: {{name: Shop, language: en, start: menu}}
vars: {{price: null, due: null, wait: null}}
states:
  menu:
    say: "Total: [{{{{ {expression} }}}}]"
"""
    chat = Conversation(compile_yaml(bot, tmp_path))
    assert texts(chat.send("/start")) == ["Total: []"]


def test_notices_to_the_admins_are_in_the_bots_language(project: Path) -> None:
    """The customer speaks Russian; the admins read the bot's language (issue 16: the notice
    was written in the customer's)."""
    bot = BOT.replace('"New order: {{ size }}"', '"New order: {{ size }} ({{ user.language }})"')
    (project / "scenarios" / "shop.yaml").write_text(bot, encoding="utf-8")
    po = ready(project)
    translate(po, {"New order: {{ size }} ({{ user.language }})": "Заказ: {{ size }}"})
    chat = Conversation(shop(project))
    chat.session = chat.session.evolve(language="ru")
    chat.send("/start")
    chat.press("Заказать")
    effects = chat.send("Маленькая")
    notices = [e.text for e in effects if isinstance(e, NotifyChat)]
    assert notices == ["New order: Small (ru)"]  # the bot's language; the user's stays known
    assert texts(effects)[0] == "Вы выбрали: Маленькая."  # the customer's reply: Russian


def test_update_never_cuts_a_placeholder_across_lines(project: Path) -> None:
    """Babel wrapped long texts at spaces, and so inside `{{ ... }}` (issue 16)."""
    long_text = (
        "Thank you for your order, {{ user.first_name }}! We will call you at {{ phone }} "
        "as soon as the courier leaves with {{ size }} pizzas."
    )
    bot = BOT.replace("vars: {n: 1, size: null}", "vars: {n: 1, size: null, phone: null}")
    bot = bot.replace("    say: Which size?", f'    say: "{long_text}"\n    note: x', 1)
    (project / "scenarios" / "shop.yaml").write_text(bot, encoding="utf-8")
    assert cli("--init", "de", "scenarios/shop.yaml")[0] == 0
    po = (project / "locales" / "de" / "LC_MESSAGES" / "shop.po").read_text(encoding="utf-8")
    assert f'msgid "{long_text}"' in po
    for line in po.splitlines():
        assert line.count("{{") == line.count("}}"), line


SIZE_TESTS = """\
- name: asks the size in Russian
  language: ru
  steps:
    - send: /start
    - press: Заказать
      expect: Which size?
"""


def test_a_broken_translation_follows_one_rule_everywhere(
    project: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """`--validate` reports it at its msgstr line; `--chat`, `--test` and the bot leave the
    entry out (users read the original, the rest of the catalog is used) and say so once,
    at the same place. Before, the chat and tests showed the broken text and the bot refused
    to start."""
    po = ready(project)
    translate(po, {"Which size?": "Какой {{ размер }}?"})  # a placeholder the text lacks
    line = 1 + next(
        i
        for i, text in enumerate(po.read_text(encoding="utf-8").splitlines(), 1)
        if text.startswith('msgid "Which size?"')
    )
    where = f"locales/ru/LC_MESSAGES/shop.po:{line}"
    status, output = cli("--validate")
    assert status == 1 and f"{where}:1: error:" in output
    assert "adds {{ размер }}" in output and "[translation-placeholders]" in output

    told = f"{where}: the translation of 'Which size?' is not used (it adds {{{{ размер }}}})"
    out, err = io.StringIO(), io.StringIO()
    chat_input = io.StringIO("1\n")  # presses the first button, Заказать
    assert run(["--chat", "--lang", "ru", "scenarios/shop.yaml"], out, err, chat_input) == 0
    assert err.getvalue().count(told) == 1
    assert "bot: Which size?" in out.getvalue() and "Заказать" in out.getvalue()

    tests = project / "scenarios" / "shop.tests.yaml"
    tests.write_text(SIZE_TESTS, encoding="utf-8")
    status, output = cli("--test", str(tests))
    assert status == 0, output
    assert output.count(told) == 1 and "PASS  asks the size in Russian" in output

    caplog.set_level(logging.WARNING, logger="engine.reload")
    holder = ScenarioHolder("scenarios/shop.yaml")  # the bot starts, as it does for a deploy
    assert caplog.text.count(told) == 1
    chat = Conversation(holder.current)
    chat.session = chat.session.evolve(language="ru")
    chat.send("/start")
    assert texts(chat.press("Заказать")) == ["Which size?"]


RATING_BOT = """\
bot: {name: Rate, language: en, languages: [en, de], start: ask}
vars: {rating: null}
states:
  ask:
    say: How was it?
    buttons:
      - {text: Good, set: {rating: good}, goto: thanks}
      - {text: Bad, set: {rating: bad}, goto: thanks}
  thanks:
    say: "You found it {{ SHOWN }}."
    do: [{notify: {to: admins, say: "Rated {{ rating }}"}}]
    end: true
"""


def test_a_value_a_button_stores_is_shown_translated_with_underscore(project: Path) -> None:
    """`set: {rating: good}` stores the word; `{{ rating }}` showed 'good' to German users
    without a word from --validate. Now it is a warning, and `{{ _(rating) }}` shows the
    translation: the stored texts become catalog entries."""
    path = project / "scenarios" / "rate.yaml"
    path.write_text(RATING_BOT.replace("SHOWN", "rating"), encoding="utf-8")
    status, output = cli("--validate", "--strict", str(path))
    assert status == 1 and "[set-text-shown]" in output and "rate.yaml:10:" in output
    assert output.count("[set-text-shown]") == 1  # the notice to admins is in the bot's language

    path.write_text(RATING_BOT.replace("SHOWN", "_(rating)"), encoding="utf-8")
    assert cli("--init", "de", str(path))[0] == 0
    po = project / "locales" / "de" / "LC_MESSAGES" / "rate.po"
    translate(
        po,
        {"How was it?": "Wie war es?", "Good": "Gut", "Bad": "Schlecht", "good": "gut"}
        | {"bad": "schlecht", "You found it {{ _(rating) }}.": "Sie fanden es {{ _(rating) }}."}
        | {"Rated {{ rating }}": "Bewertet: {{ rating }}"},
    )
    assert "a value of rating (set:), shown with _(rating)" in po.read_text(encoding="utf-8")
    status, output = cli("--validate", "--strict", str(path))
    assert status == 0, output
    report = validate_file(str(path))
    assert report.scenario is not None
    chat = Conversation(compile_scenario(report.scenario))
    chat.session = chat.session.evolve(language="de")
    assert texts(chat.send("/start")) == ["Wie war es?"]
    assert texts(chat.press("Gut")) == ["Sie fanden es gut."]
    assert chat.session.vars["rating"] == "good"  # stored as written: conditions keep working
