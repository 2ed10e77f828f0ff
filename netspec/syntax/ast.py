"""The abstract syntax tree the parser produces: frozen nodes, each with its source span."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Union

from netspec.errors import Span

# ---- expressions ----------------------------------------------------------------


@dataclass(frozen=True)
class Number:
    value: int | float
    span: Span


@dataclass(frozen=True)
class Dims:
    """`3x224x224`: a tuple of positive integers written with x."""

    values: tuple[int, ...]
    span: Span


@dataclass(frozen=True)
class String:
    value: str
    span: Span


@dataclass(frozen=True)
class Bool:
    value: bool
    span: Span


@dataclass(frozen=True)
class Name:
    id: str
    span: Span


@dataclass(frozen=True)
class GetAttr:
    """`in.channels`: a property of a value."""

    target: "Expr"
    attr: str
    span: Span


@dataclass(frozen=True)
class Tuple:
    items: tuple["Expr", ...]
    span: Span


@dataclass(frozen=True)
class Unary:
    op: str  # "-" or "not"
    operand: "Expr"
    span: Span


@dataclass(frozen=True)
class Binary:
    op: str  # + - * / // % == != < <= > >= and or
    left: "Expr"
    right: "Expr"
    span: Span


@dataclass(frozen=True)
class Ternary:
    then: "Expr"
    condition: "Expr"
    otherwise: "Expr"
    span: Span


@dataclass(frozen=True)
class Keyword:
    name: str
    value: "Expr"
    span: Span


@dataclass(frozen=True)
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


@dataclass(frozen=True)
class Chain:
    """`a | conv 64 3x3 | relu as b`: stages applied in turn; the result becomes current."""

    stages: tuple[Call, ...]
    name: str | None
    span: Span
    name_span: Span | None = None


@dataclass(frozen=True)
class Assign:
    """`x = a | conv 64 1x1`: names a value without moving the current value."""

    name: str
    chain: Chain
    span: Span
    name_span: Span


@dataclass(frozen=True)
class Output:
    """`output a, b` (or bare `output`: the current value)."""

    values: tuple[Expr, ...]
    span: Span


@dataclass(frozen=True)
class Repeat:
    count: Expr
    index: str | None
    body: tuple["Stmt", ...]
    span: Span


@dataclass(frozen=True)
class Residual:
    """out = body(x) + shortcut(x); the shortcut is identity unless its condition holds."""

    body: tuple["Stmt", ...]
    shortcut: tuple["Stmt", ...] | None
    shortcut_when: Expr | None
    when: Expr | None
    span: Span
    shortcut_span: Span | None


@dataclass(frozen=True)
class Merge:
    """`concat:` / `add:` with `branch:` entries, each reading the current value."""

    merger: Call
    branches: tuple[tuple["Stmt", ...], ...]
    branch_spans: tuple[Span, ...]
    span: Span
    inline: tuple[bool, ...] = ()  # per branch: `inline branch:` opens no scope of its own


@dataclass(frozen=True)
class If:
    condition: Expr
    then: tuple["Stmt", ...]
    otherwise: tuple["Stmt", ...]
    span: Span


@dataclass(frozen=True)
class Sequential:
    """`sequential NAME:` a naming scope whose unnamed items are named 0, 1, 2, ... in order."""

    name: str | None
    body: tuple["Stmt", ...]
    span: Span


Stmt = Union[Chain, Assign, Output, Repeat, Residual, Merge, If, Sequential]

# ---- top level ------------------------------------------------------------------


@dataclass(frozen=True)
class Param:
    name: str
    default: Expr | None
    span: Span


@dataclass(frozen=True)
class BlockDef:
    name: str
    params: tuple[Param, ...]
    body: tuple[Stmt, ...]
    span: Span  # the header line
    kind: str = "block"  # "block", "sequential" (items numbered from 0) or "inline" (no scope of its own)


@dataclass(frozen=True)
class Import:
    path: str
    span: Span


@dataclass(frozen=True)
class NetworkDecl:
    name: str
    params: tuple[Param, ...]
    span: Span


@dataclass(frozen=True)
class InputDecl:
    shape: Expr
    span: Span


@dataclass(frozen=True)
class Spec:
    """One parsed file."""

    imports: tuple[Import, ...]
    networks: tuple[NetworkDecl, ...]  # exactly one in a network spec; none in a block library
    inputs: tuple[InputDecl, ...]
    blocks: tuple[BlockDef, ...]
    body: tuple[Stmt, ...]
    span: Span
