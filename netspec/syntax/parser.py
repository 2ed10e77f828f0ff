"""Text → AST: runs the lark grammar and turns its tree into netspec.syntax.ast nodes."""
from __future__ import annotations

import functools
from pathlib import Path

from lark import Lark, Token, Transformer, UnexpectedInput, v_args
from lark.indenter import DedentError, Indenter

from netspec.errors import Source, Span, SpecSyntaxError
from netspec.syntax import ast
from netspec.syntax.messages import point, syntax_error, too_deep

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
    return Lark(
        GRAMMAR.read_text(),
        parser="lalr",
        postlex=_SpecIndenter(),
        propagate_positions=True,
        maybe_placeholders=True,
        cache=True,
    )


def parse(text: str, name: str = "<spec>") -> ast.Spec:
    """Parse one spec's text; raise SpecSyntaxError pointing at the first mistake."""
    source = Source(name, text)
    padded = text if text.endswith("\n") else text + "\n"
    try:
        tree = _lark().parse(padded)
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
    try:
        return _ToAst(source).transform(tree)
    except RecursionError:
        raise too_deep(source, tree) from None


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


@v_args(meta=True)
class _ToAst(Transformer):
    """Purely structural: builds AST nodes with spans; never raises."""

    def __init__(self, source: Source):
        super().__init__()
        self.source = source

    def _span(self, meta) -> Span:
        return Span(self.source, meta.line, meta.column, meta.end_line, meta.end_column)

    def _tok(self, token: Token) -> Span:
        return Span(self.source, token.line, token.column, token.end_line, token.end_column)

    # ---- top level
    def start(self, meta, items):
        imports = tuple(i for i in items if isinstance(i, ast.Import))
        networks = [i for i in items if isinstance(i, ast.NetworkDecl)]
        inputs = [i for i in items if isinstance(i, ast.InputDecl)]
        blocks = tuple(i for i in items if isinstance(i, ast.BlockDef))
        body = tuple(_flatten(i for i in items if not isinstance(i, (ast.Import, ast.NetworkDecl, ast.InputDecl, ast.BlockDef))))
        whole = Span(self.source, 1, 1, max(1, len(self.source.text.splitlines())), 1)
        return ast.Spec(imports, tuple(networks), tuple(inputs), blocks, body, whole)

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
        return ast.Output(tuple(c for c in children if c is not None), self._span(meta))

    def pipeline(self, meta, children):
        return tuple(children)

    def word_call(self, meta, children):
        name, *args = children
        positional = tuple(a for a in args if not isinstance(a, ast.Keyword))
        keywords = tuple(a for a in args if isinstance(a, ast.Keyword))
        return ast.Call(str(name), positional, keywords, self._span(meta), self._tok(name), False)

    def paren_call(self, meta, children):
        return self.call(meta, children)

    def call(self, meta, children):
        head, arglist = children
        args = arglist or ()
        positional = tuple(a for a in args if not isinstance(a, ast.Keyword))
        keywords = tuple(a for a in args if isinstance(a, ast.Keyword))
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
        is_int = not any(c in text for c in ".eE")
        return ast.Number(int(text) if is_int else float(text), self._span(meta))

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


def _flatten(items):
    for item in items:
        if isinstance(item, (list, tuple)) and not isinstance(item, ast.Tuple):
            yield from _flatten(item)
        elif item is not None:
            yield item
