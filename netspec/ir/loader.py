"""Spec files → ASTs: parses a spec and, transitively, the spec files it imports blocks from."""
from __future__ import annotations

import errno
from dataclasses import dataclass, field
from pathlib import Path

from netspec.errors import DiagnosticSink, NetspecError, Note, printable
from netspec.ops import lookup
from netspec.syntax import ast
from netspec.syntax.parser import parse
from netspec.syntax.text import check_text, read_spec_file

MAX_IMPORT_PATH = 1_000  # characters; longer import paths are refused before touching the file system


@dataclass
class Library:
    """Every block visible to a spec: its own and those it imports, with where each came from."""

    blocks: dict[str, ast.BlockDef] = field(default_factory=dict)


def load(source: str | Path, allow_outside: bool = False, shown_as: str = "<spec>") -> tuple[ast.Spec, Library]:
    """Parse a spec (a path, or the text itself, shown in messages as `shown_as`) and every
    spec it imports (relative to the current folder when the spec is text)."""
    if isinstance(source, Path) or (isinstance(source, str) and "\n" not in source and source.endswith(".net")):
        path = Path(source)
        spec = parse(read_spec_file(path, str(path)), str(path))
        root = path.resolve().parent
    else:
        spec = parse(check_text(str(source), shown_as), shown_as)
        path, root = None, Path.cwd().resolve()
    library = Library()
    _collect(spec, path, root, allow_outside, library, [path.resolve()] if path else [], set())
    return spec, library


def _collect(spec: ast.Spec, path: Path | None, root: Path, allow_outside: bool, library: Library, stack, seen) -> None:
    base = path.resolve().parent if path else root
    sink = DiagnosticSink()
    for imp in spec.imports:
        shown_path = printable(imp.path)
        problem = _bad_import_path(imp.path)
        if problem:
            sink.error(f"cannot import '{shown_path}': {problem}", imp.span, code="import")
            continue
        try:
            target = (base / imp.path).resolve()
        except (OSError, RuntimeError) as error:  # a symlink loop (RuntimeError before Python 3.13)
            sink.error(f"cannot import '{shown_path}': {_os_reason(error)}", imp.span, code="import")
            continue
        if not allow_outside and root not in target.parents and target != root:
            sink.error(
                f"import '{imp.path}' leaves the project folder (the folder of the spec being checked); "
                "move the file into it, or pass --allow-outside-imports to permit this",
                imp.span,
                code="import",
            )
            continue
        if target in stack or (path is not None and target == path.resolve()):
            files = [path.resolve(), target] if target not in stack else [*stack[stack.index(target):], target]
            chain = " → ".join(_shown(f) for f in files)
            sink.error(f"import cycle: {chain}; a file cannot import itself, directly or indirectly", imp.span, code="import")
            continue
        if target in seen:
            continue
        try:
            if not target.is_file():
                reason = "it is a folder" if target.is_dir() else "no such file"
                sink.error(f"cannot import '{shown_path}': {reason} ({_shown(target)})", imp.span, code="import")
                continue
            seen.add(target)
            imported = parse(read_spec_file(target, _shown(target)), _shown(target))
            _collect(imported, target, root, allow_outside, library, [*stack, target], seen)
        except NetspecError as error:
            sink.add(error)
        except OSError as error:
            sink.error(f"cannot import '{shown_path}': {_os_reason(error)}", imp.span, code="import")
    for block in spec.blocks:
        previous = library.blocks.get(block.name)
        if previous is not None and previous is not block:
            sink.error(f"block '{block.name}' is defined twice", block.span, [Note(previous.span, "the other definition is here")], code="duplicate-name")
        elif lookup(block.name) is not None:
            sink.error(f"'{block.name}' is the name of a built-in op; name the block differently", block.span, code="reserved-name")
        library.blocks[block.name] = block
    sink.raise_if_errors()


def _bad_import_path(text: str) -> str | None:
    """Why an import path cannot name a file, before the file system is asked."""
    if not text:
        return "the path is empty"
    if "\0" in text:
        return "the path contains a NUL character"
    if len(text) > MAX_IMPORT_PATH:
        return f"the path is {len(text):,} characters long (the limit is {MAX_IMPORT_PATH:,})"
    return None


def _os_reason(error: Exception) -> str:
    if isinstance(error, RuntimeError) or getattr(error, "errno", None) == errno.ELOOP:
        return "the path runs into a loop of symbolic links"
    if getattr(error, "errno", None) == errno.ENAMETOOLONG:
        return "a name in the path is too long for the file system"
    return printable(getattr(error, "strerror", None) or str(error))


def _shown(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)
