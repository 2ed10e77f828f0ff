"""IR graph → liveness: execution order, each value's last use, shared storage, and which nodes may run in place.

Execution order is `netspec.ir.order.execution_order`: the graph's order, except that
training-only units (auxiliary heads) run as soon as their inputs exist. It is the order
of the generated `forward`, and every decision below is made in it. Every node produces
one value, named after the node.

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

import functools
from collections import Counter
from dataclasses import dataclass
from types import MappingProxyType
from typing import Mapping

from netspec.ir.graph import Graph, Node
from netspec.ir.order import execution_order, requested_inplace


@dataclass(frozen=True)
class Liveness:
    """When each value is born and dies, which storage it uses, and which nodes run in place."""

    order: tuple[str, ...]  # execution order (`netspec.ir.order`)
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
        return self._dying.get(self.position[name], ())

    def runs_in_place(self, name: str) -> bool:
        return name in self.inplace

    def allocates(self, name: str) -> bool:
        """True if the value has storage of its own (it is its own storage root)."""
        return self.storage[name] == name

    def storage_last_use(self, root: str) -> int:
        """The last step at which any value of a storage group is read (or the end, for outputs)."""
        return self._group_last_use[root]

    @functools.cached_property
    def _dying(self) -> dict[int, tuple[str, ...]]:
        dying: dict[int, list[str]] = {}
        for value in self.order:
            step = self.last_use[value]
            if self.position[value] < step:
                dying.setdefault(step, []).append(value)
        return {step: tuple(values) for step, values in dying.items()}

    @functools.cached_property
    def _group_last_use(self) -> dict[str, int]:
        last: dict[str, int] = {}
        for value, root in self.storage.items():
            last[root] = max(last.get(root, -1), self.last_use[value])
        return last


def liveness(graph: Graph) -> Liveness:
    """Compute liveness and the in-place decisions for a graph, in execution order."""
    nodes = execution_order(graph)
    order = tuple(n.name for n in nodes)
    position = {name: i for i, name in enumerate(order)}
    end = len(order)
    outputs = {o.node for o in graph.outputs}
    last_use: dict[str, int] = {}
    for node in nodes:
        last_use[node.name] = end if node.name in outputs else position[node.name]
    for node in nodes:
        for i in node.inputs:
            last_use[i] = max(last_use[i], position[node.name])

    storage: dict[str, str] = {}
    groups: dict[str, _Group] = {}
    inplace: dict[str, int] = {}
    unsafe: dict[str, str] = {}
    for node in nodes:
        if node is graph.input:
            storage[node.name] = node.name
            groups[node.name] = _Group()
            groups[node.name].join(node.name, last_use[node.name], False, False)
            continue
        operand = _operand(graph, node)
        if operand is not None:
            refusal = _refusal(graph, node, operand, storage, groups, position, outputs)
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
            groups[node.name] = _Group()
        root = storage[node.name]
        saved = node.opdef.saved(node.attrs, graph.input_shapes(node), node.shape, inplace=node.name in inplace)
        groups[root].join(node.name, last_use[node.name], node.name in outputs, saved.output)
        for value in (node.inputs[i] for i in saved.inputs):  # what it keeps for backward, of other groups
            if storage[value] != root:
                groups[storage[value]].kept_by_reader(value, node.name)

    return Liveness(
        order=order,
        position=MappingProxyType(position),
        last_use=MappingProxyType(last_use),
        storage=MappingProxyType(storage),
        inplace=MappingProxyType(inplace),
        unsafe_inplace=tuple(unsafe),
        refusals=MappingProxyType(unsafe),
    )


class _Group:
    """What the in-place rule needs to know of a storage group, kept up to date as values join it,
    so that each decision costs the same however long the group (a chain of in-place layers) is."""

    def __init__(self) -> None:
        self.output: str | None = None  # the first member that is a graph output
        self.saved_output: str | None = None  # the first member whose producer keeps it for backward
        self.kept: tuple[str, str] | None = None  # the first (member, reader outside the group) keeping it
        self.latest: list[tuple[int, str]] = []  # the two members read last: (last use, member)

    def join(self, member: str, last_use: int, is_output: bool, saves_output: bool) -> None:
        if is_output and self.output is None:
            self.output = member
        if saves_output and self.saved_output is None:
            self.saved_output = member
        self.latest = sorted([*self.latest, (last_use, member)], key=lambda pair: -pair[0])[:2]

    def kept_by_reader(self, member: str, reader: str) -> None:
        if self.kept is None:
            self.kept = (member, reader)

    def read_last_besides(self, value: str) -> tuple[int, str] | None:
        """(last use, member) of the member other than `value` that is read last."""
        return next((pair for pair in self.latest if pair[1] != value), None)


def _operand(graph: Graph, node: Node) -> int | None:
    return node.opdef.inplace_operand(node.attrs, graph.input_shapes(node))


def _refusal(
    graph: Graph,
    node: Node,
    operand: int,
    storage: Mapping[str, str],
    groups: Mapping[str, _Group],
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
    group = groups[root]
    # 2. not the caller's tensor, not (sharing storage with) an output
    if root == graph.input.name:
        shared = "is" if value == root else "shares storage with"
        return f"'{value}' {shared} the network input, the caller's tensor"
    if group.output is not None:
        shared = "is" if group.output == value else f"shares storage with '{group.output}', which is"
        return f"'{value}' {shared} an output of the network"
    # 3. nobody in the group is kept for backward by its producer
    if group.saved_output is not None:
        return f"'{group.saved_output}' keeps its output for backward, so training would compute wrong gradients"
    # 4. every other member is read only by chain links or by earlier non-saving readers
    latest = group.read_last_besides(value)
    if latest is not None and latest[0] > position[node.name]:
        member = latest[1]
        reader = next(r for r in graph.consumers(member) if position[r] > position[node.name])
        return f"'{value}' shares storage with '{member}', which '{reader}' reads afterwards"
    if group.kept is not None:
        member, reader = group.kept
        return (f"'{value}' shares storage with '{member}', which '{reader}' keeps for backward, "
                "so training would compute wrong gradients")
    return None
