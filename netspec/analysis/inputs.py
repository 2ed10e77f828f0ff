"""Input sizes: where floor division drops border pixels, and which sizes a global-pooling network accepts."""
from __future__ import annotations

from dataclasses import dataclass

from netspec.errors import Diagnostic
from netspec.ir.graph import Graph
from netspec.ops.base import format_shape

AXES = ("height", "width")


@dataclass(frozen=True)
class BorderDrop:
    """A sliding window that never reaches the last `pixels` of its input along one axis."""

    layer: str
    axis: int  # spatial axis index (0 = first spatial axis)
    size: int  # the input's extent on that axis
    pixels: int  # input rows/columns (not padding) no window covers

    def part(self, rank: int) -> str:
        names = ("row", "column") if rank == 2 else ("position",) * rank
        what = names[self.axis] if rank == 2 else f"position of axis {self.axis + 1}"
        return f"{self.pixels} {what}{'s' if self.pixels > 1 else ''}"


def border_drops(graph: Graph) -> list[BorderDrop]:
    """Windows (kernel ≥ stride, so no gaps inside) whose last one stops short of real input pixels."""
    drops = []
    for node in graph.layers():
        shapes = graph.input_shapes(node)
        window = node.opdef.window(node.attrs, shapes)
        if window is None or node.attrs.get("ceil") is True or node.op.startswith(("adaptive", "global")):
            continue
        for axis, (n, k, s, p, d) in enumerate(zip(shapes[0][1:], window.kernel, window.stride, window.padding, window.dilation)):
            reach = d * (k - 1) + 1
            if reach < s or s == 1:
                continue  # gaps between windows by design (1x1 stride 2), or nothing to drop
            span = n + 2 * p - reach
            if span < 0:
                continue
            uncovered = span % s  # padded positions after the last window
            dropped = uncovered - p  # the right padding absorbs the first p of them
            if dropped > 0:
                drops.append(BorderDrop(node.name, axis, n, dropped))
    return drops


def border_warnings(graph: Graph) -> list[Diagnostic]:
    """One warning per layer that drops border pixels, at the statement that made it."""
    rank = len(graph.input.shape) - 1
    by_layer: dict[str, list[BorderDrop]] = {}
    for drop in border_drops(graph):
        by_layer.setdefault(drop.layer, []).append(drop)
    warnings = []
    for layer, drops in by_layer.items():
        node = graph.node(layer)
        incoming = graph.input_shapes(node)[0]
        lost = " and the last ".join(d.part(rank) for d in drops)
        many = len(drops) > 1 or drops[0].pixels > 1
        warnings.append(Diagnostic(
            f"'{layer}' drops the last {lost} of its {format_shape(incoming)} input: floor division leaves "
            f"{'them' if many else 'it'} outside every window, so {'they never reach' if many else 'it never reaches'} "
            "the output",
            node.span,
            "warning",
        ))
    return warnings


@dataclass(frozen=True)
class InputSizes:
    """The inputs a network accepts when global pooling makes its outputs independent of the size."""

    smallest: tuple[int, ...]  # per spatial axis
    step: tuple[int, ...]  # per axis: sizes this far apart give the pooled layer different sizes
    pooled_at: str  # the layer that removes the spatial size

    def describe(self, channels: int) -> str:
        smallest = format_shape((channels, *self.smallest))
        step = format_shape(self.step)
        return (
            f"Accepted inputs: any size from {smallest} up (outputs keep their shape: '{self.pooled_at}' pools "
            f"globally); the map it pools grows by one cell every {step} pixels."
        )

    def as_dict(self) -> dict:
        return {"smallest": list(self.smallest), "step": list(self.step), "pooled_at": self.pooled_at}


def accepted_input_sizes(graph: Graph, elaborate_at) -> InputSizes | None:
    """For a network whose outputs do not depend on the input size, the smallest size and the step.

    `elaborate_at(shape)` returns the graph at another input shape, or None if it is invalid.
    """
    shape = graph.input.shape
    if len(shape) < 2:
        return None
    pools = [n for n in graph.layers() if n.op in ("global_avgpool", "global_maxpool", "adaptive_avgpool", "adaptive_maxpool")]
    if not pools:
        return None
    outputs = {o.name: graph.node(o.node).shape for o in graph.outputs}
    bigger = elaborate_at((shape[0], *(n + 7 for n in shape[1:])))
    if bigger is None or {o.name: bigger.node(o.node).shape for o in bigger.outputs} != outputs:
        return None
    # smallest: shrink every axis together while the network stays valid
    low, high = 1, min(shape[1:])
    if elaborate_at((shape[0], *(low for _ in shape[1:]))) is None:
        while high - low > 1:
            mid = (low + high) // 2
            if elaborate_at((shape[0], *(mid for _ in shape[1:]))) is None:
                low = mid
            else:
                high = mid
        smallest = high
    else:
        smallest = low
    from netspec.analysis.receptive import receptive_fields

    last_pool = pools[-1]
    fields = receptive_fields(graph)
    stride = fields[last_pool.inputs[0]].stride
    step = tuple(int(j) if float(j).is_integer() else 1 for j in stride)
    return InputSizes(tuple(smallest for _ in shape[1:]), step, last_pool.name)
