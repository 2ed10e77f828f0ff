"""Depth as papers count it: the most weight layers (convolutions, linear layers) on any path from input to output."""
from __future__ import annotations

from netspec.ir.graph import Graph

WEIGHT_FAMILIES = ("convolution", "linear")


def weight_depth(graph: Graph) -> int:
    """VGG-16 → 16, ResNet-50 → 50: the longest input-to-output path, counting convolution and linear layers."""
    longest: dict[str, int] = {}
    for node in graph.nodes:  # topological order
        before = max((longest[i] for i in node.inputs), default=0)
        weighted = bool(node.inputs) and node.opdef.family in WEIGHT_FAMILIES
        longest[node.name] = before + int(weighted)
    return max((longest[o.node] for o in graph.outputs), default=0)


__all__ = ["weight_depth", "WEIGHT_FAMILIES"]
