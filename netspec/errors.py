"""Diagnostics for every stage: source spans, the NetspecError family, and their rendering."""
from __future__ import annotations

import difflib
import functools
import unicodedata
from dataclasses import dataclass, field
from typing import Iterable

from netspec.fast_init import fast_init

MAX_DIAGNOSTICS = 100  # errors collected in one run; past this, elaboration stops and says so
_SHOWN_LINE_CHARS = 120  # a longer source line is shown as a window around the caret
_MESSAGE_CHARS = 1_000


@dataclass(frozen=True, eq=False)
class Source:
    """A spec's text and the name it is shown under (a path as the user gave it)."""

    name: str
    text: str = field(repr=False)

    @functools.cached_property
    def lines(self) -> tuple[str, ...]:
        """The lines as the parser counts them: split at LF only (a CR before it dropped), so that
        a form feed, U+2028 or U+0085 inside a comment does not shift the line shown."""
        return tuple(line.removesuffix("\r") for line in self.text.split("\n"))

    @property
    def line_count(self) -> int:
        """How many lines there are, a final line break not starting another."""
        return len(self.lines) - (self.text.endswith("\n") or not self.text)

    def line(self, number: int) -> str:
        lines = self.lines
        return lines[number - 1] if 0 < number <= len(lines) else ""


@fast_init
@dataclass(frozen=True, slots=True)
class Span:
    """A region of a source: 1-based line and column, end exclusive."""

    source: Source
    line: int
    column: int
    end_line: int
    end_column: int

    def __str__(self) -> str:
        return f"{self.source.name}:{self.line}:{self.column}"

    def __repr__(self) -> str:
        return f"Span({self})"

    @property
    def sort_key(self) -> tuple[str, int, int]:
        return (self.source.name, self.line, self.column)


@dataclass(frozen=True)
class Note:
    """A secondary location attached to a diagnostic ("first defined here")."""

    span: Span
    message: str


@dataclass(frozen=True)
class Diagnostic:
    """One error or warning at a span, with optional notes at other spans. `code` names the kind
    of mistake (stable across releases, listed in docs/errors.md) for editors and CI."""

    message: str
    span: Span | None
    severity: str = "error"
    notes: tuple[Note, ...] = ()
    code: str = "error"

    def render(self) -> str:
        parts = [_render_one(self.span, self.severity, self.message)]
        parts += [_render_one(note.span, "note", note.message) for note in self.notes]
        return "\n".join(parts)

    def as_dict(self) -> dict:
        """The fields of `netspec check --format json`: 1-based line and column, end exclusive."""
        span = self.span
        where = (
            {"file": span.source.name, "line": span.line, "col": span.column,
             "end_line": span.end_line, "end_col": span.end_column}
            if span is not None else {"file": None, "line": None, "col": None, "end_line": None, "end_col": None}
        )
        notes = [{"file": n.span.source.name, "line": n.span.line, "col": n.span.column, "message": n.message} for n in self.notes]
        return {**where, "severity": self.severity, "code": self.code, "message": self.message, "notes": notes}


class NetspecError(Exception):
    """Every error netspec reports to a user; carries one or more diagnostics."""

    code = "error"  # each subclass names its kind; a raise site may name a finer one

    def __init__(self, message: str, span: Span | None = None, notes: Iterable[Note] = (), code: str | None = None):
        super().__init__(message)
        self.diagnostics: tuple[Diagnostic, ...] = (Diagnostic(message, span, "error", tuple(notes), code or self.code),)
        self.more = 0  # errors found past MAX_DIAGNOSTICS, counted but not kept

    @classmethod
    def collected(cls, diagnostics: Iterable[Diagnostic], more: int = 0) -> "NetspecError":
        ordered = _unique(sorted(diagnostics, key=_position))
        error = cls(ordered[0].message, ordered[0].span)
        error.diagnostics = tuple(ordered)
        error.more = more
        return error

    def render(self) -> str:
        return "\n".join(d.render() for d in self.diagnostics)

    def __str__(self) -> str:
        return self.render()


class SpecSyntaxError(NetspecError):
    """The text does not follow the grammar."""

    code = "syntax"


class SpecError(NetspecError):
    """The text parses but does not describe a valid network (names, values, shapes)."""

    code = "spec"


class LimitError(SpecError):
    """The spec asks for more than netspec will do (work, layers, digits, nesting, file size)."""

    code = "limit"


class UsageError(NetspecError):
    """The command cannot be carried out as given (a missing file, a malformed --set, an output
    path under a file, a full disk): not a mistake in the spec; the CLI exits with status 2."""

    code = "usage"


