"""Diagnostics for every stage: source spans, the NetspecError family, and their rendering."""
from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Iterable


@dataclass(frozen=True, eq=False)
class Source:
    """A spec's text and the name it is shown under (a path as the user gave it)."""

    name: str
    text: str = field(repr=False)

    def line(self, number: int) -> str:
        lines = self.text.splitlines()
        return lines[number - 1] if 0 < number <= len(lines) else ""


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
    """One error or warning at a span, with optional notes at other spans."""

    message: str
    span: Span | None
    severity: str = "error"
    notes: tuple[Note, ...] = ()

    def render(self) -> str:
        parts = [_render_one(self.span, self.severity, self.message)]
        parts += [_render_one(note.span, "note", note.message) for note in self.notes]
        return "\n".join(parts)


class NetspecError(Exception):
    """Every error netspec reports to a user; carries one or more diagnostics."""

    def __init__(self, message: str, span: Span | None = None, notes: Iterable[Note] = ()):
        super().__init__(message)
        self.diagnostics: tuple[Diagnostic, ...] = (Diagnostic(message, span, "error", tuple(notes)),)

    @classmethod
    def collected(cls, diagnostics: Iterable[Diagnostic]) -> "NetspecError":
        ordered = _unique(sorted(diagnostics, key=_position))
        error = cls(ordered[0].message, ordered[0].span)
        error.diagnostics = tuple(ordered)
        return error

    def render(self) -> str:
        return "\n".join(d.render() for d in self.diagnostics)

    def __str__(self) -> str:
        return self.render()


class SpecSyntaxError(NetspecError):
    """The text does not follow the grammar."""


class SpecError(NetspecError):
    """The text parses but does not describe a valid network (names, values, shapes)."""


class UsageError(NetspecError):
    """The command cannot be carried out as given (a missing file, a malformed --set, an output
    path under a file, a full disk): not a mistake in the spec; the CLI exits with status 2."""


@dataclass
class DiagnosticSink:
    """Collects diagnostics so that independent mistakes are all reported in one run."""

    diagnostics: list[Diagnostic] = field(default_factory=list)

    def error(self, message: str, span: Span | None, notes: Iterable[Note] = ()) -> None:
        self.diagnostics.append(Diagnostic(message, span, "error", tuple(notes)))

    def warning(self, message: str, span: Span | None, notes: Iterable[Note] = ()) -> None:
        self.diagnostics.append(Diagnostic(message, span, "warning", tuple(notes)))

    def add(self, error: NetspecError) -> None:
        self.diagnostics.extend(error.diagnostics)

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity == "error"]

    @property
    def warnings(self) -> list[Diagnostic]:
        return _unique(sorted((d for d in self.diagnostics if d.severity == "warning"), key=_position))

    def raise_if_errors(self) -> None:
        if self.errors:
            raise SpecError.collected(self.errors)


def did_you_mean(word: str, candidates: Iterable[str]) -> str:
    """A "; did you mean 'x'?" suffix, or "" when nothing is close."""
    close = difflib.get_close_matches(word, sorted(set(candidates)), n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else ""


def _unique(diagnostics: list[Diagnostic]) -> list[Diagnostic]:
    """One report per mistake: a block called four times, or a repeat body run four times,
    makes the same diagnostic at the same place; keep the first (its notes say which call)."""
    seen, kept = set(), []
    for d in diagnostics:
        key = (d.severity, d.message, d.span.sort_key if d.span else None)
        if key not in seen:
            seen.add(key)
            kept.append(d)
    return kept


def _position(diagnostic: Diagnostic) -> tuple[str, int, int]:
    return diagnostic.span.sort_key if diagnostic.span else ("", 0, 0)


def _render_one(span: Span | None, severity: str, message: str) -> str:
    if span is None:
        return f"netspec: {severity}: {message}"
    text = span.source.line(span.line)
    gutter = " " * len(str(span.line))
    end = span.end_column if span.end_line == span.line else len(text) + 1
    width = max(1, end - span.column)
    caret = " " * (span.column - 1) + "^" + "~" * (width - 1)
    return (
        f"{span}: {severity}: {message}\n"
        f" {span.line} | {text}\n"
        f" {gutter} | {caret}"
    )
