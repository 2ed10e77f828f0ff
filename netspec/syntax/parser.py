"""Text → AST: runs the lark grammar and turns its tree into netspec.syntax.ast nodes."""
from __future__ import annotations

import difflib
import functools
import re
from pathlib import Path

from lark import Lark, Token, Transformer, UnexpectedInput, v_args
from lark.indenter import DedentError, Indenter

from netspec.errors import Note, Source, Span, SpecSyntaxError
from netspec.syntax import ast

GRAMMAR = Path(__file__).resolve().parent.parent / "grammar.lark"

# How the parser's terminal names read in an error message.
TERMINAL_WORDS = {
    "NAME": "a name",
    "CALLNAME": "a call such as 'f('",
    "NUMBER": "a number",
    "DIMS": "dimensions such as 3x3",
    "STRING": 'a quoted string',
    "_NL": "end of line",
    "_INDENT": "an indented block",
    "_DEDENT": "the end of the block",
    "$END": "end of file",
    "COLON": "':'",
    "LPAR": "'('",
    "RPAR": "')'",
    "COMMA": "','",
    "EQUAL": "'='",
    "SEMICOLON": "';'",
    "VBAR": "'|'",
    "ADD_OP": "'+' or '-'",
    "MUL_OP": "an operator",
    "COMP_OP": "a comparison",
    "MINUS": "'-'",
    "DOT": "'.'",
}


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
        raise _syntax_error(source, error) from None
    except _BadDedent as bad:
        line = bad.token.end_line
        indent = len(source.line(line)) - len(source.line(line).lstrip())
        levels = " or ".join(map(str, sorted(set(bad.levels))))
        raise SpecSyntaxError(
            f"inconsistent indentation: this line is indented {indent} spaces, "
            f"but the enclosing blocks are indented {levels}",
            _point(source, line, 1 + indent, max(1, len(source.line(line).strip()))),
        ) from None
    try:
        return _ToAst(source).transform(tree)
    except RecursionError:
        raise SpecSyntaxError(
            "the spec nests too deeply to process: an expression is too deep", _point(source, 1, 1)
        ) from None


def parse_file(path: str | Path, shown_as: str | None = None) -> ast.Spec:
    path = Path(path)
    return parse(path.read_text(encoding="utf-8"), shown_as or str(path))


def _point(source: Source, line: int, column: int, width: int = 1) -> Span:
    return Span(source, line, column, line, column + width)


def _syntax_error(source: Source, error: UnexpectedInput) -> SpecSyntaxError:
    line, column = max(error.line, 1), max(error.column, 1)
    token = getattr(error, "token", None)
    if token is not None and token.type == "$END":
        line = len(source.text.splitlines()) or 1
        column = len(source.line(line)) + 1
    if token is not None and token.type == "_NL":
        line, column = token.line, token.column
    if token is not None and token.type == "_INDENT":
        line = token.end_line
        column = len(source.line(line)) - len(source.line(line).lstrip()) + 1
        return SpecSyntaxError(
            "unexpected indentation: only the lines after one ending in ':' are indented",
            _point(source, line, column, max(1, len(source.line(line).strip()))),
        )
    previous = _previous_code_line(source, line)
    text = source.line(line)
    indent = len(text) - len(text.lstrip())
    opens_block = previous and source.line(previous).split("#")[0].rstrip().endswith(":")
    previous_indent = len(source.line(previous)) - len(source.line(previous).lstrip()) if previous else 0
    if opens_block and column <= indent + 1 and indent <= previous_indent:
        column = indent + 1
        return SpecSyntaxError(
            f"expected an indented block after the ':' on line {previous}",
            _point(source, line, column, max(1, len(text.strip()))),
        )
    found = _describe_found(source, error, token)
    width = len(str(token)) if token is not None and token.type not in ("_NL", "$END", "_DEDENT", "_INDENT") else 1
    here = _point(source, line, column, max(width, 1))
    if token is None:  # a character no token can start with: the list of tokens allowed here would be noise
        if source.line(line)[column - 1 : column] == '"':
            return SpecSyntaxError("unterminated string: a string must end on the line where it starts", here)
        return SpecSyntaxError(f"unexpected {found}", here)
    terminals = _expected(error)
    if "CALLNAME" in terminals and re.match(r"\s*block\b", text) and token.type != "CALLNAME":
        name = str(token) if token.type == "NAME" else "NAME"
        return SpecSyntaxError(
            f"a block is declared as `block NAME(PARAMETERS):`; write `block {name}():` if it has no parameters",
            here,
        )
    opener = _unclosed_paren(source, line, column)
    if opener is not None and "RPAR" in terminals and opener[0] < line:
        return SpecSyntaxError(
            f"expected ')' before {found}",
            here,
            [Note(_point(source, *opener), "to match this '('")],
        )
    if token.type == "COMMA" and "COMMA" not in terminals and opener is None:
        return SpecSyntaxError(
            "unexpected ','; separate arguments with spaces, as in `conv 64 3x3`, "
            "or call with parentheses, as in `conv(64, 3x3)`",
            here,
        )
    if "BRANCH" in terminals and opens_block:
        # `repeet 3:` parses as a merge like `concat:`, whose indented lines must be branches
        head = source.line(previous).split()[0].split("(")[0].rstrip(":")
        keyword = difflib.get_close_matches(head, BLOCK_KEYWORDS, n=1, cutoff=0.6)
        if keyword and head not in BLOCK_KEYWORDS:
            start = source.line(previous).index(head) + 1
            return SpecSyntaxError(
                f"unknown statement '{head}'; did you mean '{keyword[0]}'?", _point(source, previous, start, len(head))
            )
        return SpecSyntaxError(
            f"expected 'branch:': the lines under '{head}:' (on line {previous}) are the branches it merges", here
        )
    if terminals == {"COLON"} and token.type == "_NL":
        return SpecSyntaxError("expected ':' at the end of the line", here)
    expected = _phrase_expected(terminals)
    assigned = re.search(r"([A-Za-z_]\w*)\s*=\s*$", source.line(line)[: column - 1])
    value_expected = "a value" in expected or "NAME" in terminals
    if assigned and value_expected and token.type in ("_NL", "$END", "_DEDENT", "RPAR", "COMMA"):
        return SpecSyntaxError(f"expected a value after '{assigned.group(0).strip()}'", here)
    message = f"unexpected {found}"
    if expected:
        message += "; expected " + _one_of(expected)
    return SpecSyntaxError(message, here)


