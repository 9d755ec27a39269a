"""Building outgoing messages: rendering `say`, picking `random:` variants, attaching keyboards
to the last message, splitting long texts, and editing a menu in place."""

from __future__ import annotations

import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from jinja2 import Undefined

from engine.core import builtin_texts
from engine.core.callback_data import button_data, entry_check, entry_data, page_data
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
from engine.core.model import (
    Ask,
    Button,
    ButtonList,
    Expression,
    Key,
    KeyboardOptions,
    Message,
    State,
    Text,
)
from engine.core.rendering import (
    CAPTION_LIMIT,
    RenderError,
    Scope,
    evaluate,
    render,
    resolve,
    split_text,
)
from engine.core.translation import NoTranslation, Translator

PLACEHOLDER_LIMIT = 64  # Telegram's limit for a reply keyboard's input_field_placeholder
MAX_LIST_ENTRIES = 10_000  # entries of a `list:` offered (their number must fit the data)
PREVIOUS_PAGE, NEXT_PAGE = "◀️", "▶️"  # a list's page buttons unless the author names them


@dataclass(slots=True)
class Outgoing:
    """One message about to be sent; its markup may still change before it becomes an effect."""

    text: str = ""
    media_kind: str | None = None
    media: str = ""
    location: tuple[float, float] | None = None
    parse_mode: str | None = "HTML"
    markup: Markup = NO_MARKUP
    reply: bool = False  # quote the user's message (`reply: true`)


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

    def text(self, text: Text, scope: Scope | None = None) -> str | None:
        translated = self.translator.text(text, self.language)
        if translated.template is None:
            return translated.source
        try:
            return render(translated, scope or self.context())
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
            self.with_options(
                Markup(
                    inline=self.inline(message.buttons, state, epoch),
                    keyboard=self.keys(message.keyboard),
                    remove_keyboard=message.remove_keyboard,
                ),
                message.keyboard_options,
            )
            if message.buttons or message.keyboard or message.remove_keyboard
            else NO_MARKUP
        )
        if message.media_kind and message.media is not None:
            media = self.text(message.media)
            caption = self.text(message.caption) if message.caption else ""
            if media is None or caption is None:
                return None
            return Outgoing(caption, message.media_kind, media, None, mode, markup, message.reply)
        if message.location is not None:
            return Outgoing(
                location=message.location, parse_mode=mode, markup=markup, reply=message.reply
            )
        text = self.text(message.text) if message.text is not None else None
        if not text or not text.strip():
            return None  # Telegram refuses empty messages; an `if`-like template may render ""
        return Outgoing(text, parse_mode=mode, markup=markup, reply=message.reply)

    def with_options(self, markup: Markup, options: KeyboardOptions | None) -> Markup:
        """A reply keyboard with its `keyboard_options` (nothing to do without keys)."""
        if options is None or not markup.keyboard:
            return markup
        placeholder = self.text(options.placeholder) if options.placeholder else ""
        return replace(
            markup,
            one_time=options.one_time,
            placeholder=(placeholder or "").strip()[:PLACEHOLDER_LIMIT],
            resize=options.resize,
        )

    def inline(
        self,
        rows: tuple[tuple[Button, ...], ...],
        state: str,
        epoch: int,
        pages: Mapping[int, int] | None = None,
    ) -> tuple[tuple[InlineButton, ...], ...]:
        """The inline keyboard; `pages`: the page a `list:` button (by index) shows."""
        built: list[tuple[InlineButton, ...]] = []
        for row in rows:
            items: list[InlineButton] = []
            for button in row:
                if button.condition is not None and not self.holds(button.condition):
                    continue
                if button.listing is not None:
                    page = (pages or {}).get(button.index, 0)
                    built.extend(self.listed(button, button.listing, state, epoch, page))
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

    def entries(self, listing: ButtonList) -> list[Any]:
        """The entries of a `list:` now (none when it is null; a non-list is reported)."""
        try:
            found = evaluate(listing.source, self.context())
        except RenderError as exc:
            self.report(
                f"cannot evaluate the list `{listing.source.source}`: {exc}", "template_failed"
            )
            return []
        if found is None or isinstance(found, Undefined):
            return []
        if not isinstance(found, list | tuple):
            self.report(
                f"the buttons' list `{listing.source.source}` is a {type(found).__name__}, "
                "not a list: no buttons are shown",
                "template_failed",
            )
            return []
        if len(found) > MAX_LIST_ENTRIES:
            self.report(
                f"the buttons' list `{listing.source.source}` has {len(found):,} entries: "
                f"the first {MAX_LIST_ENTRIES:,} are offered",
                "template_failed",
            )
        return list(found[:MAX_LIST_ENTRIES])

    def entry_scope(self, item: Any, number: int) -> Scope:
        """What an entry's label and value see: everything, and `item` and `number` (from 1)."""
        return Scope({**self.context().values, "item": item, "number": number + 1})

    def entry_value(self, listing: ButtonList, item: Any, number: int) -> Any:
        """What a press of the entry stores: its `value`, or the entry itself."""
        if listing.value is None:
            return item
        return resolve(listing.value, self.entry_scope(item, number))

    def listed(
        self, button: Button, listing: ButtonList, state: str, epoch: int, page: int
    ) -> list[tuple[InlineButton, ...]]:
        """One page of a list's buttons, and a row to turn the page where there is one."""
        entries = self.entries(listing)
        if not entries:
            return []
        home = button.home or state
        last = (len(entries) - 1) // listing.page_size
        page = min(max(page, 0), last)
        first = page * listing.page_size
        drawn: list[InlineButton] = []
        for number in range(first, min(first + listing.page_size, len(entries))):
            item = entries[number]
            label = self.text(listing.label, self.entry_scope(item, number))
            try:
                value = self.entry_value(listing, item, number)
            except RenderError as exc:
                self.report(
                    f"cannot work out the value of entry {number + 1}: {exc}", "template_failed"
                )
                continue
            if label and label.strip():
                check = entry_check(value)
                drawn.append(
                    InlineButton(
                        label, entry_data(home, button.index, epoch, self.tag, number, check)
                    )
                )
        rows = [
            tuple(drawn[i : i + listing.columns]) for i in range(0, len(drawn), listing.columns)
        ]
        turns: list[InlineButton] = []
        if page > 0:
            label = self.text(listing.previous) if listing.previous else PREVIOUS_PAGE
            turns.append(
                InlineButton(
                    label or PREVIOUS_PAGE, page_data(home, button.index, epoch, self.tag, page - 1)
                )
            )
        if page < last:
            label = self.text(listing.next) if listing.next else NEXT_PAGE
            turns.append(
                InlineButton(
                    label or NEXT_PAGE, page_data(home, button.index, epoch, self.tag, page + 1)
                )
            )
        if turns:
            rows.append(tuple(turns))
        return rows

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

    def state_markup(
        self, state: State, epoch: int, pages: Mapping[int, int] | None = None
    ) -> Markup:
        if not (state.buttons or state.keyboard or state.ask is not None or state.remove_keyboard):
            return NO_MARKUP  # nothing to draw (an end state, a plain message)
        keyboard = self.keys(state.keyboard) if state.keyboard else ()
        if not keyboard and state.ask is not None and not state.remove_keyboard:
            keyboard = self.ask_keys(state.ask)
        markup = Markup(
            inline=self.inline(state.buttons, state.name, epoch, pages) if state.buttons else (),
            keyboard=keyboard,
            remove_keyboard=state.remove_keyboard,
        )
        return self.with_options(markup, state.keyboard_options)


