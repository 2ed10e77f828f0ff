"""The IR: an immutable graph of nodes in topological order, each with its shape and source span."""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any, Iterator

from netspec.errors import Span
from netspec.fast_init import fast_init
from netspec.ops import lookup
from netspec.ops.base import Attrs, OpDef, Shape

if TYPE_CHECKING:
    from netspec.ir.liveness import Liveness


@fast_init
@dataclass(frozen=True, slots=True)
class Frame:
    """One level of naming scope: a block instance (`layer1`) or a named pipeline (`aux1`)."""

    name: str
    block: str | None  # the block definition's name; None for a named pipeline
    span: Span  # where the instance was created
    args: tuple[tuple[str, Any], ...] = ()
    definition: Span | None = None  # the block definition's header


@fast_init
@dataclass(frozen=True, slots=True)
class Node:
    """One layer: its op, validated attributes, inputs (node names) and per-sample output shape."""

    name: str  # unique dotted path, e.g. "layer1.bottleneck1.conv2"
    op: str
    attrs: Attrs
    inputs: tuple[str, ...]
    shape: Shape
    span: Span
    scope: tuple[Frame, ...] = ()

    @property
    def local_name(self) -> str:
        return self.name.rsplit(".", 1)[-1]

    @property
    def opdef(self) -> OpDef:
        op = lookup(self.op)
        assert op is not None, self.op
        return op


@fast_init
@dataclass(frozen=True, slots=True)
class Output:
    name: str  # how the output is called (the value's name)
    node: str
    span: Span
    training_only: bool = False  # `output x when training`: computed and returned in training mode only


@dataclass(frozen=True)
class Graph:
    """A whole elaborated network. `nodes[0]` is the input; the order is topological."""

    name: str
    params: tuple[tuple[str, Any], ...]
    nodes: tuple[Node, ...]
    outputs: tuple[Output, ...]
    span: Span
    warnings: tuple = field(default=(), compare=False)

    @cached_property
    def by_name(self) -> dict[str, Node]:
        return {n.name: n for n in self.nodes}

    def node(self, name: str) -> Node:
        return self.by_name[name]

    @property
    def input(self) -> Node:
        return self.nodes[0]

    def layers(self) -> Iterator[Node]:
        """Every node but the input."""
        return iter(self.nodes[1:])

    def input_shapes(self, node: Node) -> tuple[Shape, ...]:
        return tuple(self.by_name[i].shape for i in node.inputs)

    @cached_property
    def digraph(self):
        """The graph as a networkx.DiGraph, for graph algorithms (imported on first use)."""
        import networkx as nx

        g = nx.DiGraph()
        for n in self.nodes:
            g.add_node(n.name)
            for i in n.inputs:
                g.add_edge(i, n.name)
        return g

    @cached_property
    def _consumers(self) -> dict[str, list[str]]:
        found: dict[str, list[str]] = {n.name: [] for n in self.nodes}
        for n in self.nodes:
            for i in n.inputs:
                if n.name not in found[i]:
                    found[i].append(n.name)
        return found

    def consumers(self, name: str) -> list[str]:
        return list(self._consumers[name])

    @cached_property
    def liveness(self) -> "Liveness":
        """Execution order, lifetimes, shared storage and in-place decisions (`netspec.ir.liveness`),
        computed once: code generation, both memory simulations and the warnings all ask."""
        from netspec.ir.liveness import liveness

        return liveness(self)

    @cached_property
    def training_only(self) -> frozenset[str]:
        """The layers only `output ... when training` values need (auxiliary heads): the compiled
        module runs them under `if self.training:`, so an eval-mode forward skips them."""
        training = [o.node for o in self.outputs if o.training_only]
        if not training:
            return frozenset()

        def needed(names: list[str]) -> set[str]:
            found = set(names)
            for name in names:
                found |= self.ancestors(name)
            return found

        return frozenset(needed(training) - needed([o.node for o in self.outputs if not o.training_only]))

    def ancestors(self, name: str) -> set[str]:
        seen: set[str] = set()
        stack = [name]
        while stack:
            for i in self.by_name[stack.pop()].inputs:
                if i not in seen:
                    seen.add(i)
                    stack.append(i)
        return seen


INPUT_OP = "input"
