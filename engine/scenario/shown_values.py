"""Values stored by `set:` and shown to users of a bot that speaks several languages: the
stored text is data, never looked up in a catalog, so `{{ rating }}` shows 'good' to a German
user. `{{ _(rating) }}` shows it translated (its values are extracted for translators); a
value printed without `_()` in a message is reported."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from jinja2 import nodes

from engine.core.templating import environment
from engine.scenario.diagnostics import Diagnostic, warning
from engine.scenario.inventory import Inventory, SetText
from engine.scenario.schema_check import describe_path
from engine.scenario.template_checks import has_template_syntax
from engine.scenario.yaml_loader import Path, SourceMap

_TRANSLATE = ("_", "gettext")
# where a template is words for users; not data (set, do, http), not a notice to admins
_SHOWN_AS = ("say", "text", "caption", "random", "retry")
_NOT_SHOWN_UNDER = ("set", "do", "notify", "with", "json", "headers", "form")


def _tree(text: str) -> nodes.Template | None:
    if not has_template_syntax(text):
        return None
    try:
        return environment().parse(text)
    except Exception:  # broken syntax: the template checks report it
        return None


def _bare_name(node: nodes.Node) -> str | None:
    """The variable an output shows as it is: `rating`, `rating | upper`, `rating ~ '!'`."""
    while isinstance(node, nodes.Filter) and node.node is not None:
        node = node.node
    return node.name if isinstance(node, nodes.Name) else None


def printed_names(text: str) -> set[str]:
    """Variables a template prints as stored (not through `_()`, not only in conditions)."""
    tree = _tree(text)
    found: set[str] = set()
    for output in tree.find_all(nodes.Output) if tree is not None else ():
        for child in output.nodes:
            name = _bare_name(child)
            if name is not None:
                found.add(name)
            elif isinstance(child, nodes.Concat):
                found.update(n for n in map(_bare_name, child.nodes) if n is not None)
    return found


def translated_names(text: str) -> set[str]:
    """Variables a template shows translated: `{{ _(rating) }}`."""
    tree = _tree(text)
    found: set[str] = set()
    for call in tree.find_all(nodes.Call) if tree is not None else ():
        if (
            isinstance(call.node, nodes.Name)
            and call.node.name in _TRANSLATE
            and len(call.args) == 1
            and isinstance(call.args[0], nodes.Name)
        ):
            found.add(call.args[0].name)
    return found


def shown_to_users(path: Path) -> bool:
    """Whether the template at `path` is words the user reads (a message, a button, a key)."""
    keys = [p for p in path if isinstance(p, str)]
    if not keys or keys[0] not in ("states", "commands", "fallback"):
        return False
    if any(k in _NOT_SHOWN_UNDER for k in keys[:-1]):
        return False
    if len(keys) > 1 and keys[-2] == "on" and keys[-1] in ("text", "button"):
        return False  # what a handler matches, typed by the user
    return keys[-1] in _SHOWN_AS or keys[-1] in ("buttons", "keyboard")


def translated_set_texts(texts: Iterable[str], set_texts: Iterable[SetText]) -> list[SetText]:
    """The `set:` texts of variables some template shows with `_()`: texts for translators."""
    wanted: set[str] = set()
    for text in texts:
        wanted |= translated_names(text)
    return [found for found in set_texts if found.name in wanted]


def check_shown_values(inv: Inventory, data: Any, source: SourceMap) -> Iterator[Diagnostic]:
    """A `set:` text printed as stored in a message of a bot with several languages."""
    bot = data.get("bot") if isinstance(data, dict) else None
    if not isinstance(bot, dict):
        return
    source_language = bot.get("language", "en")
    others = [
        code
        for code in bot.get("languages") or ()
        if isinstance(code, str) and code != source_language
    ]
    if not others:
        return
    values: dict[str, list[SetText]] = {}
    for found in inv.set_texts:
        values.setdefault(found.name, []).append(found)
    told: set[str] = set()
    for template in inv.templates:
        if not shown_to_users(template.path):
            continue
        for name in sorted(printed_names(template.text) & set(values) - told):
            told.add(name)  # once per variable: the fix is the same everywhere
            first = values[name][0]
            where = source.of(first.path)
            yield warning(
                source.of(template.path),
                "set-text-shown",
                f"{{{{ {name} }}}} {describe_path(template.path)} shows the text `{name}` is set "
                f"to ('{first.value[:40]}', line {where.line}) as it is stored: users who speak "
                f"{', '.join(others)} read it untranslated. Write {{{{ _({name}) }}}}: the texts "
                f"`{name}` is set to are then extracted for translators.",
            )
