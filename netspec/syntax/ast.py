"""The abstract syntax tree the parser produces: frozen nodes, each with its source span."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Union

from netspec.errors import Span
from netspec.fast_init import fast_init

# ---- expressions ----------------------------------------------------------------


@fast_init
@dataclass(frozen=True, slots=True)
class Number:
    value: int | float
    span: Span


@fast_init
@dataclass(frozen=True, slots=True)
class Dims:
    """`3x224x224`: a tuple of positive integers written with x."""

    values: tuple[int, ...]
    span: Span


@fast_init
@dataclass(frozen=True, slots=True)
class String:
    value: str
    span: Span


@fast_init
@dataclass(frozen=True, slots=True)
class Bool:
    value: bool
    span: Span


@fast_init
@dataclass(frozen=True, slots=True)
class Name:
    id: str
    span: Span


@fast_init
@dataclass(frozen=True, slots=True)
class GetAttr:
    """`in.channels`: a property of a value."""

    target: "Expr"
    attr: str
    span: Span


@fast_init
@dataclass(frozen=True, slots=True)
class Tuple:
    items: tuple["Expr", ...]
    span: Span


@fast_init
@dataclass(frozen=True, slots=True)
class Unary:
    op: str  # "-" or "not"
    operand: "Expr"
    span: Span


@fast_init
@dataclass(frozen=True, slots=True)
class Binary:
    op: str  # + - * / // % == != < <= > >= and or
    left: "Expr"
    right: "Expr"
    span: Span


@fast_init
@dataclass(frozen=True, slots=True)
class Ternary:
    then: "Expr"
    condition: "Expr"
    otherwise: "Expr"
    span: Span


@fast_init
@dataclass(frozen=True, slots=True)
class Keyword:
    name: str
    value: "Expr"
    span: Span


@fast_init
@dataclass(frozen=True, slots=True)
class Call:
    """An op or block invocation (`conv 64 3x3`, `add(a, b)`) or a builtin function call."""

    callee: str
    args: tuple["Expr", ...]
    kwargs: tuple[Keyword, ...]
    span: Span
    callee_span: Span
    parenthesized: bool


Expr = Union[Number, Dims, String, Bool, Name, GetAttr, Tuple, Unary, Binary, Ternary, Call]

# ---- statements -----------------------------------------------------------------


@fast_init
@dataclass(frozen=True, slots=True)
class Chain:
    """`a | conv 64 3x3 | relu as b`: stages applied in turn; the result becomes current."""

    stages: tuple[Call, ...]
    name: str | None
    span: Span
    name_span: Span | None = None


@fast_init
@dataclass(frozen=True, slots=True)
class Assign:
    """`x = a | conv 64 1x1`: names a value without moving the current value."""

    name: str
    chain: Chain
    span: Span
    name_span: Span


@fast_init
@dataclass(frozen=True, slots=True)
class Output:
    """`output a, b` (or bare `output`: the current value); `... when training`: in training only."""

    values: tuple[Expr, ...]
    span: Span
    when: str | None = None  # the word after `when`; only `training` is meaningful
    when_span: Span | None = None


@fast_init
@dataclass(frozen=True, slots=True)
class Repeat:
    count: Expr
    index: str | None
    body: tuple["Stmt", ...]
    span: Span


@fast_init
@dataclass(frozen=True, slots=True)
class Residual:
    """out = body(x) + shortcut(x); the shortcut is identity unless its condition holds."""

    body: tuple["Stmt", ...]
    shortcut: tuple["Stmt", ...] | None
    shortcut_when: Expr | None
    when: Expr | None
    span: Span
    shortcut_span: Span | None


@fast_init
@dataclass(frozen=True, slots=True)
class Merge:
    """`concat:` / `add:` with `branch:` entries, each reading the current value."""

    merger: Call
    branches: tuple[tuple["Stmt", ...], ...]
    branch_spans: tuple[Span, ...]
    span: Span
    inline: tuple[bool, ...] = ()  # per branch: `inline branch:` opens no scope of its own


@fast_init
@dataclass(frozen=True, slots=True)
class If:
    condition: Expr
    then: tuple["Stmt", ...]
    otherwise: tuple["Stmt", ...]
    span: Span


@fast_init
@dataclass(frozen=True, slots=True)
class Sequential:
    """`sequential NAME:` a naming scope whose unnamed items are named 0, 1, 2, ... in order."""

    name: str | None
    body: tuple["Stmt", ...]
    span: Span


Stmt = Union[Chain, Assign, Output, Repeat, Residual, Merge, If, Sequential]

# ---- top level ------------------------------------------------------------------


@fast_init
@dataclass(frozen=True, slots=True)
class Param:
    name: str
    default: Expr | None
    span: Span


@fast_init
@dataclass(frozen=True, slots=True)
class BlockDef:
    name: str
    params: tuple[Param, ...]
    body: tuple[Stmt, ...]
    span: Span  # the header line
    kind: str = "block"  # "block", "sequential" (items numbered from 0) or "inline" (no scope of its own)


@fast_init
@dataclass(frozen=True, slots=True)
class Import:
    path: str
    span: Span


@fast_init
@dataclass(frozen=True, slots=True)
class NetworkDecl:
    name: str
    params: tuple[Param, ...]
    span: Span


@fast_init
@dataclass(frozen=True, slots=True)
class InputDecl:
    shape: Expr
    span: Span


@fast_init
@dataclass(frozen=True, slots=True)
class Spec:
    """One parsed file."""

    imports: tuple[Import, ...]
    networks: tuple[NetworkDecl, ...]  # exactly one in a network spec; none in a block library
    inputs: tuple[InputDecl, ...]
    blocks: tuple[BlockDef, ...]
    body: tuple[Stmt, ...]
    span: Span
