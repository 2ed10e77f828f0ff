"""Run an IR graph node by node with torch, each node built from its op's own module source.

Independent of the code generator: a test can choose, node by node, whether the op runs
in place, and compare against running everything out of place with the same weights.
"""
from __future__ import annotations

import warnings
from pathlib import Path
from typing import Iterable

import torch
from torch import nn

from netspec.ir.elaborate import elaborate_spec
from netspec.ir.graph import Graph
from netspec.ir.loader import load


def graph_at(spec: str | Path, input_shape: tuple[int, ...] | None = None, **params) -> Graph:
    """Elaborate a spec, optionally at another input size than the one it declares."""
    parsed, library = load(spec, False)
    return elaborate_spec(parsed, library, dict(params), input_override=input_shape)


def _namespace(op) -> dict:
    ns: dict = {"nn": nn, "torch": torch}
    if op.helper:
        exec(op.helper, ns)
    return ns


class GraphRunner(nn.Module):
    """The graph as a module; `inplace` names the nodes built from their op's in-place form."""

    def __init__(self, graph: Graph, inplace: Iterable[str] = ()):
        super().__init__()
        self.graph = graph
        self.inplace = set(inplace)
        self.layers = nn.ModuleDict()
        for node in graph.layers():
            shapes = graph.input_shapes(node)
            op = node.opdef
            build = op.inplace_module(node.attrs, shapes) if node.name in self.inplace else op.module(node.attrs, shapes)
            self.layers[_key(node.name)] = eval(build.render(), _namespace(op))

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        values = {self.graph.input.name: x}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for node in self.graph.layers():
                args = [values[i] for i in node.inputs]
                layer = self.layers[_key(node.name)]
                values[node.name] = layer(args) if node.opdef.arity is None else layer(*args)  # merges take a list
        return [values[o.node] for o in self.graph.outputs]


def _key(name: str) -> str:
    return name.replace(".", "/")
