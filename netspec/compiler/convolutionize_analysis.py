"""Convolutionize, the analysis of the result: output stride, cell receptive field, dense vs sliding-window cost.

No torch here: it elaborates the written spec at larger inputs and reuses the static cost
and receptive-field analyses (netspec/analysis/).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

from netspec.analysis import Analysis
from netspec.analysis.cost import costs
from netspec.analysis.receptive import ReceptiveField, receptive_fields
from netspec.compiler.convolutionize import Plan, convolutionize_graph
from netspec.compiler.convolutionize_spec import SUFFIX, write_spec
from netspec.ir.graph import Graph
from netspec.ops.base import numel

DEFAULT_SCALES = (1.0, 1.5, 2.0)


@dataclass(frozen=True)
class DenseRun:
    """One input size: the dense output, its cost, and the cost of the original on every window."""

    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]  # the first output's, per sample
    dense_macs: int
    windows: int  # reference-size windows at the output stride: the original's runs (= output cells unless dense)
    windows_macs: int

    @property
    def ratio(self) -> float:
        """How many times fewer MACs the dense pass needs than the original on every window."""
        return self.windows_macs / self.dense_macs


@dataclass(frozen=True)
class Convolutionized:
    """A spec made fully convolutional: the pass's plan, the written spec, and its analysis."""

    plan: Plan
    text: str
    graph: Graph  # the written spec, elaborated at the reference input
    original_macs: int
    stride: tuple  # output stride per spatial axis, in input pixels
    field: ReceptiveField  # of the first output's cells
    runs: tuple[DenseRun, ...]

    @property
    def name(self) -> str:
        return self.graph.name

    @property
    def analysis(self) -> Analysis:
        return Analysis(self.graph)


def convolutionize_spec(
    path: str | Path,
    overrides: Mapping[str, Any] | None = None,
    dense: bool = False,
    keep_adaptive: bool = False,
    scales: Sequence[float] = DEFAULT_SCALES,
    allow_outside: bool = False,
    shown_as: str | None = None,
) -> Convolutionized:
    """Elaborate the spec at `path`, convert it, write the converted spec, and analyse it."""
    from netspec.ir.elaborate import elaborate

    original = elaborate(Path(path), dict(overrides or {}), allow_outside)
    plan = convolutionize_graph(original, dense=dense, keep_adaptive=keep_adaptive)
    text = write_spec(path, plan, overrides, shown_as)
    graph = elaborate_text(text, f"{Path(path).stem}{SUFFIX}.net")
    original_macs = costs(original)[1].macs
    output = graph.outputs[0].node
    field = receptive_fields(graph)[output]
    runs = tuple(dense_run(text, graph, _scaled(graph.input.shape, s), original_macs, field.stride) for s in scales)
    return Convolutionized(plan, text, graph, original_macs, field.stride, field, runs)


def elaborate_text(text: str, name: str, input_shape: tuple[int, ...] | None = None) -> Graph:
    """A self-contained spec's text → its graph, optionally at another input shape."""
    from netspec.ir.elaborate import elaborate_spec
    from netspec.ir.loader import Library
    from netspec.syntax.parser import parse

    spec = parse(text, name)
    return elaborate_spec(spec, Library({b.name: b for b in spec.blocks}), {}, input_override=input_shape)


def dense_run(text: str, graph: Graph, input_shape: tuple[int, ...], original_macs: int, stride: Sequence) -> DenseRun:
    at_size = graph if input_shape == graph.input.shape else elaborate_text(text, f"<{graph.name}>", input_shape)
    output = at_size.node(at_size.outputs[0].node).shape
    windows = window_count(input_shape, graph.input.shape, stride) or numel(output[1:])
    return DenseRun(input_shape, output, costs(at_size)[1].macs, windows, windows * original_macs)


def window_count(input_shape: Sequence[int], reference: Sequence[int], stride: Sequence) -> int | None:
    """Windows of the reference size that fit in the input at the given stride (None if a stride is fractional)."""
    if any(int(s) != s or s < 1 for s in stride):
        return None
    return numel((n - r) // int(s) + 1 for n, r, s in zip(input_shape[1:], reference[1:], stride))


def _scaled(shape: tuple[int, ...], scale: float) -> tuple[int, ...]:
    return (shape[0], *(round(d * scale) for d in shape[1:]))


__all__ = ["Convolutionized", "DenseRun", "convolutionize_spec", "elaborate_text", "dense_run", "DEFAULT_SCALES"]
