"""Several analysed specs → reports/index.html: a sortable comparison table and the MACs-against-parameters chart."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from netspec.analysis.depth import weight_depth
from netspec.analysis.memory import MemoryScale
from netspec.report.charts import Bubble, bubble_chart
from netspec.report.dot import fmt_shape
from netspec.report.figures import memory_profile
from netspec.report.html import environment, last_spatial_field


@dataclass(frozen=True)
class IndexEntry:
    """One built network, as the comparison shows it."""

    name: str
    spec: str  # the spec path as given
    href: str  # its report, relative to the index
    input_shape: str
    params: int
    macs: int
    memory_bytes: int  # the inference peak (liveness)
    activation_bytes: int  # every layer's output summed
    depth: int
    rf: str  # receptive field at the output: a number of pixels, or "global (N)" with the last local field
    rf_value: float
    layers: int


@dataclass(frozen=True)
class Failure:
    spec: str
    message: str


def index_entry(analysis: Any, spec: str, href: str, scale: MemoryScale = MemoryScale()) -> IndexEntry:
    """The figures of one network for the comparison page; bytes for the batch and type of `scale`."""
    graph = analysis.graph
    fields = analysis.receptive_fields
    output = graph.outputs[0].node
    field = fields[output]
    if field.covers_whole_input:
        local = last_spatial_field(graph, fields, output)
        last = max(local[1].size) if local and local[1].size else None
        rf, rf_value = (f"global (last local {last} px)" if last else "global"), float(last or 0) + 0.5
    else:
        side = max(field.size) if field.size else 1
        rf, rf_value = f"{side} px", float(side)
    profile = memory_profile(analysis, scale)
    return IndexEntry(
        name=analysis.name, spec=spec, href=href, input_shape=fmt_shape(analysis.input_shape),
        params=analysis.totals.params, macs=analysis.totals.macs,
        memory_bytes=profile.peak_bytes,
        activation_bytes=scale.activation_bytes(analysis.totals.activations), depth=weight_depth(graph),
        rf=rf, rf_value=rf_value, layers=len(analysis.layers),
    )


def render_index(entries: Sequence[IndexEntry], failures: Sequence[Failure] = (),
                 scale: MemoryScale = MemoryScale()) -> str:
    """The comparison page for the networks built together (and the specs that failed)."""
    bubbles = [Bubble(e.name, e.macs, e.params, e.memory_bytes, e.href) for e in entries]
    memory = "peak inference memory"
    chart = bubble_chart(bubbles, memory) if entries else None
    return environment().get_template("index.html.j2").render(
        entries=list(entries), failures=list(failures), chart=chart, bubble_memory=memory,
        scale=scale,
    )


__all__ = ["IndexEntry", "Failure", "index_entry", "render_index"]
