"""Static costs per layer and in total: parameters, buffers, MACs, other element-wise ops, activation memory."""
from __future__ import annotations

from dataclasses import dataclass

from netspec.fast_init import fast_init
from netspec.ir.graph import Graph, Node
from netspec.ops.base import Shape, numel

BYTES_PER_ELEMENT = 4  # float32


@fast_init
@dataclass(frozen=True, slots=True)
class LayerCost:
    """What one node costs. MACs = multiply-accumulates of conv/linear (FLOPs ≈ 2 × MACs)."""

    name: str
    op: str
    output_shape: Shape
    params: int
    buffers: int
    macs: int
    elementwise: int  # bias adds, activations, normalization, merges: reported apart from MACs
    activations: int  # elements of the output, per sample
    line: int

    def as_dict(self) -> dict:
        return {
            "name": self.name,
            "op": self.op,
            "output_shape": list(self.output_shape),
            "params": self.params,
            "buffers": self.buffers,
            "macs": self.macs,
            "elementwise_ops": self.elementwise,
            "activations": self.activations,
            "line": self.line,
        }


@dataclass(frozen=True)
class Totals:
    params: int
    buffers: int
    macs: int
    elementwise: int
    activations: int  # sum of every layer's output elements, per sample
    input_elements: int

    @property
    def flops(self) -> int:
        return 2 * self.macs

    @property
    def param_bytes(self) -> int:
        return self.params * BYTES_PER_ELEMENT

    @property
    def activation_bytes(self) -> int:
        return self.activations * BYTES_PER_ELEMENT

    def as_dict(self) -> dict:
        return {
            "params": self.params,
            "buffers": self.buffers,
            "macs": self.macs,
            "flops": self.flops,
            "elementwise_ops": self.elementwise,
            "activations": self.activations,
            "param_bytes": self.param_bytes,
            "activation_bytes": self.activation_bytes,
        }


def layer_cost(graph: Graph, node: Node, memo: dict | None = None) -> LayerCost:
    """`memo` (one per graph) keeps the counts of layers with the same op, attributes and shapes."""
    inputs = graph.input_shapes(node)
    key = (node.op, id(node.attrs), inputs, node.shape)
    counts = memo.get(key) if memo is not None else None
    if counts is None:
        op = node.opdef
        counts = (
            op.params(node.attrs, inputs),
            op.buffers(node.attrs, inputs),
            op.macs(node.attrs, inputs, node.shape),
            op.elementwise(node.attrs, inputs, node.shape),
            numel(node.shape),
        )
        if memo is not None:
            memo[key] = counts
    return LayerCost(node.name, node.op, node.shape, *counts, node.span.line)


def costs(graph: Graph) -> tuple[list[LayerCost], Totals]:
    memo: dict = {}  # keyed by the attributes' identity: every node of the graph keeps its Attrs alive meanwhile
    layers = [layer_cost(graph, node, memo) for node in graph.layers()]
    totals = Totals(
        params=sum(c.params for c in layers),
        buffers=sum(c.buffers for c in layers),
        macs=sum(c.macs for c in layers),
        elementwise=sum(c.elementwise for c in layers),
        activations=sum(c.activations for c in layers),
        input_elements=numel(graph.input.shape),
    )
    return layers, totals
