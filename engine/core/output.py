"""Building outgoing messages: rendering `say`, picking `random:` variants, attaching keyboards
to the last message, splitting long texts, and editing a menu in place."""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass, replace

from engine.core import builtin_texts
from engine.core.callback_data import button_data
from engine.core.effects import (
    NO_MARKUP,
    EditText,
    Effect,
    InlineButton,
    Markup,
    ReplyKey,
    SendLocation,
    SendMedia,
    SendText,
)
from engine.core.model import Ask, Button, Expression, Key, Message, State, Text
from engine.core.rendering import CAPTION_LIMIT, RenderError, Scope, evaluate, render, split_text
from engine.core.translation import NoTranslation, Translator


@dataclass(slots=True)
class Outgoing:
    """One message about to be sent; its markup may still change before it becomes an effect."""

    text: str = ""
    media_kind: str | None = None
    media: str = ""
    location: tuple[float, float] | None = None
    parse_mode: str | None = "HTML"
    markup: Markup = NO_MARKUP


def parse_mode(mode: str) -> str | None:
    return None if mode == "none" else mode


class MessageBuilder:
    """Renders messages for one step; problems are reported, never raised."""

    def __init__(
        self,
        context: Callable[[], Scope],
        report: Callable[[str, str], None],
        seed: int,
        translator: Translator | None = None,
        language: str = "",
        user_id: int = 0,
        tag: str = "",
    ) -> None:
        self.context = context
        self.report = report
        self.seed = seed
        self.translator: Translator = translator or NoTranslation()
        self.language = language  # the step's; `set_language` changes it mid-step
        self.user_id = user_id
        self.tag = tag  # carried by inline buttons: whom they are for (groups)

    def text(self, text: Text) -> str | None:
        translated = self.translator.text(text, self.language)
        if translated.template is None:
            return translated.source
        try:
            return render(translated, self.context())
        except RenderError as exc:
            self.report(f"cannot render `{text.source[:80]}`: {exc}", "template_failed")
            return None

    def builtin(self, message: str) -> str:
        """One of the engine's own texts, in the user's language."""
        return self.text(Text(message, "none")) or message

    def holds(self, condition: Expression | None) -> bool:
        if condition is None:
            return True
        try:
            return bool(evaluate(condition, self.context()))
        except RenderError as exc:  # a condition over missing data is false, and reported
            self.report(f"cannot evaluate: {exc}", "template_failed")
            return False

    def messages(self, say: tuple[Message, ...], state: str, epoch: int) -> list[Outgoing]:
        out: list[Outgoing] = []
        for position, message in enumerate(say):
            chosen = self._variant(message, state, position, epoch) if message.variants else message
            if chosen is None or (
                chosen.condition is not None and not self.holds(chosen.condition)
            ):
                continue
            built = self._one(chosen, state, epoch)
            if built is not None:
                out.append(built)
        return out

    def _variant(self, message: Message, state: str, position: int, epoch: int) -> Message | None:
        """One of a `random:` message's variants, picked by the event's seed (one with buttons:
        by the visit, so that a press can check its variant was the one shown)."""
        if not self.holds(message.condition):
            return None
        if message.pick_key:
            return message.variants[self.pick(message.pick_key, len(message.variants), epoch)]
        salt = f"{self.seed}:{state}:{position}"
        return message.variants[zlib.crc32(salt.encode()) % len(message.variants)]

    def pick(self, key: str, count: int, epoch: int) -> int:
        """The variant of the `random:` message `key` drawn for this user's visit `epoch`."""
        return zlib.crc32(f"{self.user_id}:{epoch}:{key}".encode()) % count

    def _one(self, message: Message, state: str, epoch: int) -> Outgoing | None:
        mode = parse_mode(message.parse_mode)
        markup = (
            Markup(
                inline=self.inline(message.buttons, state, epoch),
                keyboard=self.keys(message.keyboard),
                remove_keyboard=message.remove_keyboard,
            )
            if message.buttons or message.keyboard or message.remove_keyboard
            else NO_MARKUP
        )
        if message.media_kind and message.media is not None:
            media = self.text(message.media)
            caption = self.text(message.caption) if message.caption else ""
            if media is None or caption is None:
                return None
            return Outgoing(caption, message.media_kind, media, None, mode, markup)
        if message.location is not None:
            return Outgoing(location=message.location, parse_mode=mode, markup=markup)
        text = self.text(message.text) if message.text is not None else None
        if not text or not text.strip():
            return None  # Telegram refuses empty messages; an `if`-like template may render ""
        return Outgoing(text, parse_mode=mode, markup=markup)

    def inline(
        self, rows: tuple[tuple[Button, ...], ...], state: str, epoch: int
    ) -> tuple[tuple[InlineButton, ...], ...]:
        built: list[tuple[InlineButton, ...]] = []
        for row in rows:
            items: list[InlineButton] = []
            for button in row:
                if button.condition is not None and not self.holds(button.condition):
                    continue
                label = self.text(button.text)
                if not label:
                    continue
                if button.url is not None:
                    url = self.text(button.url)
                    if url:
                        items.append(InlineButton(label, url=url))
                else:
                    data = button_data(button.home or state, button.index, epoch, self.tag)
                    items.append(InlineButton(label, data))
            if items:
                built.append(tuple(items))
        return tuple(built)

    def keys(self, rows: tuple[tuple[Key, ...], ...]) -> tuple[tuple[ReplyKey, ...], ...]:
        built = []
        for row in rows:
            items = tuple(
                ReplyKey(label, key.request_contact, key.request_location)
                for key in row
                if (label := self.text(key.text))
            )
            if items:
                built.append(items)
        return tuple(built)

    def ask_keys(self, ask: Ask) -> tuple[tuple[ReplyKey, ...], ...]:
        """The reply keyboard a question shows when its state has none of its own."""
        rows: list[tuple[ReplyKey, ...]] = []
        if ask.type == "choice" or ask.choices:
            labels = [label for c in ask.choices if (label := self.text(c.text))]
            rows.extend(
                tuple(ReplyKey(t) for t in labels[i : i + 3]) for i in range(0, len(labels), 3)
            )
        elif ask.type == "yes_no":
            rows.append(
                (
                    ReplyKey(self.builtin(builtin_texts.YES)),
                    ReplyKey(self.builtin(builtin_texts.NO)),
                )
            )
        elif ask.type in ("contact", "phone"):
            rows.append(
                (ReplyKey(self.builtin(builtin_texts.SHARE_CONTACT), request_contact=True),)
            )
        elif ask.type == "location":
            rows.append(
                (ReplyKey(self.builtin(builtin_texts.SHARE_LOCATION), request_location=True),)
            )
        if ask.optional and ask.skip_text is not None and (skip := self.text(ask.skip_text)):
            rows.append((ReplyKey(skip),))
        return tuple(rows)

    def state_markup(self, state: State, epoch: int) -> Markup:
        if not (state.buttons or state.keyboard or state.ask is not None or state.remove_keyboard):
            return NO_MARKUP  # nothing to draw (an end state, a plain message)
        keyboard = self.keys(state.keyboard) if state.keyboard else ()
        if not keyboard and state.ask is not None and not state.remove_keyboard:
            keyboard = self.ask_keys(state.ask)
        return Markup(
            inline=self.inline(state.buttons, state.name, epoch) if state.buttons else (),
            keyboard=keyboard,
            remove_keyboard=state.remove_keyboard,
        )


