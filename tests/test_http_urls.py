"""Values in an HTTP action's url are encoded for their part of the URL, and `save_as`
keeps answers of at most 64 KiB (issue 13, HTTP actions). Through a scenario, against a
fake web service on 127.0.0.1 that answers what it was asked for."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from web_service import allowing

from engine.core.effects import ReportProblem, SendText
from engine.runtime.services import LiveServices
from tests.builders import Conversation, compile_yaml, texts

# -- values in the url, through a scenario ----------------------------------------------


def scenario(url: str) -> str:
    return f"""
bot: {{name: T, start: ask}}
vars: {{city: null, answer: null}}
states:
  ask:
    ask: {{var: city}}
    goto: call
  call:
    do:
      - http: {{url: "{url}", save_as: answer, on_error: failed}}
    say: "{{{{ answer.target }}}}"
    goto: ask
  failed:
    say: The call failed.
    goto: ask
"""


def ask(tmp_path: Path, url: str, city: str, services: LiveServices) -> tuple[list[str], Any]:
    chat = Conversation(compile_yaml(scenario(url), tmp_path), services)  # type: ignore[arg-type]
    chat.send("/start")
    effects = chat.send(city)
    return texts(effects), chat.session.vars.get("answer")


def test_a_value_with_an_ampersand_stays_one_query_value(tmp_path: Path, web: str) -> None:
    url = f"http://{web}/weather?q={{{{ city }}}}&appid=KEY"
    _, answer = ask(tmp_path, url, "Paris&appid=x", allowing("127.0.0.1"))
    assert answer["query"] == {"q": ["Paris&appid=x"], "appid": ["KEY"]}


def test_a_hash_in_a_value_does_not_cut_the_operators_key_off(tmp_path: Path, web: str) -> None:
    url = f"http://{web}/weather?q={{{{ city }}}}&appid=KEY"
    _, answer = ask(tmp_path, url, "Paris#", allowing("127.0.0.1"))
    assert answer["query"] == {"q": ["Paris#"], "appid": ["KEY"]}


def test_a_value_in_the_path_cannot_climb(tmp_path: Path, web: str) -> None:
    url = f"http://{web}/echo/cities/{{{{ city }}}}/weather"
    _, answer = ask(tmp_path, url, "../../secret", allowing("127.0.0.1"))
    assert answer["path"] == "/echo/cities/..%2F..%2Fsecret/weather"
    said, answer = ask(tmp_path, url, "..", allowing("127.0.0.1"))
    assert said == ["The call failed."] and answer is None


def test_a_space_in_a_value_does_not_break_the_call(tmp_path: Path, web: str) -> None:
    url = f"http://{web}/echo/{{{{ city }}}}?q={{{{ city }}}}"
    _, answer = ask(tmp_path, url, "New York", allowing("127.0.0.1"))
    assert answer["path"] == "/echo/New%20York" and answer["query"] == {"q": ["New York"]}


def test_a_value_cannot_change_the_host(tmp_path: Path, web: str) -> None:
    url = "http://{{ city }}.example/echo"
    said, _ = ask(tmp_path, url, f"{web}/secret?", allowing("127.0.0.1"))
    assert said == ["The call failed."]


def test_the_authors_literal_parts_and_a_base_from_config_stay_as_written(
    tmp_path: Path, web: str
) -> None:
    services = allowing("127.0.0.1")
    services.config = {"BASE": f"http://{web}/echo/v1"}
    url = "{{ config.BASE }}/find?q={{ city }}&lang=en-GB&x=a%2Fb"
    _, answer = ask(tmp_path, url, "São Paulo", services)
    assert answer["path"] == "/echo/v1/find"
    assert answer["query"] == {"q": ["São Paulo"], "lang": ["en-GB"], "x": ["a/b"]}


# -- answers kept ----------------------------------------------------------------------


@pytest.mark.parametrize("path", ["big", "bigtext"])
def test_an_answer_larger_than_save_as_keeps_is_a_reported_failed_call(
    tmp_path: Path, web: str, path: str
) -> None:
    chat = Conversation(
        compile_yaml(scenario(f"http://{web}/{path}"), tmp_path), allowing("127.0.0.1")
    )  # type: ignore[arg-type]
    chat.send("/start")
    effects = chat.send("Paris")
    assert texts(effects) == ["The call failed."]
    assert chat.session.vars["answer"] is None
    [problem] = [e for e in effects if isinstance(e, ReportProblem)]
    assert "more than the 65,536 `save_as` keeps" in problem.message


def test_a_url_buttons_values_are_encoded_too(tmp_path: Path) -> None:
    scenario = compile_yaml(
        "bot: {name: T, start: a}\nstates:\n  a:\n    ask: {var: city}\n    goto: b\n"
        "  b:\n    say: Share\n"
        '    buttons: [{text: Map, url: "https://maps.example/search?q={{ city }}&lang=en"}]\n'
        "    end: true\n",
        tmp_path,
    )
    chat = Conversation(scenario)
    chat.send("/start")
    effects = chat.send("Paris&lang=xx#top")
    (url,) = [
        b.url
        for e in effects
        if isinstance(e, SendText)
        for row in e.markup.inline
        for b in row
        if b.url
    ]
    assert url == "https://maps.example/search?q=Paris%26lang%3Dxx%23top&lang=en"
