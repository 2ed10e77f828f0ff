"""Whole-graph checks run after elaboration: values that never reach an output (warnings)."""
from __future__ import annotations

from netspec.errors import Diagnostic
from netspec.ir.graph import Graph
from netspec.syntax import ast


def unused_values(graph: Graph, spec: ast.Spec, referenced: set[str]) -> list[Diagnostic]:
    """Warn once per dead end: a computed value from which no output can be reached."""
    live: set[str] = set()
    for output in graph.outputs:
        live.add(output.node)
        live |= graph.ancestors(output.node)
    warnings = []
    for node in graph.layers():
        if node.name in live:
            continue
        if any(c not in live for c in graph.consumers(node.name)):
            continue  # not the end of its dead chain; the end gets the warning
        warnings.append(
            Diagnostic(
                f"'{node.name}' is computed but never reaches an output",
                node.span,
                "warning",
            )
        )
    return warnings
