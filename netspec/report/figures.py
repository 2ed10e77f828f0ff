"""Analysis → what the report's charts show: cost per block, activation memory and receptive field along the depth."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from netspec.analysis.memory import MemoryScale
from netspec.analysis.receptive import ReceptiveField
from netspec.ir.graph import Graph, Node
from netspec.report.charts import MEMORY_COLOR, RF_COLOR, Bar, Point, cost_bars, depth_profile
from netspec.report.numbers import megabytes

MIN_BARS = 4  # expand the costliest block until the chart has at least this many bars
MAX_BARS = 40


@dataclass(frozen=True)
class MemoryProfile:
    """Bytes along the execution order and the layer where they peak."""

    points: list[Point]
    peak: int  # index into points
    peak_bytes: int
    scale: MemoryScale = MemoryScale()  # the batch and element type of the bytes


def _path(node: Node, depth: int) -> tuple[str, ...]:
    return tuple(f.name for f in node.scope[:depth])


def block_bars(analysis: Any) -> list[Bar]:
    """MACs and parameters per top-level block (and costly top-level layer); a dominant block is split."""
    graph: Graph = analysis.graph
    costs = {c.name: c for c in analysis.layers}

    def items(prefix: tuple[str, ...]) -> list[tuple[str, tuple[str, ...] | str]]:
        """The direct children of a scope, in graph order: sub-scopes and layers."""
        found: list[tuple[str, tuple[str, ...] | str]] = []
        seen: set[tuple[str, ...]] = set()
        for node in graph.layers():
            if _path(node, len(prefix)) != prefix:
                continue
            if len(node.scope) > len(prefix):
                child = _path(node, len(prefix) + 1)
                if child not in seen:
                    seen.add(child)
                    found.append(("scope", child))
            else:
                found.append(("layer", node.name))
        return found

    def totals(kind: str, key) -> tuple[int, int]:
        if kind == "layer":
            return costs[key].macs, costs[key].params
        nodes = [n for n in graph.layers() if _path(n, len(key)) == key]
        return sum(costs[n.name].macs for n in nodes), sum(costs[n.name].params for n in nodes)

    current = items(())
    for _ in range(8):
        costly = [(kind, key) for kind, key in current if any(totals(kind, key))]
        scopes = [(totals(k, key)[0], i) for i, (k, key) in enumerate(current) if k == "scope"]
        if len(costly) >= MIN_BARS or not scopes:
            break
        _, index = max(scopes)
        expanded = items(current[index][1])  # type: ignore[arg-type]
        if len(current) - 1 + len(expanded) > MAX_BARS:
            break
        current = current[:index] + expanded + current[index + 1:]

    bars = []
    frames = {tuple(f.name for f in n.scope[: i + 1]): f for n in graph.layers() for i, f in enumerate(n.scope)}
    for kind, key in current:
        macs, params = totals(kind, key)
        if not (macs or params):
            continue
        if kind == "scope":
            frame = frames[key]  # type: ignore[index]
            bars.append(Bar(".".join(key), frame.block or "", macs, params, "scope-" + ".".join(key)))
        else:
            bars.append(Bar(str(key), graph.node(str(key)).op, macs, params, f"layer-{key}"))
    return bars


def memory_profile(analysis: Any, scale: MemoryScale = MemoryScale()) -> MemoryProfile:
    """Bytes of activations alive while each layer runs, and the inference peak.

    The memory analysis (`netspec.analysis.memory.inference_memory`: liveness over the
    generated forward) for the batch and element type of `scale`.
    """
    graph: Graph = analysis.graph
    inference = analysis.inference_memory(scale.batch, scale.dtype)
    live = inference.live_bytes
    points = [Point(name, live[name], f"layer-{name}") for name in graph.liveness.order if name in live]
    names = [p.name for p in points]
    peak = names.index(inference.peak_layer) if inference.peak_layer in names else \
        max(range(len(points)), key=lambda i: points[i].value)
    return MemoryProfile(points, peak, inference.peak_bytes, scale)


def memory_chart(profile: MemoryProfile) -> str:
    per = "per sample" if profile.scale.batch == 1 else f"batch of {profile.scale.batch}"
    title, label = f"Activation memory alive at each step (inference, {per}, {profile.scale.dtype})", "inference peak"
    return depth_profile(profile.points, title=title, describe=megabytes, color=MEMORY_COLOR,
                         mark=profile.peak, mark_label=label)


def receptive_field_chart(analysis: Any, fields: dict[str, ReceptiveField]) -> str | None:
    """The receptive field's side along the depth, against the input's side; None for inputs without spatial axes."""
    graph: Graph = analysis.graph
    spatial = graph.input.shape[1:]
    if not spatial:
        return None
    points, whole_from = [], None
    for i, node in enumerate(graph.nodes):
        field = fields[node.name]
        size = max(field.size) if field.size else 1
        if field.covers_whole_input and whole_from is None:
            whole_from = i
        points.append(Point(node.name, size, f"layer-{node.name}"))
    side = max(spatial)
    return depth_profile(
        points, title="Receptive field along the depth (input pixels per axis, largest axis)",
        describe=lambda v: f"{v:,.0f} px", color=RF_COLOR,
        reference=side, reference_label=f"input {'×'.join(map(str, spatial))}",
        shade_from=whole_from, shade_label="every output value sees the whole input",
    )


def cost_chart(analysis: Any) -> str | None:
    bars = block_bars(analysis)
    if not bars:
        return None
    return cost_bars(bars, analysis.totals.macs, analysis.totals.params)


__all__ = ["block_bars", "memory_profile", "memory_chart", "receptive_field_chart", "cost_chart", "MemoryProfile"]
