"""Convolutionize, the spec writer: a Plan → the converted network as a spec in our own language.

The spec is the original text edited at the spans of the statements that change (a
`linear` becomes a `conv`, a `flatten` or an identity pool disappears, a global pool
becomes its fixed window), so blocks, names, layout and comments that did not change are
kept as written. Imported block files are inlined, edited the same way, so that the result
stands alone wherever it is written. The network is renamed NAME_fcn (its build outputs do
not replace the original's), and `--set` values become the parameters' defaults. The text
is then elaborated again and must give exactly the pass's converted graph.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from netspec.compiler.convolutionize import ConvolutionizeError, Plan, Rewrite
from netspec.errors import Note, Span
from netspec.ir.graph import Graph
from netspec.syntax import ast
from netspec.syntax.parser import parse, parse_file

SUFFIX = "_fcn"


@dataclass(frozen=True)
class _Site:
    """Where a call sits: its chain, and the body (list of statements) that holds the chain."""

    call: ast.Call
    chain: ast.Chain
    stage: int
    body: tuple
    assigned: bool  # the chain is the right side of `x = ...`


@dataclass
class _File:
    path: Path
    text: str
    spec: ast.Spec
    sites: dict[tuple[int, int, int, int], _Site] = field(default_factory=dict)
    edits: list[tuple[int, int, str]] = field(default_factory=list)

    def offset(self, line: int, column: int) -> int:
        starts = self._starts
        return starts[line - 1] + column - 1

    @property
    def _starts(self) -> list[int]:
        starts, total = [], 0
        for line in self.text.splitlines(keepends=True):
            starts.append(total)
            total += len(line)
        starts.append(total)
        return starts

    def slice(self, span: Span) -> str:
        return self.text[self.offset(span.line, span.column): self.offset(span.end_line, span.end_column)]


def write_spec(path: str | Path, plan: Plan, overrides: Mapping[str, Any] | None = None, shown_as: str | None = None) -> str:
    """The converted network of `plan` (made from the spec at `path`) as spec text."""
    files = _load(Path(path))
    main = files[Path(path).resolve()]
    _edit_layers(plan, files)
    _edit_header(main, plan, dict(overrides or {}))
    body = _assemble(main, files, set())
    options = "".join(f" {flag}" for flag, on in (("--dense", plan.dense), ("--keep-adaptive", plan.keep_adaptive)) if on)
    sets = "".join(f" --set {k}={_literal(v)}" for k, v in (overrides or {}).items())
    header = [
        f"# {plan.graph.name}{SUFFIX}: {plan.graph.name} made fully convolutional by `netspec convolutionize {shown_as or path}{options}{sets}`.",
        "# Changed layers:",
        *(f"#   {change.describe()}" for change in plan.changes),
        "# Everything else is the original text; imported blocks are inlined so that this file stands alone.",
        "",
    ]
    text = "\n".join(header) + body
    _verify(text, plan)
    return text


# ---- reading the spec and its imports


def _load(path: Path) -> dict[Path, _File]:
    files: dict[Path, _File] = {}

    def visit(target: Path) -> None:
        resolved = target.resolve()
        if resolved in files:
            return
        spec = parse_file(target, _shown(target))
        file = _File(resolved, spec.span.source.text, spec)
        files[resolved] = file
        for block in spec.blocks:
            _index(file, block.body)
        _index(file, spec.body)
        for imp in spec.imports:
            visit(resolved.parent / imp.path)

    visit(path)
    return files


def _index(file: _File, body: tuple, assigned: bool = False) -> None:
    for stmt in body:
        if isinstance(stmt, ast.Chain):
            for i, call in enumerate(stmt.stages):
                file.sites[_key(call.span)] = _Site(call, stmt, i, body, assigned)
        elif isinstance(stmt, ast.Assign):
            for i, call in enumerate(stmt.chain.stages):
                file.sites[_key(call.span)] = _Site(call, stmt.chain, i, body, True)
        else:  # repeat, residual, merge, if, sequential: statements that hold bodies
            for part in ("body", "shortcut", "then", "otherwise"):
                inner = getattr(stmt, part, None)
                if isinstance(inner, tuple):
                    _index(file, inner)
            for branch in getattr(stmt, "branches", ()) or ():
                _index(file, branch)


def _key(span: Span) -> tuple[int, int, int, int]:
    return (span.line, span.column, span.end_line, span.end_column)


def _shown(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


# ---- edits


def _edit_layers(plan: Plan, files: dict[Path, _File]) -> None:
    """One edit per statement whose node(s) changed; every node made by a statement must agree."""
    rewrites = {r.node: r for r in plan.rewrites}
    by_span: dict[tuple, list] = {}
    for node in plan.original.layers():
        by_span.setdefault((Path(node.span.source.name).resolve(), _key(node.span)), []).append(node)
    for (resolved, key), nodes in by_span.items():
        wanted = [rewrites.get(n.name) for n in nodes]
        if all(w is None for w in wanted):
            continue
        first = wanted[0]
        if not all(first is not None and first.same_text_as(w) for w in wanted):
            changed = next(n for n, w in zip(nodes, wanted) if w is not None)
            other = next(n for n, w in zip(nodes, wanted) if not (w is not None and w.same_text_as(rewrites.get(changed.name))))
            notes = [Note(n.scope[-1].span, f"'{n.name}' is made here, and would become {_outcome(rewrites.get(n.name))}")
                     for n in (changed, other) if n.scope]
            raise ConvolutionizeError(
                f"this statement makes '{changed.name}' and '{other.name}', which would need different text "
                f"({_outcome(rewrites.get(changed.name))}, {_outcome(rewrites.get(other.name))}); "
                "give the head its own block, or write it out where it is used",
                changed.span,
                notes,
            )
        file = files.get(resolved)
        site = file.sites.get(key) if file else None
        if site is None:  # not a call statement (a residual add, a merge): nothing the writer can edit
            raise ConvolutionizeError(f"'{nodes[0].name}' ({nodes[0].op}) cannot be rewritten in the spec", nodes[0].span)
        _edit_site(file, site, first, nodes[0].local_name, len(nodes) == 1, files)


def _outcome(rewrite: Rewrite | None) -> str:
    if rewrite is None:
        return "unchanged"
    if rewrite.action == "remove":
        return "removed"
    return f"{rewrite.action} {'x'.join(map(str, rewrite.kernel))}"


def _edit_site(file: _File, site: _Site, rewrite: Rewrite, local_name: str, unique: bool, files: dict[Path, _File]) -> None:
    numbered = local_name.isdigit()  # an item of a `sequential` scope: its position is its name
    call, chain = site.call, site.chain
    start, end = file.offset(call.span.line, call.span.column), file.offset(call.span.end_line, call.span.end_column)
    if rewrite.action == "remove":
        if len(chain.stages) > 1:
            if site.stage > 0:
                previous = chain.stages[site.stage - 1].span
                start = file.offset(previous.end_line, previous.end_column)
            else:
                following = chain.stages[1].span
                end = file.offset(following.line, following.column)
            file.edits.append((start, end, ""))
            return
        if len(site.body) == 1 or numbered or (chain.name and _referenced(chain.name, files, chain)):
            # a body cannot be empty, a sequential scope's later items keep their numbers, a used name stays defined
            file.edits.append((start, end, "identity"))
            return
        start, end = file.offset(chain.span.line, chain.span.column), file.offset(chain.span.end_line, chain.span.end_column)
        file.edits.append(_statement_removal(file.text, start, end))
        return
    keep = _keep_name(site, local_name) if unique and not numbered else ""
    file.edits.append((start, end, _call_text(file, call, rewrite) + keep))


def _statement_removal(text: str, start: int, end: int) -> tuple[int, int, str]:
    """Remove one statement and its `;`, or its whole line (with the line's comment) when it stands alone."""
    line_start = text.rfind("\n", 0, start) + 1
    line_end = text.find("\n", end)
    line_end = len(text) if line_end < 0 else line_end
    after = re.match(r"[ \t]*;[ \t]*", text[end:line_end])
    if after:
        return (start, end + after.end(), "")
    before = re.search(r";[ \t]*$", text[line_start:start])
    if before:
        return (line_start + before.start(), end, "")
    return (line_start, min(line_end + 1, len(text)), "")


def _referenced(name: str, files: dict[Path, _File], chain: ast.Chain) -> bool:
    pattern = re.compile(rf"(?<![\w.]){re.escape(name)}(?![\w])")
    for file in files.values():
        for number, line in enumerate(file.text.splitlines(), start=1):
            code = line.split("#", 1)[0]
            for match in pattern.finditer(code):
                inside = number == chain.span.line and chain.span.column - 1 <= match.start() < chain.span.end_column
                declared = re.search(r"\bas\s*$", code[: match.start()])
                if not inside and not declared:
                    return True
    return False


def _call_text(file: _File, call: ast.Call, rewrite: Rewrite) -> str:
    kernel = "x".join(map(str, rewrite.kernel))
    if rewrite.action == "conv":
        features = [file.slice(kw.value.span) for kw in call.kwargs if kw.name == "features"]
        first = features[0] if features else file.slice(call.args[0].span)
        keywords = [file.slice(kw.span) for kw in call.kwargs if kw.name != "features"]
        parts = [first, kernel, *keywords]
    else:
        parts = [kernel, "stride=1"]
    if call.parenthesized:
        return f"{rewrite.action}({', '.join(parts)})"
    return " ".join([rewrite.action, *parts])


def _keep_name(site: _Site, local_name: str) -> str:
    """A node named after its op (`linear2`) keeps that name under its new op, as its module path."""
    if site.chain.name is None and not site.assigned and site.stage == len(site.chain.stages) - 1:
        return f" as {local_name}"
    return ""


def _edit_header(main: _File, plan: Plan, overrides: dict[str, Any]) -> None:
    network = main.spec.networks[0]
    start = main.offset(network.span.line, network.span.column)
    match = re.compile(r"network\s+([A-Za-z_]\w*)").match(main.text, start)
    if match:
        main.edits.append((match.start(1), match.end(1), plan.graph.name + SUFFIX))
    for param in network.params:
        if param.name not in overrides:
            continue
        value = _literal(overrides[param.name])
        if param.default is not None:
            span = param.default.span
            main.edits.append((main.offset(span.line, span.column), main.offset(span.end_line, span.end_column), value))
        else:
            at = main.offset(param.span.end_line, param.span.end_column)
            main.edits.append((at, at, f" = {value}"))


def _literal(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        return "x".join(map(str, value))
    return repr(value) if isinstance(value, float) else str(value)


def _assemble(file: _File, files: dict[Path, _File], done: set[Path]) -> str:
    """The file's text with its edits applied and each import replaced by the imported text."""
    edits = list(file.edits)
    for imp in file.spec.imports:
        target = (file.path.parent / imp.path).resolve()
        start = file.offset(imp.span.line, 1)
        end = file.text.find("\n", start)  # an import stands on its own line
        end = len(file.text) if end < 0 else end + 1
        if target in done:
            edits.append((start, end, f"# (the blocks of {imp.path} are inlined above)\n"))
            continue
        done.add(target)
        inlined = _assemble(files[target], files, done).rstrip("\n")
        edits.append((start, end, f"# ---- blocks from {imp.path}, inlined ----\n{inlined}\n# ---- end of {imp.path} ----\n"))
    text = file.text
    for start, end, replacement in sorted(edits, key=lambda e: (e[0], e[1]), reverse=True):
        text = text[:start] + replacement + text[end:]
    return text


# ---- the check that the text says what the pass computed


def _verify(text: str, plan: Plan) -> None:
    from netspec.ir.elaborate import elaborate_spec
    from netspec.ir.loader import Library

    spec = parse(text, f"<{plan.graph.name}{SUFFIX}>")
    library = Library({block.name: block for block in spec.blocks})
    written = elaborate_spec(spec, library, {})
    expected = _signature(plan.graph)
    got = _signature(written)
    if got != expected:
        first = next((e, g) for e, g in zip(expected + [None], got + [None]) if e != g)
        raise AssertionError(f"the written spec does not elaborate to the converted graph: expected {first[0]}, got {first[1]}")


def _signature(graph: Graph) -> list[tuple]:
    kept = [n for n in graph.nodes if n.op != "identity"]
    return [(n.name, n.op, n.shape) for n in kept]


__all__ = ["write_spec", "SUFFIX"]
