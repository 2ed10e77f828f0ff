"""Block definition → the spec's own expressions, as candidates for a generated class's values.

The class model sees the values each instance of a block got (`padding` 1 here, 0 there);
the spec says how they were computed (`pad=(kernel - 1) // 2`, `if expand != 1:`,
`residual when stride == 1 and in.channels == out`). This module finds those expressions in
the block's definition, evaluates them for each instance, and writes them as Python over the
constructor's parameters, so a class can say `padding=(kernel - 1) // 2` instead of taking
a parameter named after the value. An expression is offered only when every name it reads is
a block parameter or `in.channels` (the block input's channels, `in_channels` in Python);
the caller keeps it only when it gives every instance's value.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterator

from netspec.errors import NetspecError, Span
from netspec.ir.values import Evaluator, MISSING, Poisoned, Tensor
from netspec.syntax import ast
from netspec.syntax.parser import parse

PRECEDENCE = {"or": 1, "and": 2, "not": 3, "==": 4, "!=": 4, "<": 4, "<=": 4, ">": 4, ">=": 4,
              "+": 5, "-": 5, "*": 6, "//": 6, "%": 6, "neg": 7}
PYTHON_BUILTINS = ("min", "max", "abs")  # the spec's builtins that mean the same in Python
IN_CHANNELS = "in.channels"


@dataclass(frozen=True)
class Candidate:
    """A spec expression: where it stands, the names it reads, and how to evaluate it."""

    expr: ast.Expr
    names: tuple[str, ...]  # block parameters it reads, and IN_CHANNELS when it reads in.channels
    around: Span | None = None  # the call it is written in; for a condition, the statements it guards

    def value(self, args: dict[str, Any], in_shape: tuple[int, ...] | None) -> Any:
        """Its value for one instance, or None when it cannot be computed from the parameters."""
        def lookup(name: str) -> Any:
            if name == "in":
                return Tensor("in", in_shape, self.expr.span) if in_shape else MISSING
            return args.get(name, MISSING)

        try:
            value = Evaluator(lookup, lambda: [], _no_calls).eval(self.expr)
        except (NetspecError, Poisoned, _NotAValue):
            return None
        return value if isinstance(value, (bool, int, float, tuple)) else None

    def python(self, identifier: Callable[[str], str]) -> str:
        """The expression as Python; `identifier` gives each name's Python identifier."""
        return _python(self.expr, identifier, 0)


class _NotAValue(Exception):
    pass


def _no_calls(call: ast.Call) -> Any:
    raise _NotAValue(call.callee)


def block_definition(header: Span | None) -> ast.BlockDef | None:
    """The parsed block whose header is `header` (the parser caches each file's tree)."""
    if header is None:
        return None
    try:
        spec = parse(header.source.text, header.source.name)
    except NetspecError:
        return None
    return next((b for b in spec.blocks if b.span == header), None)


def values(block: ast.BlockDef) -> list[Candidate]:
    """Every expression the block computes a value with (arguments and attributes of its calls)."""
    found: dict[ast.Expr, Span] = {}
    params = {p.name for p in block.params}
    for call in _calls(block.body):
        for expr in (*call.args, *(k.value for k in call.kwargs)):
            if not isinstance(expr, (ast.Number, ast.Dims, ast.String, ast.Bool, ast.Name)):
                found.setdefault(expr, call.span)
    # `and`/`or` give a bool in the spec but an operand in Python (`stride == 1 and width` is
    # `width`), so a value may use them only inside a condition's own candidates
    return [c for c in (_candidate(e, params, around, logic=False) for e, around in found.items()) if c is not None]


def conditions(block: ast.BlockDef) -> list[Candidate]:
    """Every condition under which some of the block's statements exist: an `if`'s (and its
    negation, for `else`), with the conditions of the `if`s around it, and `residual when` /
    `shortcut when`."""
    params = {p.name for p in block.params}
    found: list[Candidate] = []

    def visit(body: tuple, guard: ast.Expr | None) -> None:
        for stmt in body:
            if isinstance(stmt, ast.If):
                negated = _not(stmt.condition)
                for local, branch in ((stmt.condition, stmt.then), (negated, stmt.otherwise)):
                    if not branch:
                        continue
                    around = _enclosing(branch)
                    for expr in (local,) if guard is None else (local, _and(guard, local)):
                        candidate = _candidate(expr, params, around)
                        if candidate is not None:
                            found.append(candidate)
                    visit(branch, _and(guard, local))
            elif isinstance(stmt, ast.Residual):
                for expr, around in ((stmt.when, stmt.span), (stmt.shortcut_when, stmt.shortcut_span)):
                    if expr is not None:
                        candidate = _candidate(_and(guard, expr), params, around)
                        if candidate is not None:
                            found.append(candidate)
                visit(stmt.body, guard)
                visit(stmt.shortcut or (), guard)
            elif isinstance(stmt, (ast.Repeat, ast.Sequential)):
                visit(stmt.body, guard)
            elif isinstance(stmt, ast.Merge):
                for branch in stmt.branches:
                    visit(branch, guard)
    visit(block.body, None)
    return found


