"""Bytes → spec text, before parsing: size and line-length limits, UTF-8 (a BOM allowed), line endings."""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import BinaryIO

from netspec.errors import LimitError, Source, Span, SpecSyntaxError

MAX_SPEC_BYTES = 1 << 20  # 1 MiB: the largest zoo spec is a few KB; a spec this big is not hand-written
MAX_LINE_CHARS = 10_000
_BOM = "\ufeff"
_LONE_CR = re.compile(r"\r(?!\n)")
MAX_DIGITS = 100  # a 64-bit value has 19; Python refuses to convert more than 4,300
_LONG_NUMBER = re.compile(r"[0-9]{%d,}" % (MAX_DIGITS + 1))


def read_spec_file(path: Path, shown_as: str) -> str:
    """The text of a spec file, read no further than the size limit allows."""
    with open(path, "rb") as stream:
        return read_spec_stream(stream, shown_as, os.fstat(stream.fileno()).st_size)


def read_spec_stream(stream: BinaryIO, shown_as: str, size: int | None = None) -> str:
    """The text of a spec read from an open binary stream (a file or standard input)."""
    data = stream.read(MAX_SPEC_BYTES + 1)
    if len(data) > MAX_SPEC_BYTES:
        head = data[:4096].decode("utf-8", errors="replace")
        whole = f"{size:,} bytes" if size and size > MAX_SPEC_BYTES else f"more than {MAX_SPEC_BYTES:,} bytes"
        raise LimitError(
            f"this file is too large for a spec: {whole}; the limit is {MAX_SPEC_BYTES:,} bytes (1 MiB)",
            _at(Source(shown_as, head), 1, 1),
        )
    return decode_spec(data, shown_as)


def decode_spec(data: bytes, shown_as: str) -> str:
    """UTF-8 bytes → text, with a located error for bytes that are not UTF-8."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        good = data[: error.start].decode("utf-8")
        line = good.count("\n") + 1
        column = len(good) - (good.rfind("\n") + 1) + 1
        raise SpecSyntaxError(
            f"this file is not UTF-8 text: byte 0x{data[error.start]:02x} cannot be decoded",
            _at(Source(shown_as, good + "\n"), line, column),
            code="encoding",
        ) from None
    return check_text(text, shown_as)


def check_text(text: str, shown_as: str) -> str:
    """Spec text ready for the parser: a leading BOM dropped; located errors for lone carriage
    returns (old Mac line endings) and for lines longer than MAX_LINE_CHARS."""
    if text.startswith(_BOM):
        text = text[1:]
    source = Source(shown_as, text)
    lone = _LONE_CR.search(text)
    if lone:
        line = text.count("\n", 0, lone.start()) + 1
        column = lone.start() - (text.rfind("\n", 0, lone.start()) + 1) + 1
        raise SpecSyntaxError(
            "a line ends with a lone carriage return (CR, old Mac line endings); "
            "netspec reads LF or CRLF line endings: convert the file (e.g. `tr '\\r' '\\n'`)",
            _at(source, line, column),
            code="encoding",
        )
    if len(text) > MAX_LINE_CHARS:
        for number, line_text in enumerate(text.split("\n"), start=1):
            if len(line_text) > MAX_LINE_CHARS:
                raise LimitError(
                    f"this line is {len(line_text):,} characters long; lines are limited to {MAX_LINE_CHARS:,}",
                    _at(source, number, MAX_LINE_CHARS + 1),
                )
    for long_number in _LONG_NUMBER.finditer(text):
        line_start = text.rfind("\n", 0, long_number.start()) + 1
        if "#" in text[line_start : long_number.start()]:
            continue  # in a comment (or after a '#' in a string: harmless either way)
        line = text.count("\n", 0, long_number.start()) + 1
        digits = len(long_number.group())
        raise LimitError(
            f"this number has {digits:,} digits; numbers are limited to {MAX_DIGITS} digits (values to 64 bits)",
            Span(source, line, long_number.start() - line_start + 1, line, long_number.end() - line_start + 1),
        )
    return text


def _at(source: Source, line: int, column: int) -> Span:
    return Span(source, line, column, line, column + 1)
