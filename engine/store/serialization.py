"""Sessions and effects as JSON rows, and back."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import json
from collections import OrderedDict
from typing import Any

from engine.core import effects as effect_types
from engine.core.effects import (
    NO_MARKUP,
    AnswerButton,
    EditText,
    Effect,
    InlineButton,
    Markup,
    ReplyKey,
    SendText,
)
from engine.core.session import Frame, Session

_EFFECTS: dict[str, type[Effect]] = {
    name: value
    for name, value in vars(effect_types).items()
    if isinstance(value, type) and issubclass(value, Effect) and value is not Effect
}


_SCALARS = (str, int, float, bool, type(None))
_FIELDS: dict[type, tuple[str, ...]] = {}


def _names(kind: type) -> tuple[str, ...]:
    """A dataclass's field names (dataclasses.fields is slow; this is per effect sent)."""
    names = _FIELDS.get(kind)
    if names is None:
        names = _FIELDS[kind] = tuple(f.name for f in dataclasses.fields(kind))
    return names


_NONE_BY_DEFAULT: dict[type, frozenset[str]] = {}


def _none_by_default(kind: type) -> frozenset[str]:
    """The fields whose default is None: left out of a payload while None (decoding fills
    them in), so a field added later costs the usual rows nothing."""
    names = _NONE_BY_DEFAULT.get(kind)
    if names is None:
        names = _NONE_BY_DEFAULT[kind] = frozenset(
            f.name for f in dataclasses.fields(kind) if f.default is None
        )
    return names


def _plain(value: Any) -> Any:
    if isinstance(value, _SCALARS):
        return value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {name: _plain(getattr(value, name)) for name in _names(type(value))}
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


_EXACT_SCALARS = frozenset({str, int, float, bool, type(None)})

# one encoder, built once: json.dumps with any option builds a new JSONEncoder per call.
# No circular check: effects and variables are plain values (trees), never cyclic.
_encode = json.JSONEncoder(ensure_ascii=False, check_circular=False).encode
_quote = json.encoder.encode_basestring  # a str as JSON, as _encode writes it (not ASCII-only)


def _markup_plain(markup: Markup) -> dict[str, Any]:
    """A keyboard as JSON values without the general walk (one per message sent); what is
    left at its default is left out (decoding fills it in)."""
    plain: dict[str, Any] = {}
    if markup.inline:
        plain["inline"] = [[_button_plain(b) for b in row] for row in markup.inline]
    if markup.keyboard:
        plain["keyboard"] = [[_key_plain(k) for k in row] for row in markup.keyboard]
    if markup.remove_keyboard:
        plain["remove_keyboard"] = True
    if markup.one_time:
        plain["one_time"] = True
    if markup.placeholder:
        plain["placeholder"] = markup.placeholder
    if not markup.resize:
        plain["resize"] = False
    return plain


def _button_plain(button: InlineButton) -> dict[str, Any]:
    if button.url is None:
        return {"text": button.text, "data": button.data}
    return {"text": button.text, "data": button.data, "url": button.url}


def _key_plain(key: ReplyKey) -> dict[str, Any]:
    plain: dict[str, Any] = {"text": key.text}
    if key.request_contact:
        plain["request_contact"] = True
    if key.request_location:
        plain["request_location"] = True
    return plain


class RecentEffects:
    """Effects queued a moment ago, by their JSON, shared by a process's store and its
    sender: the sender, which usually reads them back within the second, takes the effect
    instead of decoding its row. Bounded; the oldest go first (another process may be the
    one sending). An OrderedDict: dropping a plain dict's first entry again and again makes
    finding the next one slow."""

    def __init__(self, size: int = 4096) -> None:
        self.size = size
        self._by_json: OrderedDict[str, Effect] = OrderedDict()

    def queued_json(self, effect: Effect) -> str:
        """The effect's outbox payload; the effect is kept for `effect_of`."""
        text = effect_to_json(effect)
        by_json = self._by_json
        by_json[text] = effect
        if len(by_json) > self.size:
            with contextlib.suppress(KeyError):  # another thread took the last one first
                by_json.popitem(last=False)
        return text

    def effect_of(self, text: str) -> Effect:
        """The effect of an outbox payload: the one queued here, else decoded."""
        return self._by_json.pop(text, None) or effect_from_json(text)


def effect_to_json(effect: Effect) -> str:
    usual = _usual_effect_json(effect)
    return usual if usual is not None else _walked_effect_json(effect)


def _optional(value: Any) -> str | None:
    """A str or None as JSON; None (not "null") when it is neither."""
    if value is None:
        return "null"
    return _quote(value) if type(value) is str else None


