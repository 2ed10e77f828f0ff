"""Whole-graph checks after elaboration: values that never reach an output are warned about and left out."""
from __future__ import annotations

from dataclasses import replace

from netspec.errors import Diagnostic
from netspec.ir.graph import Graph


def without_unreachable(graph: Graph) -> Graph:
    """Drop the layers no output depends on, with one warning per dead end."""
    live = {"input"}
    for output in graph.outputs:
        live.add(output.node)
        live |= graph.ancestors(output.node)
    warnings = [
        Diagnostic(
            f"'{node.name}' is computed but never reaches an output; it is left out of the network",
            node.span,
            "warning",
            code="unreachable",
        )
        for node in graph.layers()
        if node.name not in live and not graph.consumers(node.name)  # the end of a dead chain
    ]
    if not warnings:
        return graph
    return replace(graph, nodes=tuple(n for n in graph.nodes if n.name in live), warnings=tuple(warnings))
