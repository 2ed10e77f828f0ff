"""Input sizes: warnings where floor division drops border pixels, and the sizes a global-pooling network accepts."""
from __future__ import annotations

from dataclasses import dataclass

from netspec.analysis.borders import border_losses
from netspec.analysis.receptive import receptive_fields
from netspec.errors import Diagnostic
from netspec.ir.graph import Graph
from netspec.ops.base import format_shape

def border_warnings(graph: Graph) -> list[Diagnostic]:
    """One warning per layer whose windows never read the last rows/columns of its input
    (the rule is `netspec.analysis.borders`, which the report uses too)."""
    return [Diagnostic(loss.message, graph.node(loss.node).span, "warning", code="border") for loss in border_losses(graph)]


@dataclass(frozen=True)
class InputSizes:
    """The inputs a network accepts when global pooling makes its outputs independent of the size."""

    smallest: tuple[int, ...]  # per spatial axis
    step: tuple[int, ...]  # per axis: the effective stride (receptive field) at the pooling layer's input
    pooled_at: str  # the last adaptive or global pooling layer

    def describe(self, channels: int) -> str:
        smallest = format_shape((channels, *self.smallest))
        step = format_shape(self.step)
        return (
            f"Accepted inputs: any size from {smallest} up (outputs keep their shape: '{self.pooled_at}' pools "
            f"to a fixed size); the map it pools grows by one cell every {step} input pixels."
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
    last_pool = pools[-1]
    # the map it pools grows by one cell per effective stride of the receptive field there
    stride = receptive_fields(graph)[last_pool.inputs[0]].stride
    if not all(isinstance(j, int) for j in stride):
        return None  # upsampled before pooling: no whole number of input pixels per cell
    return InputSizes(tuple(smallest for _ in shape[1:]), tuple(stride), last_pool.name)