def _usual_effect_json(effect: Effect) -> str | None:
    """The payload of a text, an edit or a press's answer, written out directly: the same
    text as the general walk (a property test compares them), in a third of its time (each
    queued message pays it). None for anything else, or a field of an unexpected type."""
    kind = type(effect)
    if kind is SendText or kind is EditText:
        assert isinstance(effect, SendText | EditText)
        mode = _optional(effect.parse_mode)
        if type(effect.chat_id) is not int or type(effect.text) is not str or mode is None:
            return None
        head = f'{{"type": "{kind.__name__}", "chat_id": {effect.chat_id}'
        if isinstance(effect, EditText):
            if type(effect.message_id) is not int:
                return None
            head += f', "message_id": {effect.message_id}'
        head += f', "text": {_quote(effect.text)}, "parse_mode": {mode}'
        if type(effect.markup) is not Markup:
            return None
        tail = "}"
        if isinstance(effect, SendText) and effect.reply_to is not None:
            if type(effect.reply_to) is not int:
                return None
            tail = f', "reply_to": {effect.reply_to}}}'
        if not effect.markup:  # no keyboard is the default, filled in when decoded
            return head + tail
        markup = _markup_json(effect.markup)
        return None if markup is None else f'{head}, "markup": {markup}{tail}'
    if kind is AnswerButton:
        assert isinstance(effect, AnswerButton)
        if not (type(effect.callback_id) is str and type(effect.text) is str):
            return None
        if type(effect.alert) is not bool:
            return None
        alert = "true" if effect.alert else "false"
        return (
            f'{{"type": "AnswerButton", "callback_id": {_quote(effect.callback_id)}, '
            f'"text": {_quote(effect.text)}, "alert": {alert}}}'
        )
    return None


def _markup_json(markup: Markup) -> str | None:
    """_markup_plain's JSON, written out; None for a field of an unexpected type."""
    parts = []
    if markup.inline:
        rows = []
        for row in markup.inline:
            buttons = []
            for button in row:
                data = _quote(button.data) if type(button.data) is str else _optional(button.data)
                url = "null" if button.url is None else _optional(button.url)  # mostly none
                if type(button.text) is not str or data is None or url is None:
                    return None
                plain = f'{{"text": {_quote(button.text)}, "data": {data}'
                buttons.append(plain + "}" if button.url is None else f'{plain}, "url": {url}}}')
            rows.append("[" + ", ".join(buttons) + "]")
        parts.append('"inline": [' + ", ".join(rows) + "]")
    if markup.keyboard:
        rows = []
        for keys in markup.keyboard:
            written = []
            for key in keys:
                if type(key.text) is not str:
                    return None
                plain = f'{{"text": {_quote(key.text)}'
                if key.request_contact:
                    plain += ', "request_contact": true'
                if key.request_location:
                    plain += ', "request_location": true'
                written.append(plain + "}")
            rows.append("[" + ", ".join(written) + "]")
        parts.append('"keyboard": [' + ", ".join(rows) + "]")
    if markup.remove_keyboard:
        parts.append('"remove_keyboard": true')
    if markup.one_time:
        parts.append('"one_time": true')
    if markup.placeholder:
        if type(markup.placeholder) is not str:
            return None
        parts.append(f'"placeholder": {_quote(markup.placeholder)}')
    if not markup.resize:
        parts.append('"resize": false')
    return "{" + ", ".join(parts) + "}"


def _walked_effect_json(effect: Effect) -> str:
    fields: dict[str, Any] = {"type": type(effect).__name__}
    values = vars(effect)  # a dataclass's fields, in their order (frozen: set once in __init__)
    if len(values) != len(_names(type(effect))):  # something else in __dict__: by the fields
        values = {name: getattr(effect, name) for name in _names(type(effect))}
    unset = _none_by_default(type(effect))
    for name, value in values.items():
        if value is None and name in unset:
            continue  # the default, filled in when decoded
        if type(value) in _EXACT_SCALARS:
            fields[name] = value
        elif type(value) is Markup:
            if value:  # no keyboard is the default, filled in when decoded
                fields[name] = _markup_plain(value)
        else:
            fields[name] = _plain(value)
    return _encode(fields)


def _markup(data: dict[str, Any]) -> Markup:
    return Markup(
        inline=tuple(tuple(InlineButton(**b) for b in row) for row in data.get("inline", ())),
        keyboard=tuple(tuple(ReplyKey(**k) for k in row) for row in data.get("keyboard", ())),
        remove_keyboard=bool(data.get("remove_keyboard", False)),
        one_time=bool(data.get("one_time", False)),
        placeholder=str(data.get("placeholder", "")),
        resize=bool(data.get("resize", True)),
    )


def effect_from_json(text: str) -> Effect:
    data = json.loads(text)
    kind = _EFFECTS[data.pop("type")]
    fields = _names(kind)
    values: dict[str, Any] = {}
    for name, value in data.items():
        if name not in fields:
            continue
        if name == "markup":
            value = _markup(value) if value else NO_MARKUP
        elif name == "due":
            value = dt.datetime.fromisoformat(value)
        elif isinstance(value, list):
            value = tuple(tuple(v) if isinstance(v, list) else v for v in value)
        values[name] = value
    return kind(**values)


def stack_to_json(stack: tuple[Frame, ...]) -> str:
    if not stack:
        return "[]"  # most sessions are in no sub-flow
    return json.dumps([[f.state, f.follow_goto] for f in stack])


def stack_from_json(text: str) -> tuple[Frame, ...]:
    if not text or text == "[]":
        return ()
    return tuple(Frame(state, bool(follow)) for state, follow in json.loads(text))


def session_row(
    session: Session,
    scenario: str,
    vars_json: str,
    now: dt.datetime,
    entered: float | None = None,
) -> dict[str, Any]:
    return {
        "chat_id": session.chat_id,
        "user_id": session.user_id,
        "scenario": scenario,
        "state": session.state,
        "vars": vars_json,
        "stack": stack_to_json(session.stack),
        "attempts": session.attempts,
        "epoch": session.epoch,
        "language": session.language,
        "ended": session.ended,
        "scenario_version": session.scenario_version,
        "updated": now,
        "entered": entered,
    }