@dataclass
class DiagnosticSink:
    """Collects diagnostics so that independent mistakes are all reported in one run; past
    MAX_DIAGNOSTICS errors it keeps only a count of further distinct ones."""

    diagnostics: list[Diagnostic] = field(default_factory=list)
    more: set = field(default_factory=set)
    _error_count: int = 0

    def error(self, message: str, span: Span | None, notes: Iterable[Note] = (), code: str = "spec") -> None:
        self._keep(Diagnostic(message, span, "error", tuple(notes), code))

    def warning(self, message: str, span: Span | None, notes: Iterable[Note] = (), code: str = "warning") -> None:
        self._keep(Diagnostic(message, span, "warning", tuple(notes), code))

    def add(self, error: NetspecError) -> None:
        for diagnostic in error.diagnostics:
            self._keep(diagnostic)

    def _keep(self, diagnostic: Diagnostic) -> None:
        if diagnostic.severity == "error":
            if self._error_count >= MAX_DIAGNOSTICS:
                self.more.add(_key(diagnostic))
                return
            self._error_count += 1
        self.diagnostics.append(diagnostic)

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity == "error"]

    @property
    def warnings(self) -> list[Diagnostic]:
        return _unique(sorted((d for d in self.diagnostics if d.severity == "warning"), key=_position))

    def raise_if_errors(self) -> None:
        errors = self.errors
        if errors:
            kept = {_key(d) for d in errors}
            raise SpecError.collected(errors, more=len(self.more - kept))


def did_you_mean(word: str, candidates: Iterable[str]) -> str:
    """A "; did you mean 'x'?" suffix, or "" when nothing is close."""
    close = difflib.get_close_matches(word, sorted(set(candidates)), n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else ""


def _unique(diagnostics: list[Diagnostic]) -> list[Diagnostic]:
    """One report per mistake: a block called four times, or a repeat body run four times,
    makes the same diagnostic at the same place; keep the first (its notes say which call)."""
    seen, kept = set(), []
    for d in diagnostics:
        key = _key(d)
        if key not in seen:
            seen.add(key)
            kept.append(d)
    return kept


def _key(d: Diagnostic) -> tuple:
    return (d.severity, d.message, d.span.sort_key if d.span else None)


def _position(diagnostic: Diagnostic) -> tuple[str, int, int]:
    return diagnostic.span.sort_key if diagnostic.span else ("", 0, 0)


def _render_one(span: Span | None, severity: str, message: str) -> str:
    message = _clip(printable(message), _MESSAGE_CHARS)
    if span is None:
        return f"netspec: {severity}: {message}"
    text = span.source.line(span.line)
    end = span.end_column if span.end_line == span.line else len(text) + 1
    column, end = max(1, span.column), max(span.column + 1, end)
    start = 0
    if len(text) > _SHOWN_LINE_CHARS:  # a window around the caret, marked with '…' where cut
        start = max(0, min(column - 1 - _SHOWN_LINE_CHARS // 3, len(text) - _SHOWN_LINE_CHARS))
        shown = text[start : start + _SHOWN_LINE_CHARS]
        shown = ("…" if start else "") + shown + ("…" if start + _SHOWN_LINE_CHARS < len(text) else "")
        start -= 1 if start else 0  # the leading '…' takes the place of one character
    else:
        shown = text
    shown = "".join(c if c == "\t" or c.isprintable() else "\ufffd" for c in shown)
    lead = "".join("\t" if c == "\t" else " " * _columns(c) for c in shown[: column - 1 - start])
    underlined = shown[column - 1 - start : min(end, start + len(shown) + 1) - 1 - start]
    width = max(1, sum(_columns(c) for c in underlined))
    gutter = " " * len(str(span.line))
    return (
        f"{span}: {severity}: {message}\n"
        f" {span.line} | {shown}\n"
        f" {gutter} | {lead}^{'~' * (width - 1)}"
    )


def _columns(character: str) -> int:
    """Terminal columns a character takes: 2 for wide East Asian characters (中), 0 for
    combining marks, else 1; so that the caret lands under the character it points at."""
    if unicodedata.combining(character):
        return 0
    return 2 if unicodedata.east_asian_width(character) in ("W", "F") else 1


def printable(text: str) -> str:
    """`text` with control and other invisible characters escaped (\\x1b, \\u2028), so that a
    name or path from a spec cannot move the terminal's cursor or fake a line of output."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() or c == "\n" else repr(c)[1:-1] for c in text)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else f"{text[: limit // 2]} … {text[-limit // 4 :]}"