def _unclosed_paren(source: Source, line: int, column: int) -> tuple[int, int] | None:
    """Where the innermost '(' still open before (line, column) is, skipping comments and strings."""
    stack: list[tuple[int, int]] = []
    for number, text in enumerate(source.text.splitlines()[:line], start=1):
        if number == line:
            text = text[: column - 1]
        in_string = False
        for index, char in enumerate(text):
            if char == '"':
                in_string = not in_string
            elif in_string:
                continue
            elif char == "#":
                break
            elif char == "(":
                stack.append((number, index + 1))
            elif char == ")" and stack:
                stack.pop()
    return stack[-1] if stack else None


# Terminals that can start a value; when all of them are expected, say "a value".
VALUE_STARTERS = {"NUMBER", "NAME", "DIMS", "CALLNAME", "LPAR"}
STATEMENT_STARTERS = {"REPEAT", "RESIDUAL", "IF", "OUTPUT", "NAME", "CALLNAME"}


BLOCK_KEYWORDS = ("repeat", "residual", "shortcut", "if", "elif", "else", "block", "branch")

# Operators that could continue an expression; listed only when little else is expected.
OPERATORS = {"ADD_OP", "MUL_OP", "COMP_OP", "DOT", "MINUS"}


def _phrase_expected(terminals: set[str]) -> list[str]:
    words = []
    if len(terminals - OPERATORS) >= 2:
        terminals = terminals - OPERATORS
    if STATEMENT_STARTERS <= terminals:
        terminals = terminals - STATEMENT_STARTERS - {"BLOCK", "IMPORT", "INPUT", "NETWORK", "LPAR"}
        words.append("a statement")
    if VALUE_STARTERS <= terminals:
        terminals = terminals - VALUE_STARTERS - {"STRING", "TRUE", "FALSE", "MINUS", "NOT"}
        words.append("a value")
    if {"NAME", "CALLNAME"} <= terminals:  # after '|' or ';': the next stage
        terminals = terminals - {"NAME", "CALLNAME"}
        words.append("an op or block")
    words += [TERMINAL_WORDS.get(t, _quote_keyword(t)) for t in terminals]
    return sorted(set(words))


def _previous_code_line(source: Source, line: int) -> int | None:
    for number in range(line - 1, 0, -1):
        if source.line(number).split("#")[0].strip():
            return number
    return None


def _expected(error: UnexpectedInput) -> set[str]:
    expected = getattr(error, "expected", None) or getattr(error, "allowed", None) or set()
    return {t for t in expected if not t.startswith("__")}


def _describe_found(source: Source, error: UnexpectedInput, token: Token | None) -> str:
    if token is None:
        char = source.line(error.line)[error.column - 1 : error.column] if error.line > 0 else ""
        return f"character {char!r}" if char else "character"
    if token.type == "$END":
        return "end of file"
    if token.type == "_NL":
        return "end of line"
    if token.type == "_INDENT":
        return "indentation"
    if token.type == "_DEDENT":
        return "end of the block"
    return f"'{token}'"


def _quote_keyword(terminal: str) -> str:
    return f"'{terminal.lower()}'"


def _one_of(words: list[str]) -> str:
    if len(words) == 1:
        return words[0]
    if len(words) == 2:
        return f"{words[0]}{',' if ' or ' in words[0] else ''} or {words[1]}"
    return "one of " + ", ".join(words)


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
        head, params, body = children
        header = Span(self.source, head.line, head.column, head.line, head.end_column - 1)  # the name, without '('
        return ast.BlockDef(str(head)[:-1], params or (), body, header)

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
        return ast.Merge(merger, tuple(b[0] for b in branches), tuple(b[1] for b in branches), self._span(meta))

    def branch(self, meta, children):
        return (children[0], self._span(meta))

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
