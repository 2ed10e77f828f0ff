"""`fast_init` (netspec/fast_init.py) builds the same objects as the dataclass `__init__` it replaces."""
from __future__ import annotations

import dataclasses
import inspect

import pytest

from netspec import errors
from netspec.analysis.cost import LayerCost
from netspec.fast_init import fast_init
from netspec.ir.graph import Frame, Node, Output
from netspec.ir.values import Tensor
from netspec.syntax import ast

FAST = [errors.Span, Frame, Node, Output, Tensor, LayerCost, *(c for c in vars(ast).values() if dataclasses.is_dataclass(c) and isinstance(c, type))]


def plain_twin(cls):
    """The same fields and defaults as a frozen slots dataclass with the generated `__init__`."""
    fields = [(f.name, f.type, f.default) if f.default is not dataclasses.MISSING else (f.name, f.type)
              for f in dataclasses.fields(cls)]
    return dataclasses.make_dataclass(cls.__name__, fields, frozen=True, slots=True)


def parameters(cls) -> list[tuple]:
    return [(p.name, p.kind, p.default) for p in inspect.signature(cls).parameters.values()]


@pytest.mark.parametrize("cls", FAST, ids=lambda c: c.__name__)
def test_same_signature_and_stored_fields(cls):
    assert len(FAST) > 20
    twin = plain_twin(cls)
    assert parameters(cls) == parameters(twin)
    names = [f.name for f in dataclasses.fields(cls)]
    given = [object() for _ in names]
    made, expected = cls(*given), twin(*given)
    assert [getattr(made, n) for n in names] == [getattr(expected, n) for n in names] == given
    by_keyword = cls(**dict(zip(names, given)))
    assert by_keyword == made and hash(by_keyword) == hash(made)
    required = [f.name for f in dataclasses.fields(cls) if f.default is dataclasses.MISSING]
    if len(required) < len(names):  # the defaults are filled in as the dataclass would
        short, twin_short = cls(*given[: len(required)]), twin(*given[: len(required)])
        assert [getattr(short, n) for n in names] == [getattr(twin_short, n) for n in names]
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(made, names[0], 1)
    with pytest.raises(TypeError):
        cls(*given, object())


def test_only_plain_frozen_slots_dataclasses_are_accepted():
    @dataclasses.dataclass(frozen=True)
    class NoSlots:
        x: int

    @dataclasses.dataclass(slots=True)
    class NotFrozen:
        x: int

    @dataclasses.dataclass(frozen=True, slots=True)
    class WithFactory:
        x: list = dataclasses.field(default_factory=list)

    @dataclasses.dataclass(frozen=True, slots=True)
    class WithPostInit:
        x: int

        def __post_init__(self):
            pass

    for cls in (NoSlots, NotFrozen, WithFactory, WithPostInit):
        with pytest.raises(TypeError):
            fast_init(cls)
