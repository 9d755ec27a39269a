"""What a fault campaign's sent messages say: lost, doubled, reordered and duplicate replies.

Users send "u<user> m<i>", i = 1, 2, ... in order; the counter bot (COUNTER) adds one to a
session variable for every text (the first starts the conversation, the others enter the
state again) and replies "<the text> n=<counter>". So the replies the Bot
API received tell, without reading the bot's database:

- lost: a message with no reply at all;
- doubled: a state change applied more than once. Every application of a chat's counter
  gives a new value of n, so a chat's distinct values of n beyond its answered messages are
  visible doublings; values of n below the highest that no reply shows are applications
  whose reply was never seen, doublings too unless a lost message accounts for them;
- reordered: a reply sent after the reply to a later message of the same chat (first sends
  only: a repeat of an earlier reply is a duplicate, not a reorder);
- duplicate sends: the same reply (same text) sent again, attributed to the last kill
  before it was sent."""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

COUNTER = """\
bot: {name: Counter, language: en, start: count}
vars: {n: 0}
states:
  count:
    set: {n: "{{ n + 1 }}"}
    say: "{{ message.text }} n={{ n }}"
    on:
      - {type: text, goto: count}
"""
EXAMPLES = 12  # anomalies described in words, at most
REPLY = re.compile(r"u(\d+) m(\d+) n=(\d+)")


def message_text(user: int, index: int) -> str:
    """What user `user` sends as its `index`-th message (from 1)."""
    return f"u{user} m{index}"


@dataclass(frozen=True)
class Sent:
    """A reply as the Bot API received it: the chat, the text, when (monotonic seconds)."""

    chat: int
    text: str
    at: float = 0.0


@dataclass(frozen=True)
class Figures:
    expected: int  # messages sent by the users = replies expected
    answered: int  # messages with at least one reply
    sends: int  # replies received by the Bot API, repeats included
    lost: int
    doubled: int
    reordered: int
    reordered_chats: int
    duplicates: int
    duplicates_by_kill: tuple[int, ...]  # after each kill, before the next
    duplicates_before_kills: int
    unexpected: int  # replies that are not "u<user> m<i> n=<n>" for a message sent
    examples: tuple[str, ...] = ()  # the first few of the above, in words

    @property
    def most_duplicates_after_a_kill(self) -> int:
        return max(self.duplicates_by_kill, default=0)


@dataclass(frozen=True)
class _Chat:
    lost: int
    doubled: int
    reordered: int
    duplicates: tuple[float, ...]  # when each repeated reply was sent
    answered: int
    unexpected: int
    examples: tuple[tuple[int, str], ...]  # (rank, words): lost and doubled first


def _check_chat(user: int, sent: Sequence[Sent], messages: int) -> _Chat:
    seen_texts: set[str] = set()
    counters: dict[int, set[int]] = {}  # message index -> values of n its replies show
    repeats: list[float] = []
    examples: list[tuple[int, str]] = []
    latest = reordered = unexpected = 0
    for reply in sent:
        match = REPLY.fullmatch(reply.text)
        if not match or int(match[1]) != user or not 1 <= int(match[2]) <= messages:
            unexpected += 1
            examples.append((0, f"chat {user}: unexpected {reply.text!r}"))
            continue
        if reply.text in seen_texts:
            repeats.append(reply.at)
            examples.append((3, f"chat {user}: {reply.text!r} sent again"))
            continue
        seen_texts.add(reply.text)
        index, counter = int(match[2]), int(match[3])
        if index < latest:
            reordered += 1
            examples.append((2, f"chat {user}: {reply.text!r} after the reply to m{latest}"))
        latest = max(latest, index)
        counters.setdefault(index, set()).add(counter)
    lost = messages - len(counters)
    examples += [
        (0, f"chat {user}: m{i} lost") for i in range(1, messages + 1) if i not in counters
    ]
    values = set().union(*counters.values()) if counters else set()
    visible = max(0, len(values) - len(counters))
    unseen = (max(values) - len(values)) if values else 0
    doubled = visible + max(0, unseen - lost)
    if doubled:
        shown = ", ".join(f"m{i}: n={sorted(n)}" for i, n in sorted(counters.items()))
        examples.append((1, f"chat {user}: {doubled} doubled ({shown})"))
    return _Chat(
        lost, doubled, reordered, tuple(repeats), len(counters), unexpected, tuple(examples)
    )


def check(
    sent: Iterable[Sent], users: Sequence[int], messages: int, kills: Sequence[float] = ()
) -> Figures:
    """The figures of a campaign: `sent` in the order the Bot API received them, the users
    who each sent `messages` messages, and when each kill happened (same clock as `at`)."""
    by_chat: dict[int, list[Sent]] = {user: [] for user in users}
    stray = 0
    sends = 0
    for reply in sent:
        sends += 1
        if reply.chat in by_chat:
            by_chat[reply.chat].append(reply)
        else:
            stray += 1
    chats = [_check_chat(user, replies, messages) for user, replies in by_chat.items()]
    ordered_kills = sorted(kills)
    by_kill = [0] * len(ordered_kills)
    before = 0
    for chat in chats:
        for at in chat.duplicates:
            kill = bisect.bisect_right(ordered_kills, at) - 1
            if kill < 0:
                before += 1
            else:
                by_kill[kill] += 1
    return Figures(
        expected=len(users) * messages,
        answered=sum(c.answered for c in chats),
        sends=sends,
        lost=sum(c.lost for c in chats),
        doubled=sum(c.doubled for c in chats),
        reordered=sum(c.reordered for c in chats),
        reordered_chats=sum(1 for c in chats if c.reordered),
        duplicates=sum(len(c.duplicates) for c in chats),
        duplicates_by_kill=tuple(by_kill),
        duplicates_before_kills=before,
        unexpected=stray + sum(c.unexpected for c in chats),
        examples=tuple(e for _, e in sorted(e for c in chats for e in c.examples))[:EXAMPLES],
    )
