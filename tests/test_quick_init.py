"""quick_init: the values every update builds get a faster __init__ and stay the frozen
dataclasses they were (same signature, defaults, fresh factory values, frozen, replace)."""

from __future__ import annotations

import dataclasses
import inspect
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.core import effects, events
from engine.core.callback_data import ButtonRef
from engine.core.quick_init import quick_init
from engine.core.session import Frame, Session
from engine.core.step_context import StepResult
from engine.core.store_protocol import IncomingUpdate
from engine.store.queues import DueTimer, Outcome, QueuedEffect
from engine.telegram.calls import ApiCall


def _twins() -> tuple[type, type]:
    """The same class twice: as dataclass makes it, and with quick_init."""

    def make() -> type:
        @dataclass(frozen=True, kw_only=True)
        class Base:
            user: str
            seed: int = 0

        @dataclass(frozen=True)
        class Value(Base):
            a: int
            b: str = "b"
            c: list[int] = field(default_factory=list)
            d: int = field(default=4, kw_only=True)
            e: int = field(default=5, init=False)
            f: dict[str, int] = field(default_factory=dict, init=False)

        return Value

    return make(), quick_init(make())


PLAIN, QUICK = _twins()
calls = st.fixed_dictionaries(
    {"user": st.text(max_size=3), "a": st.integers()},
    optional={
        "seed": st.integers(),
        "b": st.text(max_size=3),
        "c": st.lists(st.integers(), max_size=2),
        "d": st.integers(),
    },
)


@given(calls)
def test_a_quick_value_is_built_as_the_dataclass_builds_it(kwargs: dict[str, Any]) -> None:
    plain, quick = PLAIN(**kwargs), QUICK(**kwargs)
    assert vars(quick) == vars(plain) and list(vars(quick)) == list(vars(plain))  # same order
    assert repr(quick).replace("QUICK", "") == repr(plain).replace("PLAIN", "")
    assert quick == QUICK(**kwargs) and quick != PLAIN(**kwargs)  # eq compares the class too
    assert dataclasses.replace(quick, a=1) == QUICK(**{**kwargs, "a": 1})


def test_the_signature_is_the_dataclass_one() -> None:
    assert list(inspect.signature(QUICK).parameters) == list(inspect.signature(PLAIN).parameters)
    assert QUICK(1, user="u") == QUICK(a=1, user="u")  # `a` positional, `user` keyword-only
    with pytest.raises(TypeError):
        QUICK(user="u")  # a field without a default is required
    with pytest.raises(TypeError):
        QUICK(1, "b", [], 4, user="u")  # `d` is keyword-only
    with pytest.raises(TypeError):
        QUICK(1, user="u", e=6)  # `e` is not a parameter


def test_factories_give_each_value_its_own_and_the_value_stays_frozen() -> None:
    first, second = QUICK(1, user="u"), QUICK(1, user="u")
    assert first.c == [] and first.c is not second.c and first.f is not second.f
    with pytest.raises(dataclasses.FrozenInstanceError):
        first.a = 2  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        del first.a


def test_what_it_cannot_do_it_refuses() -> None:
    @dataclass
    class Mutable:
        a: int

    @dataclass(frozen=True)
    class Checked:
        a: int

        def __post_init__(self) -> None:
            pass

    for cls in (Mutable, Checked):
        with pytest.raises(TypeError):
            quick_init(cls)


ENGINE_VALUES = [
    Session,
    Frame,
    StepResult,
    ButtonRef,
    IncomingUpdate,
    QueuedEffect,
    Outcome,
    DueTimer,
    ApiCall,
    *(v for v in vars(effects).values() if isinstance(v, type) and dataclasses.is_dataclass(v)),
    *(v for v in vars(events).values() if isinstance(v, type) and dataclasses.is_dataclass(v)),
]


@pytest.mark.parametrize("cls", ENGINE_VALUES, ids=lambda c: c.__name__)
def test_the_engine_values_have_it_and_keep_their_fields(cls: type) -> None:
    assert "_values" in cls.__init__.__code__.co_varnames  # the generated one
    assert cls.__init__.__qualname__ == f"{cls.__qualname__}.__init__"
    fields = [f for f in dataclasses.fields(cls) if f.init]
    in_order = [f.name for f in fields if not f.kw_only] + [f.name for f in fields if f.kw_only]
    assert list(inspect.signature(cls).parameters) == in_order
    assert cls.__dataclass_params__.frozen  # type: ignore[attr-defined]
