"""Analysis → located warnings: border pixels lost to floor division, and in-place requests the rule refuses."""
from __future__ import annotations

from netspec.analysis.inputs import border_warnings
from netspec.errors import Diagnostic
from netspec.ir.graph import Graph
from netspec.ir.liveness import requested_inplace


def inplace_warnings(graph: Graph) -> dict[str, Diagnostic]:
    """Per layer whose `inplace=true` the in-place rule (`netspec.ir.liveness`) refuses, a warning
    saying why. The layer still runs in place, as the spec asks, and the memory figures count it so."""
    if not any(requested_inplace(node) for node in graph.layers()):
        return {}  # only an explicit request can be refused
    return {
        name: Diagnostic(
            f"'{name}' runs in place as inplace=true asks, but that is unsafe here: {reason}; "
            "without inplace=true, netspec runs a layer in place only where it is safe",
            graph.node(name).span, "warning", code="inplace",
        )
        for name, reason in graph.liveness.refusals.items()
    }


def analysis_warnings(graph: Graph) -> list[Diagnostic]:
    """Every warning of the analyses, in source order (elaboration's own are `graph.warnings`)."""
    return in_source_order([*border_warnings(graph), *inplace_warnings(graph).values()])


def in_source_order(diagnostics: list[Diagnostic]) -> list[Diagnostic]:
    return sorted(diagnostics, key=lambda d: d.span.sort_key if d.span else ("", 0, 0))


__all__ = ["analysis_warnings", "inplace_warnings", "in_source_order"]