def contains(outer: Span | None, inner: Span) -> bool:
    if outer is None or outer.source != inner.source:
        return False
    return (outer.line, outer.column) <= (inner.line, inner.column) and \
        (inner.end_line, inner.end_column) <= (outer.end_line, outer.end_column)


# ---- the pieces ---------------------------------------------------------------------------------


FLIPPED = {"==": "!=", "!=": "==", "<": ">=", ">=": "<", ">": "<=", "<=": ">"}


def _not(expr: ast.Expr) -> ast.Expr:
    """The negation, written as a person would: `expand == 1` for `not expand != 1`."""
    if isinstance(expr, ast.Binary) and expr.op in FLIPPED:
        return ast.Binary(FLIPPED[expr.op], expr.left, expr.right, expr.span)
    if isinstance(expr, ast.Unary) and expr.op == "not":
        return expr.operand
    return ast.Unary("not", expr, expr.span)


def _and(guard: ast.Expr | None, expr: ast.Expr) -> ast.Expr:
    return expr if guard is None else ast.Binary("and", guard, expr, expr.span)


def _enclosing(body: tuple) -> Span:
    first, last = body[0].span, body[-1].span
    return Span(first.source, first.line, first.column, last.end_line, last.end_column)


def _calls(body: tuple) -> Iterator[ast.Call]:
    for stmt in body:
        if isinstance(stmt, ast.Chain):
            yield from stmt.stages
        elif isinstance(stmt, ast.Assign):
            yield from stmt.chain.stages
        elif isinstance(stmt, ast.If):
            yield from _calls(stmt.then)
            yield from _calls(stmt.otherwise)
        elif isinstance(stmt, ast.Residual):
            yield from _calls(stmt.body)
            yield from _calls(stmt.shortcut or ())
        elif isinstance(stmt, (ast.Repeat, ast.Sequential)):
            yield from _calls(stmt.body)
        elif isinstance(stmt, ast.Merge):
            yield stmt.merger
            for branch in stmt.branches:
                yield from _calls(branch)


def _candidate(expr: ast.Expr, params: set[str], around: Span | None = None, logic: bool = True) -> Candidate | None:
    names: list[str] = []
    if not _expressible(expr, params, names, logic):
        return None
    return Candidate(expr, tuple(dict.fromkeys(names)), around)


def _expressible(expr: ast.Expr, params: set[str], names: list[str], logic: bool = True) -> bool:
    """Can the expression be written in Python over block parameters and in_channels alone
    (with `and`/`or` only if `logic`)?"""
    if isinstance(expr, ast.Number):
        return isinstance(expr.value, int)
    if isinstance(expr, ast.Bool):
        return True
    if isinstance(expr, ast.Name):
        names.append(expr.id)
        return expr.id in params
    if isinstance(expr, ast.GetAttr):
        names.append(IN_CHANNELS)
        return isinstance(expr.target, ast.Name) and expr.target.id == "in" and expr.attr == "channels"
    if isinstance(expr, ast.Unary):
        return _expressible(expr.operand, params, names, logic)
    if isinstance(expr, ast.Binary):
        return expr.op in PRECEDENCE and (logic or expr.op not in ("and", "or")) and \
            _expressible(expr.left, params, names, logic) and _expressible(expr.right, params, names, logic)
    if isinstance(expr, ast.Call):
        return expr.callee in PYTHON_BUILTINS and expr.callee not in params and not expr.kwargs and \
            all(_expressible(a, params, names, logic) for a in expr.args)
    return False  # dimensions, strings, tuples, `/` (a float in Python), conditional expressions


def _python(expr: ast.Expr, identifier: Callable[[str], str], outer: int) -> str:
    if isinstance(expr, ast.Number):
        return repr(expr.value)
    if isinstance(expr, ast.Bool):
        return repr(expr.value)
    if isinstance(expr, ast.Name):
        return identifier(expr.id)
    if isinstance(expr, ast.GetAttr):
        return identifier(IN_CHANNELS)
    if isinstance(expr, ast.Call):
        return f"{expr.callee}({', '.join(_python(a, identifier, 0) for a in expr.args)})"
    if isinstance(expr, ast.Unary):
        level = PRECEDENCE["not" if expr.op == "not" else "neg"]
        text = ("not " if expr.op == "not" else "-") + _python(expr.operand, identifier, level)
    else:
        assert isinstance(expr, ast.Binary)
        level = PRECEDENCE[expr.op]
        # left-associative: the right operand of an operator of the same level needs brackets
        # (a - (b - c)); comparisons never chain in the spec, so they bracket both sides
        left_level = level + 1 if level == 4 else level
        text = f"{_python(expr.left, identifier, left_level)} {expr.op} {_python(expr.right, identifier, level + 1)}"
    return f"({text})" if level < outer else text
