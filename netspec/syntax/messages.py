"""Syntax error messages: turns lark's parser states into sentences that say what was expected."""
from __future__ import annotations

import difflib
import re

from lark import Token, UnexpectedInput

from netspec.errors import Note, Source, Span, SpecSyntaxError

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



def point(source: Source, line: int, column: int, width: int = 1) -> Span:
    """A span of `width` characters on one line."""
    return Span(source, line, column, line, column + width)


def syntax_error(source: Source, error: UnexpectedInput) -> SpecSyntaxError:
    line, column = max(error.line, 1), max(error.column, 1)
    token = getattr(error, "token", None)
    if token is not None and token.type == "$END":
        line = source.line_count or 1
        column = len(source.line(line)) + 1
    if token is not None and token.type == "_NL":
        line, column = token.line, token.column
    if token is not None and token.type == "_INDENT":
        line = token.end_line
        column = len(source.line(line)) - len(source.line(line).lstrip()) + 1
        return SpecSyntaxError(
            "unexpected indentation: only the lines after one ending in ':' are indented",
            point(source, line, column, max(1, len(source.line(line).strip()))),
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
            point(source, line, column, max(1, len(text.strip()))),
        )
    found = _describe_found(source, error, token)
    width = len(str(token)) if token is not None and token.type not in ("_NL", "$END", "_DEDENT", "_INDENT") else 1
    here = point(source, line, column, max(width, 1))
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
            [Note(point(source, *opener), "to match this '('")],
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
                f"unknown statement '{head}'; did you mean '{keyword[0]}'?", point(source, previous, start, len(head))
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
    for number, text in enumerate(source.lines[:line], start=1):
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
