"""The Bot API calls through pyTelegramBotAPI's request layer, against the fake Bot API
server: the library's DEBUG lines (every parameter, and every answer) are never built, so
a user's text or the token cannot reach a log through them, even with the library's
logger at DEBUG; what the library did for a call still happens (long polling's timeout,
file uploads with their names, refusals as ApiError)."""

from __future__ import annotations

import logging

import pytest
from telebot import apihelper

from engine.telegram.bot_api import ApiError, BotApi
from engine.testing.fake_telegram import FakeTelegram, text_update

SECRET = "my diary: the code is 4711"


def test_no_debug_line_of_the_library_carries_a_users_text_or_the_token(
    fake: FakeTelegram, caplog: pytest.LogCaptureFixture
) -> None:
    api = BotApi(fake.url, fake.token)
    library = logging.getLogger("TeleBot")
    level = library.level
    library.setLevel(logging.DEBUG)  # an operator debugging the library itself
    try:
        with caplog.at_level(logging.DEBUG):
            fake.push(text_update(5, SECRET))
            updates = api.get_updates_raw(0, 0, ["message"])
            api.call("sendMessage", {"chat_id": 5, "text": f"You wrote: {SECRET}"})
    finally:
        library.setLevel(level)
    assert updates[0]["message"]["text"] == SECRET
    assert [c.params["text"] for c in fake.calls_of("sendMessage")] == [f"You wrote: {SECRET}"]
    # urllib3's request lines are the logging setup's to quiet and redact (CHATTY_LIBRARIES)
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name == "TeleBot")
    assert "4711" not in logged
    assert fake.token.split(":")[1] not in logged


def test_long_polling_asks_telegram_to_wait_and_reads_longer(fake: FakeTelegram) -> None:
    api = BotApi(fake.url, fake.token, read_timeout=1)
    fake.push(text_update(5, "hi"))
    assert len(api.get_updates_raw(0, 2, ["message"])) == 1
    call = fake.calls_of("getUpdates")[-1]
    assert call.params["timeout"] == "2"  # the Bot API's name for it
    assert "long_polling_timeout" not in call.params


def test_the_timeouts_are_the_librarys_and_a_long_poll_reads_five_seconds_longer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    asked: list[tuple[str, object]] = []

    class Answer:
        status_code = 200
        text = '{"ok": true, "result": []}'

        def json(self) -> object:
            return {"ok": True, "result": []}

    def bot_api(method: str, url: str, timeout: object = None, **_: object) -> Answer:
        asked.append((url.rsplit("/", 1)[1], timeout))
        return Answer()

    monkeypatch.setattr(apihelper, "CUSTOM_REQUEST_SENDER", bot_api)
    api = BotApi("http://in-process", "1:x", read_timeout=3)
    api.get_updates_raw(0, 25, ["message"])
    api.call("sendMessage", {"chat_id": 5, "text": "hi"})
    assert asked == [("getUpdates", (10, 30)), ("sendMessage", (10, 3))]


def test_an_upload_arrives_with_its_file_name_and_content(fake: FakeTelegram) -> None:
    api = BotApi(fake.url, fake.token)
    content = b"name;score\nAnn;3\n"
    api.call(
        "sendDocument",
        {"chat_id": 5, "caption": "Your data"},
        {"document": ("export-5.csv", content)},
    )
    assert fake.uploads == [("export-5.csv", content)]
    assert fake.calls_of("sendDocument")[0].params["caption"] == "Your data"


def test_a_refusal_is_an_api_error_of_its_kind(fake: FakeTelegram) -> None:
    api = BotApi(fake.url, fake.token)
    fake.fail("sendMessage", 403, description="Forbidden: bot was blocked by the user")
    with pytest.raises(ApiError) as refused:
        api.call("sendMessage", {"chat_id": 5, "text": "hello"})
    assert refused.value.kind == "blocked"
    assert refused.value.method == "sendMessage"
