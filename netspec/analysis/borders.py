"""Border loss: input rows/columns that a strided sliding window never reads (floor division in the output size)."""
from __future__ import annotations

from dataclasses import dataclass

from netspec.ir.graph import Graph, Node
from netspec.ops.conv import axis_names


AXIS_UNITS = {"height": "row", "width": "column", "depth": "plane", "length": "element"}


@dataclass(frozen=True)
class BorderLoss:
    """A layer whose windows stop short of the far edge of its input on some axes."""

    node: str
    line: int
    source: str
    lost: tuple[int, ...]  # per spatial axis: trailing input pixels no window reads
    axes: tuple[str, ...]  # "height", "width", ...
    input_shape: tuple[int, ...]

    @property
    def message(self) -> str:
        """"'conv1' never reads the last 1 row and 1 column of its 3x225x225 input (…)"."""
        parts = []
        for count, axis in zip(self.lost, self.axes):
            if count:
                unit = AXIS_UNITS.get(axis, "pixel")
                parts.append(f"{count} {unit}{'s' if count > 1 else ''}")
        shape = "x".join(map(str, self.input_shape))
        return (
            f"'{self.node}' never reads the last {' and '.join(parts)} of its {shape} input: "
            "the stride does not divide the padded size, so the output size is rounded down"
        )


def _lost(size: int, out: int, kernel: int, stride: int, pad: int, dilation: int) -> int:
    """Real input pixels after the end of the last window, beyond the gap every stride leaves anyway.

    Input pixels sit at padded coordinates [pad, pad + size). A window (kernel 1, stride 2)
    that skips every other pixel everywhere loses nothing at the border in particular.
    """
    extent = dilation * (kernel - 1) + 1
    reach = (out - 1) * stride + extent
    return max(0, pad + size - reach - max(0, stride - extent))


def border_losses(graph: Graph) -> list[BorderLoss]:
    """Every sliding-window layer (convolution, pooling) that leaves input pixels unread, in graph order."""
    found: list[BorderLoss] = []
    known: dict = {}  # layers with the same op, attributes (by identity: the graph keeps them) and shapes lose the same
    for node in graph.layers():
        if "kernel" not in node.attrs or len(node.inputs) != 1:
            continue
        source: Node = graph.node(node.inputs[0])
        key = (node.op, id(node.attrs), source.shape, node.shape)
        lost = known.get(key)
        if lost is None:
            lost = known[key] = _lost_per_axis(node, source)
        if any(lost):
            found.append(BorderLoss(node.name, node.span.line, node.span.source.name, lost,
                                    axis_names(len(lost)), source.shape))
    return found


def _lost_per_axis(node: Node, source: Node) -> tuple[int, ...]:
    window = node.opdef.window(node.attrs, (source.shape,))
    if window is None:
        return ()
    spatial_in, spatial_out = source.shape[1:], node.shape[1:]
    if len(spatial_in) != len(window.kernel) or len(spatial_out) != len(spatial_in):
        return ()
    return tuple(
        _lost(n, o, k, s, p, d)
        for n, o, k, s, p, d in zip(spatial_in, spatial_out, window.kernel, window.stride, window.padding, window.dilation)
    )


__all__ = ["BorderLoss", "border_losses"]