def attach(messages: list[Outgoing], markup: Markup) -> None:
    """Put a state's keyboard on its last message (inline buttons and a reply keyboard cannot
    share one message: the reply keyboard then rides on the message before, or alone)."""
    if not markup:
        return
    if not messages:  # the text failed to render (reported): keep the way out visible
        messages.append(Outgoing(builtin_texts.KEYBOARD_CARRIER, parse_mode=None))
    last = messages[-1]
    if markup.inline and (markup.keyboard or markup.remove_keyboard):
        reply = Markup(keyboard=markup.keyboard, remove_keyboard=markup.remove_keyboard)
        if len(messages) > 1 and not messages[-2].markup:
            messages[-2].markup = reply
        else:
            messages.insert(
                len(messages) - 1,
                Outgoing(builtin_texts.KEYBOARD_CARRIER, parse_mode=None, markup=reply),
            )
        markup = Markup(inline=markup.inline)
    last.markup = _merge(last.markup, markup)


def _merge(own: Markup, extra: Markup) -> Markup:
    if not own and not (extra.keyboard and extra.remove_keyboard):
        return extra  # the usual case: a message without keys of its own
    return Markup(
        inline=own.inline + extra.inline,
        keyboard=own.keyboard or extra.keyboard,
        remove_keyboard=(own.remove_keyboard or extra.remove_keyboard)
        and not (own.keyboard or extra.keyboard),
    )


def to_effects(messages: list[Outgoing], chat_id: int, edit_message_id: int | None) -> list[Effect]:
    """Effects within Telegram's limits; the first text may replace the pressed menu in place."""
    effects: list[Effect] = []
    for message in messages:
        if message.location is not None:
            effects.append(SendLocation(chat_id, *message.location, markup=message.markup))
        elif message.media_kind is not None:
            caption = message.text if len(message.text) <= CAPTION_LIMIT else ""
            effects.append(
                SendMedia(
                    chat_id,
                    message.media_kind,
                    message.media,
                    caption,
                    message.parse_mode,
                    message.markup,
                )
            )
            if len(message.text) > CAPTION_LIMIT:
                effects.extend(
                    SendText(chat_id, piece, message.parse_mode)
                    for piece in split_text(message.text, parse_mode=message.parse_mode)
                )
        else:
            pieces = split_text(message.text, parse_mode=message.parse_mode)
            last = len(pieces) - 1
            for i, piece in enumerate(pieces):
                markup = message.markup if i == last else NO_MARKUP
                if (
                    edit_message_id is not None
                    and not effects
                    and not markup.keyboard
                    and not markup.remove_keyboard
                ):  # an inline keyboard can be edited in place, a reply keyboard cannot
                    effects.append(
                        EditText(chat_id, edit_message_id, piece, message.parse_mode, markup)
                    )
                else:
                    effects.append(SendText(chat_id, piece, message.parse_mode, markup))
    return effects


def with_markup(message: Outgoing, markup: Markup) -> Outgoing:
    return replace(message, markup=markup)
