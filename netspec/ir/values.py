"""Values of the spec language during elaboration, and evaluation of expressions over them."""
from __future__ import annotations

import math
import operator
from dataclasses import dataclass
from typing import Any, Callable

from netspec.errors import LimitError, Span, SpecError, did_you_mean
from netspec.fast_init import fast_init
from netspec.ops.base import Shape, Symbol, format_shape
from netspec.syntax import ast


class _MissingType:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _MissingType()  # what a name lookup returns for a name that is not bound


@fast_init
@dataclass(frozen=True, slots=True)
class Tensor:
    """A value flowing through the network: the node that produced it and its shape.

    `node` is None for a value poisoned by an earlier error: checks that need it are
    skipped, so one mistake is reported once.
    """

    node: str | None
    shape: Shape | None
    span: Span

    @property
    def known(self) -> bool:
        return self.node is not None


AXIS_PROPERTIES = {
    1: {"length": 1},
    2: {"height": 1, "width": 2},
    3: {"depth": 1, "height": 2, "width": 3},
}

BUILTINS: dict[str, Callable[..., Any]] = {
    "min": min,
    "max": max,
    "abs": abs,
    "int": lambda x: int(x),
    "round": lambda x: int(round(x)),
    "floor": lambda x: math.floor(x),
    "ceil": lambda x: math.ceil(x),
}

ARITHMETIC = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": operator.truediv,
    "//": operator.floordiv,
    "%": operator.mod,
}
COMPARISON = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def describe(value: Any) -> str:
    if isinstance(value, Tensor):
        return "a value of shape " + (format_shape(value.shape) if value.shape else "unknown")
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return f"{value:g}" if isinstance(value, float) else str(value)
    if isinstance(value, tuple):
        return "(" + ", ".join(describe(v) for v in value) + ")"
    if isinstance(value, Symbol):
        return value.name
    return repr(value)


def tensor_property(tensor: Tensor, attr: str, span: Span) -> Any:
    """`in.channels`, `x.height`, `x.shape`, ... of a value."""
    shape = tensor.shape
    if shape is None:
        raise Poisoned()
    if attr == "shape":
        return shape
    if attr in ("channels", "features"):
        return shape[0]
    if attr == "rank":
        return len(shape)
    if attr == "size":
        return shape[1:]
    axes = AXIS_PROPERTIES.get(len(shape) - 1, {})
    if attr in axes:
        return shape[axes[attr]]
    known = ["shape", "channels", "features", "rank", "size", *axes]
    raise SpecError(f"a value of shape {format_shape(shape)} has no property '{attr}'{did_you_mean(attr, known)}", span, code="value")


def undefined_name(name: str, span: Span, visible) -> SpecError:
    """"undefined name 'widht'; did you mean 'width'?", or a hint for `3X3` / `3x` (read as 3, then a name)."""
    before = span.source.line(span.line)[span.column - 2 : span.column - 1] if span.column > 1 else ""
    if before.isdigit():
        hint = "; dimensions are written with a lower-case x between numbers, as in 3x3"
    else:
        hint = did_you_mean(name, visible)
    return SpecError(f"undefined name '{name}'{hint}", span, code="unknown-name")


class Poisoned(Exception):
    """Raised when an expression reads a value an earlier error left unknown."""




MAX_EXPRESSION_DEPTH = 100
MAX_INTEGER = 2**63 - 1  # torch's int64: no shape, channel count or attribute is larger


def checked_number(value: Any, span: Span) -> Any:
    """`value` itself, or a located error when it is a float that is not finite (`1e999`, a
    product that overflows) or an integer beyond 64 bits; dimensions are checked one by one."""
    kind = type(value)
    if kind is int:
        if -MAX_INTEGER <= value <= MAX_INTEGER:
            return value
        raise LimitError(f"this integer is too large: values are limited to 64 bits (±{MAX_INTEGER:,})", span)
    if kind is float:
        if math.isfinite(value):
            return value
        raise SpecError("this number is not finite (it overflows to infinity or is not a number); use a finite number", span, code="value")
    if kind is tuple:
        for item in value:
            checked_number(item, span)
    return value


