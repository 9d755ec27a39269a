"""The side effects of `do`: assignments, HTTP calls, notifications, plugin actions and
switching the language. Calls that need an answer go through the services port."""

from __future__ import annotations

import json

from engine.core.effects import (
    HttpRequest,
    NotifyChat,
    StartBroadcast,
)
from engine.core.model import (
    Action,
    Assign,
    Broadcast,
    Http,
    Notify,
    Plugin,
    SetLanguage,
    Value,
)
from engine.core.ports import HttpCall
from engine.core.rendering import RenderError, _plain, from_outside, resolve
from engine.core.step_context import StepBase
from engine.core.url_template import render_url

# Characters of an HTTP answer (as JSON) that `save_as` keeps: sessions stay small (they are
# read and written on every update); a larger answer makes the call count as failed.
MAX_SAVED_ANSWER = 64 * 1024


class SideEffects(StepBase):
    def assign(self, values: tuple[tuple[str, Value], ...], clear: tuple[str, ...]) -> None:
        for name, value in values:
            try:
                self.set_var(name, resolve(value, self.context()))
            except RenderError as exc:
                self.report(f"cannot set `{name}`: {exc}", "template_failed")
        for name in clear:
            self.set_var(name, _plain(self.scenario.defaults.get(name)))

    def do(self, actions: tuple[Action, ...]) -> bool:
        """Run side effects in order; False when an http `on_error` moved the user elsewhere."""
        for action in actions:
            if isinstance(action, Http):
                if not self.http(action):
                    return False
            elif isinstance(action, Notify):
                for message in self.in_bots_language(action.say):
                    if message.text or message.media_kind:
                        self.effects.extend(
                            NotifyChat(
                                to,
                                message.text,
                                message.parse_mode,
                                message.media_kind,
                                message.media,
                            )
                            for to in action.to
                        )
            elif isinstance(action, Assign):
                self.assign(action.values, ())
            elif isinstance(action, Plugin):
                self.plugin(action)
            elif isinstance(action, Broadcast):
                self.broadcast(action)
            elif isinstance(action, SetLanguage):
                language = self.builder.text(action.language)
                offered = {self.scenario.language, *self.scenario.languages}
                if language in offered:
                    self.language = language
                    self._fixed = None
                    self.changed()
                else:
                    self.report(f"set_language: '{language}' is not one of the bot's languages")
        return True

    def broadcast(self, action: Broadcast) -> None:
        """Only an admin (BOT_ADMINS) starts a broadcast, whatever the state's `only:` says:
        anyone else's is reported, not queued."""
        if "admin" not in self.session.roles:
            self.report("broadcast: only an admin can start one (put it behind `only: [admin]`)")
            return
        session = self.session
        if action.message is not None:  # written for each user when it is sent
            self.effects.append(
                StartBroadcast(session.chat_id, session.user_id, None, action.where, action.message)
            )
            return
        text = self.builder.text(action.text) if action.text is not None else None
        if text is None or not text.strip():
            self.report("broadcast: its text is empty; nothing was queued")
            return
        self.effects.append(StartBroadcast(session.chat_id, session.user_id, text, action.where))

    def http(self, action: Http) -> bool:
        context = self.context()
        try:
            call = HttpCall(
                action.method,
                render_url(action.url, context),
                tuple((k, str(resolve(v, context))) for k, v in action.headers),
                resolve(action.json, context),
                tuple((k, str(resolve(v, context))) for k, v in action.form),
                action.timeout,
            )
        except RenderError as exc:
            self.report(f"http: {exc}", "http_failed")
            call = None
        if call is not None and action.save_as is None and action.on_error is None:
            self.effects.append(
                HttpRequest(call.method, call.url, call.headers, call.json, call.form, call.timeout)
            )
            return True
        body, ok = None, False
        if call is not None:
            try:
                response = self.services.http(call)
                body, ok = response.body, response.ok
            except Exception as exc:  # network errors, timeouts, a fake's refusal
                self.report(f"http {call.method} {call.url} failed: {exc}", "http_failed")
        if ok and action.save_as is not None and call is not None:
            size = len(json.dumps(body, ensure_ascii=False, default=str))
            if size > MAX_SAVED_ANSWER:
                self.report(
                    f"http {call.method} {call.url[:80]}: the answer is {size:,} characters "
                    f"as JSON, more than the {MAX_SAVED_ANSWER:,} `save_as` keeps; the call "
                    "counts as failed (ask the service for less: a filter, a page)",
                    "http_failed",
                )
                body, ok = None, False
        if action.save_as is not None:
            self.set_var(action.save_as, from_outside(body) if ok else None)
        if not ok and action.on_error is not None:
            self.editing = False  # a failure is news: the pressed message stays as it was
            self.enter(action.on_error)
            return False
        return True

    def plugin(self, action: Plugin) -> None:
        try:
            arguments = resolve(action.arguments, self.context())
            value = self.services.plugin(action.name, arguments, self.context().values)
        except Exception as exc:  # plugin code is the operator's Python: report, carry on
            self.report(
                f"plugin action '{action.name}' failed: {type(exc).__name__}: {exc}",
                "plugin_failed",
            )
            value = None
        if action.save_as is not None:
            self.set_var(action.save_as, from_outside(value))
