"""Spec files → ASTs: parses a spec and, transitively, the spec files it imports blocks from."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from netspec.errors import DiagnosticSink, NetspecError, Note
from netspec.ops import lookup
from netspec.syntax import ast
from netspec.syntax.parser import parse, parse_file


@dataclass
class Library:
    """Every block visible to a spec: its own and those it imports, with where each came from."""

    blocks: dict[str, ast.BlockDef] = field(default_factory=dict)


def load(source: str | Path, allow_outside: bool = False) -> tuple[ast.Spec, Library]:
    """Parse a spec (a path, or the text itself) and every spec it imports."""
    if isinstance(source, Path) or (isinstance(source, str) and "\n" not in source and source.endswith(".net")):
        path = Path(source)
        spec = parse_file(path)
        root = path.resolve().parent
    else:
        spec = parse(str(source), "<spec>")
        path, root = None, Path.cwd().resolve()
    library = Library()
    _collect(spec, path, root, allow_outside, library, [path.resolve()] if path else [], set())
    return spec, library


def _collect(spec: ast.Spec, path: Path | None, root: Path, allow_outside: bool, library: Library, stack, seen) -> None:
    base = path.resolve().parent if path else root
    sink = DiagnosticSink()
    for imp in spec.imports:
        target = (base / imp.path).resolve()
        if not allow_outside and root not in target.parents and target != root:
            sink.error(
                f"import '{imp.path}' leaves the project folder (the folder of the spec being checked); "
                "move the file into it, or pass --allow-outside-imports to permit this",
                imp.span,
            )
            continue
        if target in stack or (path is not None and target == path.resolve()):
            files = [path.resolve(), target] if target not in stack else [*stack[stack.index(target):], target]
            chain = " → ".join(_shown(f) for f in files)
            sink.error(f"import cycle: {chain}; a file cannot import itself, directly or indirectly", imp.span)
            continue
        if target in seen:
            continue
        if not target.is_file():
            sink.error(f"cannot import '{imp.path}': no such file ({_shown(target)})", imp.span)
            continue
        seen.add(target)
        try:
            imported = parse_file(target, _shown(target))
            _collect(imported, target, root, allow_outside, library, [*stack, target], seen)
        except NetspecError as error:
            sink.add(error)
    for block in spec.blocks:
        previous = library.blocks.get(block.name)
        if previous is not None and previous is not block:
            sink.error(f"block '{block.name}' is defined twice", block.span, [Note(previous.span, "the other definition is here")])
        elif lookup(block.name) is not None:
            sink.error(f"'{block.name}' is the name of a built-in op; name the block differently", block.span)
        library.blocks[block.name] = block
    sink.raise_if_errors()


def _shown(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)
