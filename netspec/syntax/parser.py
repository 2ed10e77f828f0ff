"""Text → AST: lark's LALR parser builds netspec.syntax.ast nodes as it reduces; no parse tree is made."""
from __future__ import annotations

import functools
from collections import OrderedDict
from pathlib import Path
from typing import Any, Callable

from lark import Lark, Token, UnexpectedInput
from lark.indenter import DedentError, Indenter

from netspec.errors import Source, Span, SpecSyntaxError
from netspec.syntax import ast
from netspec.syntax.fast_loop import fast_parser
from netspec.syntax.messages import point, syntax_error
from netspec.syntax.reductions import Built, RulePlan, ast_builder

GRAMMAR = Path(__file__).resolve().parent.parent / "grammar.lark"

class _SpecIndenter(Indenter):
    NL_type = "_NL"
    OPEN_PAREN_types = ["LPAR", "CALLNAME"]
    CLOSE_PAREN_types = ["RPAR"]
    INDENT_type = "_INDENT"
    DEDENT_type = "_DEDENT"
    tab_len = 8

    def handle_NL(self, token: Token):
        levels = list(self.indent_level)  # before this line pops any of them
        try:
            yield from super().handle_NL(token)
        except DedentError as error:
            raise _BadDedent(token, levels) from error


class _BadDedent(Exception):
    def __init__(self, token: Token, levels: list[int]):
        self.token = token
        self.levels = levels


@functools.lru_cache(maxsize=1)
def _lark() -> Lark:
    return _ReducingLark(
        GRAMMAR.read_text(),
        parser="lalr",
        postlex=_SpecIndenter(),
        maybe_placeholders=True,
        cache=True,
    )


# Parses are cached in-process, keyed by the text itself and the name it is shown under: the
# AST depends on nothing else and is immutable, so a cached result can never be stale.
# Analysing variants of one spec (`--set`, a report of several networks, a benchmark's
# repeats) parses each file once. The cache keeps the most recent texts up to a total size.
CACHE_CHARACTERS = 4_000_000
_cache: OrderedDict[tuple[str, str], ast.Spec] = OrderedDict()


def parse(text: str, name: str = "<spec>") -> ast.Spec:
    """Parse one spec's text; raise SpecSyntaxError pointing at the first mistake."""
    key = (text, name)
    spec = _cache.get(key)
    if spec is not None:
        _cache.move_to_end(key)
        return spec
    spec = _parse(text, name)
    if len(text) <= CACHE_CHARACTERS:
        _cache[key] = spec
        while sum(len(t) for t, _ in _cache) > CACHE_CHARACTERS:
            _cache.popitem(last=False)
    return spec


def clear_cache() -> None:
    _cache.clear()


def _parse(text: str, name: str) -> ast.Spec:
    source = Source(name, text)
    padded = text if text.endswith("\n") else text + "\n"
    building = ast_builder.set(_ToAst(source))
    try:
        fast = fast_parser(_lark())
        built = fast.parse(padded) if fast is not None else None
        if built is None:  # a mistake somewhere: lark's own loop parses again and says what it is
            built = _lark().parse(padded)
        return built.value
    except UnexpectedInput as error:
        raise syntax_error(source, error) from None
    except _BadDedent as bad:
        line = bad.token.end_line
        indent = len(source.line(line)) - len(source.line(line).lstrip())
        levels = " or ".join(map(str, sorted(set(bad.levels))))
        raise SpecSyntaxError(
            f"inconsistent indentation: this line is indented {indent} spaces, "
            f"but the enclosing blocks are indented {levels}",
            point(source, line, 1 + indent, max(1, len(source.line(line).strip()))),
        ) from None
    finally:
        ast_builder.reset(building)


def parse_file(path: str | Path, shown_as: str | None = None) -> ast.Spec:
    path = Path(path)
    name = shown_as or str(path)
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        good = data[: error.start].decode("utf-8")
        line = good.count("\n") + 1
        column = len(good) - (good.rfind("\n") + 1) + 1
        shown = Source(name, good + "\n")
        raise SpecSyntaxError(
            f"this file is not UTF-8 text: byte 0x{data[error.start]:02x} cannot be decoded", point(shown, line, column)
        ) from None
    return parse(text, name)


# ---- building the AST during the parse ---------------------------------------------
#
# lark's own tree builder makes a Tree per rule, computes positions on it, and a Transformer
# then walks the tree again. Here each grammar rule gets one callback, run as the LALR parser
# reduces it: it drops punctuation and splices lark's helper rules exactly as lark's child
# filter does, computes the rule's position exactly as lark's `propagate_positions` does
# (from the first and last of the rule's own tokens and sub-results, punctuation included),
# and calls the method of `_ToAst` named after the rule or its alias.


