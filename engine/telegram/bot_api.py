"""Calling the Bot API through pyTelegramBotAPI's request layer (`telebot.apihelper`), with
every failure sorted into a kind the runtime acts on: 429 waits, 5xx backs off, 403 marks
the user as blocked, a read timeout is 'uncertain' (the call may have been carried out).

The base URL comes from configuration (`TELEGRAM_API_URL`), as a self-hosted Bot API
server needs; `/bot<token>/<method>` is appended. The token is never logged."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import requests
from telebot import apihelper

# telebot logs each request's parameters at DEBUG; they can hold users' texts
logging.getLogger("TeleBot").setLevel(logging.INFO)

KINDS = {
    400: "bad_request",
    401: "unauthorized",
    403: "blocked",
    404: "not_found",
    409: "conflict",
    429: "rate_limited",
}


@dataclass
class ApiError(Exception):
    """A refused or failed Bot API call: `kind` says what the runtime does about it."""

    kind: str  # bad_request, unauthorized, blocked, not_found, conflict, rate_limited,
    #            server, network, timeout
    description: str
    method: str = ""
    code: int | None = None
    retry_after: float | None = None

    def __str__(self) -> str:
        return f"{self.method}: {self.description}"


class BotApi:
    """One bot's Bot API, called through pyTelegramBotAPI. Safe to share between threads
    (the library keeps one HTTP session per thread)."""

    def __init__(self, base_url: str, token: str, read_timeout: float = 30.0) -> None:
        base = base_url.rstrip("/")
        apihelper.API_URL = base + "/bot{0}/{1}"  # type: ignore[assignment]
        apihelper.FILE_URL = base + "/file/bot{0}/{1}"  # type: ignore[assignment]
        apihelper.READ_TIMEOUT = int(read_timeout)
        apihelper.CONNECT_TIMEOUT = 10
        self._token = token
        # told of each call's result: (method, None) or (method, ApiError.kind); the metrics
        self.observe: Callable[[str, str | None], None] | None = None

    def call(
        self,
        method: str,
        params: Mapping[str, Any],
        files: Mapping[str, Any] | None = None,
    ) -> Any:
        """The method's `result`, or ApiError. One function, not a wrapper: it runs for
        every message sent."""
        payload: dict[str, Any] = {}  # a loop: quicker than a comprehension with a test
        for key, value in params.items():
            if value is None:
                continue
            if value is True:  # booleans as the Bot API writes them (requests sends "True")
                value = "true"
            elif value is False:
                value = "false"
            payload[key] = value
        try:
            result = library_request(self._token, method, payload, dict(files) if files else None)
        except Exception as exc:
            error = api_error(method, exc)
            if error is None:
                raise
            if self.observe is not None:
                self.observe(method, error.kind)
            raise error from None
        if self.observe is not None:
            self.observe(method, None)
        return result

    def get_updates_raw(
        self, offset: int, timeout: int, allowed: Sequence[str], limit: int = 100
    ) -> list[Any]:
        """getUpdates without the library's parsing: each update is parsed on its own later,
        so one the library could not read cannot stall the loop."""
        params: dict[str, Any] = {
            "offset": offset or None,
            "limit": limit,
            "allowed_updates": json.dumps(list(allowed)),
            "long_polling_timeout": timeout,  # the library sends it as `timeout`, reads longer
        }
        answer = self.call("getUpdates", params)
        return answer if isinstance(answer, list) else []


def library_request(
    token: str, method: str, params: dict[str, Any], files: dict[str, Any] | None
) -> Any:
    """A POST through pyTelegramBotAPI's request layer: `apihelper._make_request` without
    its two DEBUG lines. The library formats them on every call, whatever the log level:
    every parameter, the files' bytes, and the whole answer as a bytes repr (about 40 KB
    for a getUpdates of a hundred updates). The engine never shows them (they hold users'
    texts), and building them cost it more than a tenth of its time per update in
    process (bench/e2e.py). The rest is the library's, read from `apihelper` at each call
    as `_make_request` does: API_URL, the timeouts (`long_polling_timeout` becomes
    `timeout`, and the read waits five seconds longer), CUSTOM_REQUEST_SENDER, the
    per-thread session, `proxy`, the multipart file names, and `_check_result`, which
    raises the library's exceptions. The library's own retries (RETRY_ON_ERROR) are not
    used: the sender decides what a failed call means."""
    if not token:
        raise ValueError("the bot token is not set")
    url = apihelper.API_URL.format(token, method)  # type: ignore[attr-defined]
    connect_timeout, read_timeout = apihelper.CONNECT_TIMEOUT, apihelper.READ_TIMEOUT
    if "timeout" in params:
        read_timeout = connect_timeout = params.pop("timeout")
    if "long_polling_timeout" in params:  # getUpdates: the only method with a timeout
        polling = params.pop("long_polling_timeout")
        params["timeout"] = polling
        read_timeout = max(polling + 5, read_timeout)
    if files and apihelper.format_header_param:  # file names as written (not RFC 2231)
        setattr(
            apihelper.fields,  # type: ignore[attr-defined]
            apihelper.format_header_param_name,
            apihelper._no_encode(apihelper.format_header_param),  # type: ignore[no-untyped-call]
        )
    # the test hook (in-process Bot APIs) if set, else the library's session of this thread
    request = (
        apihelper.CUSTOM_REQUEST_SENDER or apihelper._get_req_session().request  # type: ignore[no-untyped-call]
    )
    answer = request(
        "post",
        url,
        params=params or None,
        files=files,
        timeout=(connect_timeout, read_timeout),
        proxies=apihelper.proxy,
    )
    checked = apihelper._check_result(method, answer)  # type: ignore[no-untyped-call]
    return checked["result"] if checked else None


def api_error(method: str, exc: Exception) -> ApiError | None:
    """What a failed call of pyTelegramBotAPI means for the runtime; None for an exception
    that is no refusal or failure of the call (a bug: raised as it is)."""
    if isinstance(exc, apihelper.ApiTelegramException):
        answer = exc.result_json if isinstance(exc.result_json, dict) else {}
        parameters = answer.get("parameters") or {}
        retry = parameters.get("retry_after") if isinstance(parameters, dict) else None
        code = int(exc.error_code)
        kind = KINDS.get(code, "server" if code >= 500 else "bad_request")
        return ApiError(
            kind,
            str(exc.description),
            method,
            code,
            float(retry) if isinstance(retry, int | float) else None,
        )
    if isinstance(exc, apihelper.ApiHTTPException | apihelper.ApiInvalidJSONException):
        status = getattr(exc.result, "status_code", 0) or 0
        kind = KINDS.get(status, "server" if status >= 500 or status == 0 else "bad_request")
        return ApiError(kind, f"HTTP {status}, no JSON answer", method, status)
    if isinstance(exc, requests.exceptions.ReadTimeout):
        return ApiError("timeout", "no answer in time", method)
    if isinstance(exc, requests.exceptions.RequestException):
        return ApiError("network", type(exc).__name__, method)
    return None
