"""IR graph → liveness: execution order, each value's last use, shared storage, and which nodes may run in place.

Execution order is `graph.nodes` order, which is also the order of the generated
`forward`. Every node produces one value, named after the node.

Storage. A value either owns a new allocation or shares the storage of one of its
inputs: an op whose output may alias its input (`OpDef.aliases_input`: flatten,
reshape, identity, chunk, split, dropout in eval mode) and a node that runs in place
share the storage of input 0 / of the operand they overwrite. Following these links
back gives each value's *storage root*; values with the same root form a storage
group, freed when the last of them dies.

The in-place rule — the one place that decides it (the code generator asks here):
node N may overwrite its operand V (the input its op's in-place form writes,
`OpDef.inplace_operand`) only if

1. V's sole consumer is N, and N reads V once;
2. V is not a graph output and does not share storage with the network input
   (the caller's tensor) or with a graph output;
3. V's producer does not save its own output for backward (`OpDef.saved(...).output`,
   taking into account whether that producer itself runs in place); the same holds
   for every other value of V's storage group;
4. V is not an alias of a value that is still live: every other value U in V's storage
   group is read only by the links of the chain that leads to V (views, in-place
   nodes), or by nodes that run before N and do not save U for backward.

Lifetimes. A value is dead after its last reader (`last_use`, `dead_after`); graph
outputs live to the end. The generated forward is expected to drop a dead value at once
(reuse the variable, or `del`): the memory analysis counts a tensor only while it is live,
plus — unavoidable in Python — while the block it was passed into runs (the caller's
local variable holds the argument).

A node whose attributes already ask for in-place (`relu inplace=true`) runs in place
whatever the rule says; `Liveness.unsafe_inplace` lists those the rule would refuse, and
`Liveness.refusals` says why (the analysis warns about them).
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from types import MappingProxyType
from typing import Mapping

from netspec.ir.graph import Graph, Node


@dataclass(frozen=True)
class Liveness:
    """When each value is born and dies, which storage it uses, and which nodes run in place."""

    order: tuple[str, ...]  # execution order (== graph.nodes order)
    position: Mapping[str, int]  # value → step that produces it
    last_use: Mapping[str, int]  # value → last step that reads it; len(order) for graph outputs
    storage: Mapping[str, str]  # value → storage root (the value whose allocation it uses)
    inplace: Mapping[str, int]  # node → index of the input it overwrites (rule-approved or requested)
    unsafe_inplace: tuple[str, ...]  # nodes that ask for in-place although the rule refuses
    refusals: Mapping[str, str]  # each of those → which part of the rule it breaks

    def dead_after(self, name: str) -> tuple[str, ...]:
        """Values whose last reader is node `name`: the generated forward should drop its
        references to them right after that node (reuse the variable or `del` it), or the
        module holds dead tensors that the memory analysis does not count."""
        step = self.position[name]
        return tuple(v for v in self.order if self.last_use[v] == step and self.position[v] < step)

    def runs_in_place(self, name: str) -> bool:
        return name in self.inplace

    def allocates(self, name: str) -> bool:
        """True if the value has storage of its own (it is its own storage root)."""
        return self.storage[name] == name

    def storage_last_use(self, root: str) -> int:
        """The last step at which any value of a storage group is read (or the end, for outputs)."""
        return max(self.last_use[v] for v, r in self.storage.items() if r == root)


def requested_inplace(node: Node) -> bool:
    """The spec asked for this node to run in place (`relu inplace=true`)."""
    return node.attrs.get("inplace") is True


def liveness(graph: Graph) -> Liveness:
    """Compute liveness and the in-place decisions for a graph, in execution order."""
    order = tuple(n.name for n in graph.nodes)
    position = {name: i for i, name in enumerate(order)}
    end = len(order)
    outputs = {o.node for o in graph.outputs}
    last_use: dict[str, int] = {}
    for node in graph.nodes:
        last_use[node.name] = end if node.name in outputs else position[node.name]
    for node in graph.nodes:
        for i in node.inputs:
            last_use[i] = max(last_use[i], position[node.name])

    storage: dict[str, str] = {}
    inplace: dict[str, int] = {}
    unsafe: dict[str, str] = {}
    for node in graph.nodes:
        if node is graph.input:
            storage[node.name] = node.name
            continue
        operand = _operand(graph, node)
        if operand is not None:
            refusal = _refusal(graph, node, operand, storage, inplace, position, outputs)
            if refusal is None or requested_inplace(node):
                inplace[node.name] = operand
                if refusal is not None:
                    unsafe[node.name] = refusal
        if node.name in inplace:
            storage[node.name] = storage[node.inputs[inplace[node.name]]]
        elif node.opdef.aliases_input(node.attrs, graph.input_shapes(node)):
            storage[node.name] = storage[node.inputs[0]]
        else:
            storage[node.name] = node.name

    return Liveness(
        order=order,
        position=MappingProxyType(position),
        last_use=MappingProxyType(last_use),
        storage=MappingProxyType(storage),
        inplace=MappingProxyType(inplace),
        unsafe_inplace=tuple(unsafe),
        refusals=MappingProxyType(unsafe),
    )


def _operand(graph: Graph, node: Node) -> int | None:
    return node.opdef.inplace_operand(node.attrs, graph.input_shapes(node))


def _saves_output(graph: Graph, node: Node, inplace: Mapping[str, int]) -> bool:
    if node is graph.input:
        return False
    shapes = graph.input_shapes(node)
    return node.opdef.saved(node.attrs, shapes, node.shape, inplace=node.name in inplace).output


def _saves_input(graph: Graph, reader: Node, value: str, inplace: Mapping[str, int]) -> bool:
    saved = reader.opdef.saved(reader.attrs, graph.input_shapes(reader), reader.shape, inplace=reader.name in inplace)
    return any(reader.inputs[i] == value for i in saved.inputs)


def _refusal(
    graph: Graph,
    node: Node,
    operand: int,
    storage: Mapping[str, str],
    inplace: Mapping[str, int],
    position: Mapping[str, int],
    outputs: set[str],
) -> str | None:
    """Why `node` may not overwrite its operand (the rule in the module docstring), or None if it may."""
    value = node.inputs[operand]
    # 1. the sole consumer, read once
    others = [c for c in graph.consumers(value) if c != node.name]
    if others:
        return f"'{value}' is also read by '{others[0]}', which would see the overwritten values"
    if Counter(node.inputs)[value] != 1:
        return f"it reads '{value}' more than once"
    root = storage[value]
    group = [v for v, r in storage.items() if r == root]
    # 2. not the caller's tensor, not (sharing storage with) an output
    if root == graph.input.name:
        shared = "is" if value == root else "shares storage with"
        return f"'{value}' {shared} the network input, the caller's tensor"
    for v in group:
        if v in outputs:
            shared = "is" if v == value else f"shares storage with '{v}', which is"
            return f"'{value}' {shared} an output of the network"
    for member in group:
        # 3. nobody in the group is kept for backward by its producer
        if _saves_output(graph, graph.node(member), inplace):
            return f"'{member}' keeps its output for backward, so training would compute wrong gradients"
        if member == value:
            continue
        # 4. every other member is read only by chain links or by earlier non-saving readers
        for reader_name in graph.consumers(member):
            if storage.get(reader_name) == root:
                continue  # a view of it or an in-place node on it: a link of the chain
            if position[reader_name] > position[node.name]:
                return f"'{value}' shares storage with '{member}', which '{reader_name}' reads afterwards"
            if _saves_input(graph, graph.node(reader_name), member, inplace):
                return (f"'{value}' shares storage with '{member}', which '{reader_name}' keeps for backward, "
                        "so training would compute wrong gradients")
    return None