class Evaluator:
    """Evaluates expressions given a name lookup and a callback for layer calls inside expressions."""

    def __init__(self, lookup: Callable[[str], Any], names: Callable[[], list[str]], call: Callable[[ast.Call], Any]):
        self.lookup = lookup
        self.names = names
        self.call = call
        self.depth = 0

    def eval(self, expr: ast.Expr, symbols_ok: bool = False) -> Any:
        if self.depth >= MAX_EXPRESSION_DEPTH:
            raise LimitError(f"this expression nests more than {MAX_EXPRESSION_DEPTH} levels deep; split it up", expr.span)
        self.depth += 1
        try:
            if symbols_ok and isinstance(expr, ast.Name):
                return self._name(expr, symbols_ok=True)
            return checked_number(_RULES[expr.__class__](self, expr), expr.span)
        finally:
            self.depth -= 1

    def _number(self, e: ast.Number) -> Any:
        return e.value

    def _dims(self, e: ast.Dims) -> Any:
        return e.values

    def _string(self, e: ast.String) -> Any:
        return e.value

    def _bool(self, e: ast.Bool) -> Any:
        return e.value

    def _name(self, e: ast.Name, symbols_ok: bool = False) -> Any:
        value = self.lookup(e.id)
        if value is not MISSING:
            return value
        if symbols_ok:
            return Symbol(e.id)
        raise undefined_name(e.id, e.span, self.names())

    def _tuple(self, e: ast.Tuple) -> Any:
        return tuple(self.eval(item) for item in e.items)

    def _getattr(self, e: ast.GetAttr) -> Any:
        target = self.eval(e.target)
        if isinstance(target, Tensor):
            return tensor_property(target, e.attr, e.span)
        raise SpecError(f"{describe(target)} has no property '{e.attr}'; only values (like `in`) do", e.span, code="value")

    def _unary(self, e: ast.Unary) -> Any:
        value = self.eval(e.operand)
        if e.op == "not":
            return not self._truth(value, e.operand)
        self._need_number(value, e.operand, "negate")
        return -value

    def _binary(self, e: ast.Binary) -> Any:
        if e.op in ("and", "or"):
            left = self._truth(self.eval(e.left), e.left)
            if (e.op == "and" and not left) or (e.op == "or" and left):
                return left
            return self._truth(self.eval(e.right), e.right)
        left, right = self.eval(e.left), self.eval(e.right)
        if e.op in COMPARISON:
            if e.op in ("==", "!=") and not isinstance(left, Tensor) and not isinstance(right, Tensor):
                return COMPARISON[e.op](left, right)
            for side, value in ((e.left, left), (e.right, right)):
                self._need_number(value, side, "compare")
            return COMPARISON[e.op](left, right)
        for side, value in ((e.left, left), (e.right, right)):
            self._need_number(value, side, f"use '{e.op}' on")
        if e.op in ("/", "//", "%") and right == 0:
            raise SpecError("division by zero", e.right.span, code="value")
        result = ARITHMETIC[e.op](left, right)
        if isinstance(result, float) and e.op == "/" and result.is_integer():
            return int(result)  # 64 / 2 is the channel count 32
        return result

    def _ternary(self, e: ast.Ternary) -> Any:
        return self.eval(e.then) if self._truth(self.eval(e.condition), e.condition) else self.eval(e.otherwise)

    def _call(self, e: ast.Call) -> Any:
        if e.callee in BUILTINS and self.lookup(e.callee) is MISSING:
            if e.kwargs:
                raise SpecError(f"'{e.callee}' takes no keyword arguments", e.kwargs[0].span, code="value")
            args = [self.eval(a) for a in e.args]
            for arg, value in zip(e.args, args):
                self._need_number(value, arg, "pass {} to '" + e.callee + "'")
            if e.callee in ("min", "max") and len(args) < 2:
                raise SpecError(f"{e.callee}() takes two or more numbers, got {len(args)}", e.span, code="value")
            if e.callee not in ("min", "max") and len(args) != 1:
                raise SpecError(f"{e.callee}() takes one number, got {len(args)}", e.span, code="value")
            try:
                return BUILTINS[e.callee](*args)
            except (TypeError, ValueError, OverflowError) as error:
                raise SpecError(f"{e.callee}(): {error}", e.span, code="value") from None
        return self.call(e)

    def _keyword(self, e: ast.Keyword) -> Any:  # pragma: no cover - keywords are evaluated by their call
        raise AssertionError

    @staticmethod
    def _need_number(value: Any, expr: ast.Expr, verb: str) -> None:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            action = verb.format(describe(value)) if "{}" in verb else f"{verb} {describe(value)}"
            raise SpecError(f"cannot {action}; a number is needed here", expr.span, code="value")

    @staticmethod
    def _truth(value: Any, expr: ast.Expr) -> bool:
        if not isinstance(value, bool):
            raise SpecError(f"a condition must be true or false, got {describe(value)}", expr.span, code="value")
        return value


# The method that evaluates each kind of expression, by class: `eval` runs for every argument
# of every layer, and building "_" + the class name for each call cost more than evaluating a
# literal does.
_RULES: dict[type, Callable[[Evaluator, Any], Any]] = {
    kind: getattr(Evaluator, "_" + kind.__name__.lower())
    for kind in (ast.Number, ast.Dims, ast.String, ast.Bool, ast.Name, ast.Tuple, ast.GetAttr, ast.Unary, ast.Binary,
                 ast.Ternary, ast.Call, ast.Keyword)
}


__all__ = ["Evaluator", "Tensor", "MISSING", "Poisoned", "describe", "tensor_property"]
