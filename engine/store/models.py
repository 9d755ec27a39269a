"""The tables. Telegram ids are 64-bit; JSON is stored as text so SQLite and PostgreSQL agree."""

from __future__ import annotations

import datetime as dt

import peewee

database_proxy = peewee.DatabaseProxy()


def stored_now() -> dt.datetime:
    """Now as the tables keep moments: naive UTC (every operator command stamps with it)."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


class _Model(peewee.Model):
    class Meta:
        database = database_proxy
        legacy_table_names = False


class UserRow(_Model):
    id = peewee.BigIntegerField(primary_key=True)
    first_name = peewee.TextField(default="")
    last_name = peewee.TextField(default="")
    username = peewee.TextField(default="")
    language = peewee.TextField(null=True)
    roles = peewee.TextField(default="[]")  # JSON list
    first_seen = peewee.DateTimeField(default=stored_now)
    # when this row last changed; it is written only when the profile changes (schema 3),
    # and the user's last message is their latest sessions.updated
    updated = peewee.DateTimeField(default=stored_now)
    blocked = peewee.BooleanField(default=False)  # Telegram said the user blocked the bot

    class Meta:
        table_name = "users"


class SessionRow(_Model):
    chat_id = peewee.BigIntegerField()
    user_id = peewee.BigIntegerField()
    scenario = peewee.TextField()
    state = peewee.TextField(null=True)
    vars = peewee.TextField(default="{}")  # JSON; sensitive values encrypted inside
    stack = peewee.TextField(default="[]")  # JSON [[state, follow_goto], ...]
    attempts = peewee.IntegerField(default=0)
    epoch = peewee.IntegerField(default=0)
    language = peewee.TextField(null=True)
    ended = peewee.BooleanField(default=False)
    scenario_version = peewee.TextField(default="")
    updated = peewee.DateTimeField(default=stored_now)
    entered = peewee.DoubleField(null=True)  # POSIX seconds: when it entered its state (10)

    class Meta:
        table_name = "sessions"
        primary_key = peewee.CompositeKey("chat_id", "user_id")
        # on SQLite a WITHOUT ROWID table since schema 2 (migrations.py)
        indexes = ((("user_id",), False),)


class InboxRow(_Model):
    id = peewee.AutoField()
    update_id = peewee.BigIntegerField(unique=True)
    # indexed only while pending (schema 3): an index over every row's chat would change a
    # page no other update touches, on every update
    chat_id = peewee.BigIntegerField(null=True)
    # whose update it is (schema 7), for /mydata and /forgetme; not indexed, as the log's
    user_id = peewee.BigIntegerField(null=True)
    body = peewee.TextField()  # the update as Telegram sent it (JSON)
    status = peewee.TextField(default="pending")  # pending, done, failed, ignored
    attempts = peewee.IntegerField(default=0)
    error = peewee.TextField(null=True)
    # not indexed (schema 5): rows are written in time order, so retention finds the old
    # ones through the id (privacy.prune); the index was a page more written per update
    received = peewee.DateTimeField(default=stored_now)

    class Meta:
        table_name = "inbox"


class OutboxRow(_Model):
    id = peewee.AutoField()
    chat_id = peewee.BigIntegerField(null=True)
    # the user whose step queued it (schema 7): a reply in a group or a notice to the admins
    # is about them too; not indexed, as the log's (privacy requests read the table through)
    user_id = peewee.BigIntegerField(null=True)
    kind = peewee.TextField()
    # JSON of the effect while it waits; once it is sent (or given up) REDACTED_PAYLOAD
    # (engine/store/queues.py): what was sent is not kept here
    payload = peewee.TextField()
    update_id = peewee.BigIntegerField(null=True)
    status = peewee.TextField(default="pending")  # pending, sent, uncertain, failed
    attempts = peewee.IntegerField(default=0)
    not_before = peewee.DateTimeField(default=stored_now)
    message_id = peewee.BigIntegerField(null=True)  # Telegram's id once sent
    created = peewee.DateTimeField(default=stored_now)
    # why it failed or is uncertain (schema 6): Telegram's refusal, a media file that is not
    # there, a timeout; what an operator looks for first
    error = peewee.TextField(null=True)
    # the broadcast a message belongs to (schema 9), None for everything else: its counts
    broadcast_id = peewee.BigIntegerField(null=True)

    class Meta:
        table_name = "outbox"
        # indexed only while pending (schema 4, migrations.py): the sender looks up nothing
        # else, and a sent row then leaves the index instead of moving inside it


class TimerRow(_Model):
    id = peewee.AutoField()
    chat_id = peewee.BigIntegerField()
    user_id = peewee.BigIntegerField()
    state = peewee.TextField()
    position = peewee.IntegerField()  # which of the state's timers
    epoch = peewee.IntegerField()
    due = peewee.DateTimeField()
    status = peewee.TextField(default="pending")  # pending, fired, cancelled, failed

    class Meta:
        table_name = "timers"
        indexes = ((("status", "due"), False), (("chat_id", "user_id", "state"), False))


class MessageLogRow(_Model):
    id = peewee.AutoField()
    at = peewee.DateTimeField(default=stored_now)  # not indexed (schema 5), as the inbox's received
    chat_id = peewee.BigIntegerField()
    # not indexed (schema 3): the index changed a page of its own on every update; exports
    # and deletions by user read the log through, which retention (--prune) keeps bounded
    user_id = peewee.BigIntegerField(null=True)
    direction = peewee.TextField()  # in, out
    kind = peewee.TextField()
    state = peewee.TextField(null=True)  # in: the state the update found
    text = peewee.TextField(null=True)  # only when the operator turned text logging on
    # schema 10, on rows in: one row per update (reply rows only when texts are logged)
    to_state = peewee.TextField(null=True)  # the state the update left the user in
    stayed = peewee.DoubleField(null=True)  # seconds in the state it moved them out of
    fallback = peewee.BooleanField(null=True)  # not understood: the fallback answered
    replies = peewee.IntegerField(null=True)  # messages queued in answer

    class Meta:
        table_name = "message_log"


class SettingRow(_Model):
    key = peewee.TextField(primary_key=True)
    value = peewee.TextField()

    class Meta:
        table_name = "settings"


class BroadcastRow(_Model):
    """A broadcast job (schema 9): what to send, to whom, how far it got. Its recipients
    are expanded a chunk at a time into outbox rows (`cursor`: the last user id looked at),
    so a restart resumes after the last chunk instead of sending again."""

    id = peewee.AutoField()
    text = peewee.TextField(null=True)  # --text, as given
    message_key = peewee.TextField(null=True)  # --message: a text of the scenario, translated
    condition = peewee.TextField(null=True)  # --where: which users, as given
    status = peewee.TextField(default="queued")  # queued, running, sending, done, cancelled
    cursor = peewee.BigIntegerField(default=0)
    queued = peewee.IntegerField(default=0)  # outbox rows made so far
    skipped = peewee.IntegerField(default=0)  # users known to have blocked the bot
    sent = peewee.IntegerField(default=0)  # the final counts, kept when it ends
    blocked = peewee.IntegerField(default=0)
    failed = peewee.IntegerField(default=0)
    created = peewee.DateTimeField(default=stored_now)
    started = peewee.DateTimeField(null=True)
    finished = peewee.DateTimeField(null=True)
    created_by = peewee.TextField(default="cli")  # "cli" or "admin:<id>"
    progress_chat = peewee.BigIntegerField(null=True)  # the admin told of its progress
    told = peewee.DateTimeField(null=True)  # when that chat was last told (schema 11)

    class Meta:
        table_name = "broadcasts"


class AuditRow(_Model):
    id = peewee.AutoField()
    at = peewee.DateTimeField(default=stored_now, index=True)
    actor = peewee.TextField()  # "cli", "user:<id>", "admin:<id>"
    action = peewee.TextField()  # export, delete, prune, migrate
    subject = peewee.TextField(null=True)
    details = peewee.TextField(default="{}")

    class Meta:
        table_name = "audit_log"


class RoleRow(_Model):
    """A role granted in the database (`--grant`); `admin` also comes from BOT_ADMINS."""

    user_id = peewee.BigIntegerField()
    role = peewee.TextField()
    granted_at = peewee.DateTimeField(default=stored_now)
    granted_by = peewee.TextField()  # the audit log's actor: "cli", "admin:<id>"

    class Meta:
        table_name = "user_roles"
        primary_key = peewee.CompositeKey("user_id", "role")


class FlagRow(_Model):
    """A feature flag switched at run time; a flag without a row has the scenario's default."""

    name = peewee.TextField(primary_key=True)
    enabled = peewee.BooleanField()
    updated_at = peewee.DateTimeField(default=stored_now)
    updated_by = peewee.TextField()

    class Meta:
        table_name = "feature_flags"


ALL_MODELS: list[type[_Model]] = [
    UserRow,
    SessionRow,
    InboxRow,
    OutboxRow,
    TimerRow,
    MessageLogRow,
    SettingRow,
    AuditRow,
    RoleRow,
    FlagRow,
]