def attach(
    messages: list[Outgoing],
    markup: Markup,
    ride: Callable[[Markup], bool] | None = None,
) -> None:
    """Put a state's keyboard on its last message. Inline buttons and a reply keyboard (or its
    removal) cannot share one message: the reply keyboard then rides on an earlier message
    without keys, of these messages or (through `ride`) of the step. Only when there is no
    such message is a small message (KEYBOARD_CARRIER) sent to carry it; likewise for a
    keyboard without any text to go under, when the step sent nothing it could ride on."""
    if not markup:
        return
    reply = NO_MARKUP
    if markup.inline and (markup.keyboard or markup.remove_keyboard):
        reply, markup = replace(markup, inline=()), Markup(inline=markup.inline)
    if messages:
        messages[-1].markup = _merge(messages[-1].markup, markup)
    elif ride is None or not ride(markup):
        messages.append(Outgoing(builtin_texts.KEYBOARD_CARRIER, parse_mode=None, markup=markup))
    if reply:
        _place_reply(messages, reply, ride)


def _place_reply(
    messages: list[Outgoing], reply: Markup, ride: Callable[[Markup], bool] | None
) -> None:
    """The reply keyboard of a state with inline buttons: on the latest earlier message
    without keys (not before one that shows or hides a reply keyboard: that would undo it)."""
    for message in reversed(messages[:-1]):
        if message.markup.keyboard or message.markup.remove_keyboard:
            break
        if not message.markup:
            message.markup = reply
            return
    else:
        if ride is not None and ride(reply):
            return
    carrier = Outgoing(builtin_texts.KEYBOARD_CARRIER, parse_mode=None, markup=reply)
    messages.insert(max(len(messages) - 1, 0), carrier)


def _merge(own: Markup, extra: Markup) -> Markup:
    if not own and not (extra.keyboard and extra.remove_keyboard):
        return extra  # the usual case: a message without keys of its own
    keys = own if own.keyboard else extra  # the reply keyboard shown, and its options
    return Markup(
        inline=own.inline + extra.inline,
        keyboard=keys.keyboard,
        remove_keyboard=(own.remove_keyboard or extra.remove_keyboard)
        and not (own.keyboard or extra.keyboard),
        one_time=keys.one_time,
        placeholder=keys.placeholder,
        resize=keys.resize,
    )


def to_effects(
    messages: list[Outgoing],
    chat_id: int,
    edit_message_id: int | None,
    reply_to: int | None = None,
) -> list[Effect]:
    """Effects within Telegram's limits; the first text may replace the pressed menu in place.
    A message with `reply` quotes `reply_to` (the user's message) with its first part."""
    effects: list[Effect] = []
    for message in messages:
        quoted = reply_to if message.reply else None
        if message.location is not None:
            effects.append(
                SendLocation(chat_id, *message.location, markup=message.markup, reply_to=quoted)
            )
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
                    quoted,
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
                    quote = quoted if i == 0 else None
                    effects.append(SendText(chat_id, piece, message.parse_mode, markup, quote))
    return effects


def with_markup(message: Outgoing, markup: Markup) -> Outgoing:
    return replace(message, markup=markup)
