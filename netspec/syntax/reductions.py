"""Parser → a rule's reduction worked out once from the rule, and the value it pushes; shared by lark's loop and the fast loop."""
from __future__ import annotations

from contextvars import ContextVar
from typing import Any


class Built:
    """A rule's result on the parser's value stack, with the span of the text it covers."""

    __slots__ = ("value", "line", "column", "end_line", "end_column")

    def __init__(self, value: Any, line: int | None, column: int, end_line: int, end_column: int):
        self.value = value
        self.line = line  # None when the rule matched no text
        self.column = column
        self.end_line = end_line
        self.end_column = end_column


ast_builder: ContextVar[Any] = ContextVar("netspec_ast_builder")  # the parse in progress (parser's `_ToAst`), per thread


class RulePlan:
    """What a rule's callback does with its children, worked out once from the rule."""

    def __init__(self, rule, placeholders: bool):
        expansion = rule.expansion
        empty = rule.options.empty_indices if placeholders else ()
        if empty:  # where `[x]` left out an optional part: how many Nones go before each symbol
            nones = [len(ones) for ones in "".join(str(int(b)) for b in empty).split("0")]
        else:
            nones = [0] * (len(expansion) + 1)
        keep_all = rule.options.keep_all_tokens
        self.terminals = [symbol.is_term for symbol in expansion]
        self.kept: list[tuple[int, bool, int]] = []  # (index, splice a helper rule's children, Nones before)
        pending = 0
        for index, symbol in enumerate(expansion):
            pending += nones[index]
            if keep_all or not (symbol.is_term and symbol.filter_out):
                self.kept.append((index, not symbol.is_term and symbol.name.startswith("_"), pending))
                pending = 0
        self.trailing = pending + nones[len(expansion)]
        self.helper = rule.origin.name.startswith("_")
        self.inline_single = bool(rule.options.expand1) and not rule.alias
        self.method = None if self.helper else rule.alias or rule.options.template_source or rule.origin.name
        self.passes_through = (  # `?sum: product` and the like: the child is the result, span and all
            self.inline_single and self.kept == [(0, False, 0)] and not self.trailing and len(expansion) == 1)
