"""A batch's effects as rows: what the step asked for becomes outbox, timer and message-log
rows (a mixin of the Store, engine/store/pipeline.py), privacy requests are carried out in
the batch's transaction, and what is handed over only after the commit (silent answers,
problems, calls to make) is gathered per attempt."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from engine.admin.chat_commands import carry_out
from engine.core.deferred_calls import OutsideCall
from engine.core.effects import (
    AdminCommand,
    AnswerButton,
    CancelTimers,
    EditText,
    Effect,
    ExportUserData,
    ForgetUser,
    ReportProblem,
    SendFile,
    SendText,
    StartBroadcast,
    StartTimer,
)
from engine.core.events import Event, message_type
from engine.core.session import Session
from engine.ops.problems import Problem
from engine.ops.update_log import HandledUpdate
from engine.store.crypto import SensitiveCipher
from engine.store.message_log import Hidden, MessageLog
from engine.store.privacy import audit, delete_user, export_user
from engine.store.serialization import effect_to_json
from engine.store.session_rows import SessionRows
from engine.store.unavailable import utc


@dataclass
class Gathered:
    """What one attempt at a batch gathers besides rows: privacy requests, carried out
    before the commit, and silent answers to presses, handed to this process's sender
    after it. Per attempt, not on the Store: PostgreSQL's shards share one Store."""

    answers_in_memory: bool
    requests: list[tuple[ExportUserData | ForgetUser | AdminCommand, Session]] = field(
        default_factory=list
    )
    answers: list[AnswerButton] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)  # reported once, after the commit
    # updates whose step waits for an outside call: (update_id, chat_id, the call)
    waiting: list[tuple[int, int, OutsideCall]] = field(default_factory=list)
    done: list[int] = field(default_factory=list)  # updates stepped to the end
    # what became of each update, for its log line (None: the lines are not wanted)
    handled: list[HandledUpdate] | None = None


class EffectRows:
    rows: SessionRows
    cipher: SensitiveCipher | None
    log: MessageLog
    _payload: Callable[[Effect], str]

    def _privacy(
        self,
        batch: Gathered,
        outbox: list[dict[str, Any]],
        log: list[dict[str, Any]],
        changed: dict[tuple[int, int], Session],
        users: dict[int, dict[str, Any]],
        stamp: dt.datetime,
    ) -> None:
        """Carry out /mydata, /forgetme and the admins' commands inside the batch's
        transaction."""
        for request, session in batch.requests:
            user = request.user_id
            if isinstance(request, AdminCommand):
                answer = SendText(request.chat_id, carry_out(request, stamp), parse_mode=None)
                outbox.append(self._outbox_row(answer, None, stamp, user))
            elif isinstance(request, ExportUserData):
                self.rows.store([session], stamp)
                document = json.dumps(export_user(user, self.cipher), ensure_ascii=False, indent=2)
                # to the private chat (its id is the user's), whatever chat it was asked in;
                # the row's copy is replaced once sent (REDACTED_PAYLOAD)
                effect = SendFile(user, "my-data.json", document, request.caption)
                outbox.append(self._outbox_row(effect, None, stamp, user))
                audit(f"user:{user}", "export", str(user), {"via": "/mydata"}, stamp)
            else:
                counts = delete_user(user)
                for key in [k for k in changed if k[1] == user]:
                    del changed[key]
                users.pop(user, None)
                log[:] = [row for row in log if row.get("user_id") != user]
                audit(f"user:{user}", "delete", str(user), {"via": "/forgetme", **counts}, stamp)

    def _broadcast(self, batch: Gathered, effect: StartBroadcast, stamp: dt.datetime) -> None:
        """An admin's broadcast, queued (and audited) in the batch's transaction; one that
        cannot be made (a `where` that is no condition) is reported, and the admin told."""
        from engine.admin.broadcasts import BroadcastError, queue_broadcast

        try:
            queue_broadcast(
                text=effect.text,
                message_key=effect.message,
                where=effect.where,
                actor=f"admin:{effect.user_id}",
                now=stamp,
                via="chat",
                progress_chat=effect.chat_id,
            )
        except BroadcastError as exc:
            cause = f"broadcast not queued: {exc}"
            batch.problems.append(Problem("broadcast_failed", cause, chat_id=effect.chat_id))

    def _outbox_row(
        self, effect: Effect, update_id: int | None, stamp: dt.datetime, user: int | None
    ) -> dict[str, Any]:
        return {
            "chat_id": getattr(effect, "chat_id", None),
            "user_id": user,
            "kind": type(effect).__name__,
            "payload": effect_to_json(effect),
            "update_id": update_id,
            "not_before": stamp,
            "created": stamp,
        }

    def _queue(
        self,
        batch: Gathered,
        effects: Sequence[Effect],
        update_id: int,
        stamp: dt.datetime,
        outbox: list[dict[str, Any]],
        timers: list[dict[str, Any]],
        cancels: list[CancelTimers],
        log: list[dict[str, Any]],
        session: Session,
        event: Event,
        hidden: Hidden = None,
    ) -> int:
        """Queue a step's effects as rows; how many are messages someone reads (a silent
        answer to a press only stops its spinner)."""
        shown = 0
        for effect in effects:
            kind = type(effect)
            if kind is SendText or kind is EditText:
                pass  # the usual ones, queued below
            elif isinstance(effect, AnswerButton):
                if batch.answers_in_memory and not effect.text:
                    batch.answers.append(effect)
                    continue
            elif isinstance(effect, StartTimer):
                timers.append(
                    {
                        "chat_id": effect.chat_id,
                        "user_id": effect.user_id,
                        "state": effect.state,
                        "position": effect.index,
                        "epoch": effect.epoch,
                        "due": utc(effect.due),
                    }
                )
                continue
            elif isinstance(effect, CancelTimers):
                cancels.append(effect)
                continue
            elif isinstance(effect, ReportProblem):
                batch.problems.append(
                    Problem(
                        effect.kind,
                        effect.message,
                        effect.state,
                        message_type(event),
                        event.user.id,
                        event.chat.id,
                        update_id,
                    )
                )
                continue  # for the operator, not for Telegram
            elif isinstance(effect, StartBroadcast):
                self._broadcast(batch, effect, stamp)
                continue
            elif isinstance(effect, ExportUserData | ForgetUser | AdminCommand):
                batch.requests.append((effect, session))
                continue
            chat = getattr(effect, "chat_id", None)
            name = kind.__name__
            outbox.append(
                {
                    "chat_id": chat,
                    "user_id": session.user_id,  # a reply in a group, a notice: about them
                    "kind": name,
                    "payload": self._payload(effect),
                    "update_id": update_id,
                    "not_before": stamp,
                    "created": stamp,
                }
            )
            if isinstance(effect, AnswerButton) and not effect.text:
                continue  # the spinner of a press stopped: nothing the user reads
            shown += 1
            if self.log.log_text:  # else the reply is counted on its update's row
                text = getattr(effect, "text", None)
                log.append(self.log.outgoing(chat, name, text, session, stamp, hidden))
        return shown