class _ReducingLark(Lark):
    """A LALR `Lark` whose reductions build netspec's AST directly (see `_rule_callback`)."""

    def _prepare_callbacks(self) -> None:
        self._callbacks = {rule: _rule_callback(rule, self.options.maybe_placeholders) for rule in self.rules}


def _rule_callback(rule, placeholders: bool) -> Callable[[list], Built]:
    plan = RulePlan(rule, placeholders)
    if plan.passes_through:
        return _pass_through
    kept, trailing, helper, inline_single, method = plan.kept, plan.trailing, plan.helper, plan.inline_single, plan.method

    def callback(children: list) -> Built:
        line = column = end_line = end_column = None
        for child in children:
            if child.__class__ is Built:
                if child.line is not None:
                    line, column = child.line, child.column
                    break
            else:
                line, column = child.line, child.column
                break
        if line is not None:
            for child in reversed(children):
                if child.__class__ is Built:
                    if child.line is not None:
                        end_line, end_column = child.end_line, child.end_column
                        break
                else:
                    end_line, end_column = child.end_line, child.end_column
                    break
        values: list = []
        for index, splice, add_none in kept:
            if add_none:
                values += [None] * add_none
            child = children[index]
            if splice:
                if values:
                    values += child.value
                else:  # left recursion: reuse the list (LALR never shares it)
                    values = child.value
            else:
                values.append(child.value if child.__class__ is Built else child)
        if trailing:
            values += [None] * trailing
        if helper:
            return Built(values, line, column, end_line, end_column)
        if inline_single and len(values) == 1:
            return Built(values[0], line, column, end_line, end_column)
        built = Built(None, line, column, end_line, end_column)
        built.value = getattr(ast_builder.get(), method)(built, values)
        return built

    return callback


def _pass_through(children: list) -> Any:
    return children[0]


