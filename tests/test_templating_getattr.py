"""`a.b` in templates: the engine's shortcut for plain dicts gives what Jinja's sandbox gives
(the attribute first, then the item), whatever the dict holds."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from jinja2 import StrictUndefined, Undefined
from jinja2.sandbox import ImmutableSandboxedEnvironment

from engine.core.templating import environment

stock = ImmutableSandboxedEnvironment(undefined=StrictUndefined)
NAMES = ["first_name", "items", "keys", "get", "_x", "__class__", "__len__", "copy", "missing"]


def looked_up(env: Any, obj: Any, name: str) -> Any:
    value = env.getattr(obj, name)
    if isinstance(value, Undefined):
        return ("undefined", type(value).__name__)
    if callable(value) and not isinstance(value, type):
        return ("callable", getattr(value, "__name__", None))
    return value


@pytest.mark.parametrize("mode", ["HTML", "data"])
@given(
    st.dictionaries(st.sampled_from(NAMES) | st.text(max_size=8), st.integers(), max_size=5),
    st.sampled_from(NAMES) | st.text(max_size=8),
)
def test_a_dict_attribute_is_what_jinja_gives(mode: str, obj: dict[str, int], name: str) -> None:
    assert looked_up(environment(mode), obj, name) == looked_up(stock, obj, name)


def test_other_objects_take_jinjas_way() -> None:
    class Box(dict[str, int]):
        size = 7

    assert environment().getattr(Box(size=1), "size") == 7  # a subclass's attribute wins
    assert environment().getattr(Box(other=2), "other") == 2
    assert environment().from_string("{{ d.first_name }}").render(d={"first_name": "Ann"}) == "Ann"