class _ToAst:
    """Purely structural: one method per grammar rule (or alias), called with the rule's span
    and its children; builds AST nodes with spans and never raises."""

    def __init__(self, source: Source):
        self.source = source

    def _span(self, meta) -> Span:
        return Span(self.source, meta.line, meta.column, meta.end_line, meta.end_column)

    def _tok(self, token: Token) -> Span:
        return Span(self.source, token.line, token.column, token.end_line, token.end_column)

    # ---- top level
    def start(self, meta, items):
        imports, networks, inputs, blocks, statements = [], [], [], [], []
        kinds = {ast.Import: imports, ast.NetworkDecl: networks, ast.InputDecl: inputs, ast.BlockDef: blocks}
        for item in items:  # one pass: a long spec has one item per line
            kinds.get(item.__class__, statements).append(item)
        whole = Span(self.source, 1, 1, max(1, len(self.source.text.splitlines())), 1)
        return ast.Spec(tuple(imports), tuple(networks), tuple(inputs), tuple(blocks), tuple(_flatten(statements)), whole)

    def import_stmt(self, meta, children):
        return ast.Import(children[0][1:-1], self._span(meta))

    def network_decl(self, meta, children):
        if len(children) == 1:
            return ast.NetworkDecl(str(children[0]), (), self._span(meta))
        head, params = children[0], children[1]
        return ast.NetworkDecl(str(head)[:-1], params or (), self._span(meta))

    def input_decl(self, meta, children):
        return ast.InputDecl(children[0], self._span(meta))

    def block_def(self, meta, children):
        kind, head, params, body = children
        header = Span(self.source, head.line, head.column, head.line, head.end_column - 1)  # the name, without '('
        return ast.BlockDef(str(head)[:-1], params or (), body, header, kind or "block")

    def block_kind(self, meta, children):
        return str(children[0])

    def params(self, meta, children):
        return tuple(c for c in children if c is not None)

    def param(self, meta, children):
        return ast.Param(str(children[0]), children[1], self._span(meta))

    # ---- statements
    def suite(self, meta, children):
        return tuple(_flatten(children))

    def simple_stmts(self, meta, children):
        return [c for c in children if c is not None]

    def chain(self, meta, children):
        stages, name = children
        return ast.Chain(stages, str(name) if name else None, self._span(meta), self._tok(name) if name else None)

    def assign(self, meta, children):
        name, stages = children
        chain = ast.Chain(stages, None, Span(self.source, stages[0].span.line, stages[0].span.column, stages[-1].span.end_line, stages[-1].span.end_column))
        return ast.Assign(str(name), chain, self._span(meta), self._tok(name))

    def output_stmt(self, meta, children):
        when = children[-1] if children and isinstance(children[-1], Token) else None
        values = tuple(c for c in children if c is not None and c is not when)
        return ast.Output(values, self._span(meta), str(when) if when else None, self._tok(when) if when else None)

    def pipeline(self, meta, children):
        return tuple(children)

    def word_call(self, meta, children):
        name, *args = children
        positional, keywords = _split_keywords(args)
        return ast.Call(str(name), positional, keywords, self._span(meta), self._tok(name), False)

    def paren_call(self, meta, children):
        return self.call(meta, children)

    def call(self, meta, children):
        head, arglist = children
        positional, keywords = _split_keywords(arglist or ())
        callee_span = Span(self.source, head.line, head.column, head.line, head.end_column - 1)
        return ast.Call(str(head)[:-1], positional, keywords, self._span(meta), callee_span, True)

    def arglist(self, meta, children):
        return tuple(c for c in children if c is not None)

    def kwarg(self, meta, children):
        return ast.Keyword(str(children[0]), children[1], self._span(meta))

    def repeat_stmt(self, meta, children):
        count, index, body = children
        return ast.Repeat(count, str(index) if index else None, body, self._span(meta))

    def residual_stmt(self, meta, children):
        when, body, shortcut = children
        if shortcut is None:
            return ast.Residual(body, None, None, when, self._span(meta), None)
        shortcut_when, shortcut_body, shortcut_span = shortcut
        return ast.Residual(body, shortcut_body, shortcut_when, when, self._span(meta), shortcut_span)

    def shortcut(self, meta, children):
        when, body = children
        return (when, body, self._span(meta))

    def merge_stmt(self, meta, children):
        merger, *branches = children
        return ast.Merge(
            merger, tuple(b[0] for b in branches), tuple(b[1] for b in branches), self._span(meta),
            tuple(b[2] for b in branches),
        )

    def branch(self, meta, children):
        inline, body = children
        return (body, self._span(meta), inline is not None)

    def inline(self, meta, children):
        return True

    def sequential_stmt(self, meta, children):
        name, body = children
        return ast.Sequential(str(name) if name else None, body, self._span(meta))

    def if_stmt(self, meta, children):
        condition, then, *elifs, otherwise = children
        otherwise_body = otherwise[1] if otherwise else ()
        for clause in reversed(elifs):  # elif chains nest as if/else
            _, cond, body, span = clause
            otherwise_body = (ast.If(cond, body, otherwise_body, span),)
        return ast.If(condition, then, otherwise_body, self._span(meta))

    def elif_clause(self, meta, children):
        return ("elif", children[0], children[1], self._span(meta))

    def else_clause(self, meta, children):
        return ("else", children[0])

    # ---- expressions
    def ternary(self, meta, children):
        then, condition, otherwise = children
        return ast.Ternary(then, condition, otherwise, self._span(meta))

    def or_(self, meta, children):
        return ast.Binary("or", children[0], children[1], self._span(meta))

    def and_(self, meta, children):
        return ast.Binary("and", children[0], children[1], self._span(meta))

    def not_(self, meta, children):
        return ast.Unary("not", children[0], self._span(meta))

    def neg(self, meta, children):
        return ast.Unary("-", children[0], self._span(meta))

    def compare(self, meta, children):
        left, op, right = children
        return ast.Binary(str(op), left, right, self._span(meta))

    def arith(self, meta, children):
        left, op, right = children
        return ast.Binary(str(op), left, right, self._span(meta))

    def getattr(self, meta, children):
        return ast.GetAttr(children[0], str(children[1]), self._span(meta))

    def number(self, meta, children):
        text = str(children[0])
        return ast.Number(int(text) if text.isdigit() else float(text), self._span(meta))

    def dims(self, meta, children):
        return ast.Dims(tuple(int(v) for v in str(children[0]).split("x")), self._span(meta))

    def string(self, meta, children):
        return ast.String(str(children[0])[1:-1], self._span(meta))

    def true(self, meta, children):
        return ast.Bool(True, self._span(meta))

    def false(self, meta, children):
        return ast.Bool(False, self._span(meta))

    def name(self, meta, children):
        return ast.Name(str(children[0]), self._span(meta))

    def tuple(self, meta, children):
        return ast.Tuple(tuple(c for c in children if c is not None), self._span(meta))


def _split_keywords(args) -> tuple[tuple, tuple[ast.Keyword, ...]]:
    """A call's arguments: (positional ones, keyword ones), each in order."""
    if not args:  # `relu`: most calls have no arguments at all
        return (), ()
    positional, keywords = [], []
    for arg in args:
        (keywords if arg.__class__ is ast.Keyword else positional).append(arg)
    return tuple(positional), tuple(keywords)


def _flatten(items) -> list:
    """Statements out of the nested lists and tuples of suites and `a; b` lines, Nones dropped."""
    flat = []
    for item in items:
        if isinstance(item, (list, tuple)):
            flat += _flatten(item)
        elif item is not None:
            flat.append(item)
    return flat
