"""IR graph → execution order: the order the generated forward runs the layers in, which liveness and memory follow.

It is the graph's (the spec's) order, except that what only training-mode outputs need
(`Graph.training_only`: auxiliary heads) runs as soon as what it reads exists, as
torchvision's GoogLeNet runs `aux1` right after `inception4a` although it registers it
after `inception5b`. In eval mode those layers do not run, so nothing keeps their input
alive for them past that point.

Moving happens within a scope, unit by unit, as the generated classes call them: a unit is
a layer of the scope or a whole child scope (one call `self.aux1(x)`); the layers inside
a scope are arranged the same way, one level down. A unit moves only if every layer in it
is training-only and none of them asks for in-place (`relu inplace=true`) on storage that
may come from outside the unit: that storage may still be read by the units it would pass.
(In-place forms the liveness rule chooses are decided in this order, so they are safe.)
`run_early` is the one rule; the code generator applies it to a class's members.
"""
from __future__ import annotations

from typing import Collection, Iterable, Sequence

from netspec.ir.graph import Graph, Node


def run_early(reads: Sequence[Collection[int]], early: Collection[int]) -> list[int]:
    """Unit indices in the order they run: units in `early` as soon as every unit they read
    (`reads[j]`: indices of units of the same scope) has run, the others in their own order."""
    waiting = sorted(early)
    order: list[int] = []
    done: set[int] = set()

    def place_ready() -> None:
        placed = True
        while placed:
            placed = False
            for j in list(waiting):
                if all(k in done for k in reads[j]):
                    waiting.remove(j)
                    order.append(j)
                    done.add(j)
                    placed = True

    place_ready()
    for j in range(len(reads)):
        if j not in done and j not in early:
            order.append(j)
            done.add(j)
            place_ready()
    assert not waiting and len(order) == len(reads), "a unit reads one that comes after it"
    return order


def requested_inplace(node: Node) -> bool:
    """The spec asked for this node to run in place (`relu inplace=true`)."""
    return node.attrs.get("inplace") is True


def may_run_early(graph: Graph, nodes: Iterable[Node]) -> bool:
    """Can this unit (a layer, or all the layers of a scope) run as soon as its inputs exist?"""
    nodes = list(nodes)
    inside = {n.name for n in nodes}
    return bool(nodes) and all(n.name in graph.training_only for n in nodes) and \
        not any(_overwrites_from_outside(graph, n, inside) for n in nodes if requested_inplace(n))


def _overwrites_from_outside(graph: Graph, node: Node, inside: set[str]) -> bool:
    """Does this in-place layer write into storage that may belong to a value made outside `inside`?
    Its operand is followed back through views and layers with an in-place form."""
    operand = node.opdef.inplace_operand(node.attrs, graph.input_shapes(node))
    value = node.inputs[operand if operand is not None else 0]
    while value in inside:
        producer = graph.node(value)
        shapes = graph.input_shapes(producer)
        through = producer.opdef.inplace_operand(producer.attrs, shapes)
        if through is None and not producer.opdef.aliases_input(producer.attrs, shapes):
            return False  # a fresh allocation of the unit's own
        value = producer.inputs[through if through is not None else 0]
    return True


def execution_order(graph: Graph) -> tuple[Node, ...]:
    """Every node, the input first, in the order the generated forward runs them."""
    if not graph.training_only:
        return graph.nodes
    return (graph.input, *_arrange(graph, list(graph.layers()), 0))


def _arrange(graph: Graph, nodes: list[Node], depth: int) -> list[Node]:
    """The nodes of one scope (`depth` frames deep), its units moved by `run_early`."""
    units: list[list[Node]] = []
    by_scope: dict[str, list[Node]] = {}
    for node in nodes:
        if len(node.scope) == depth:
            units.append([node])
        elif node.scope[depth].name in by_scope:
            by_scope[node.scope[depth].name].append(node)
        else:
            by_scope[node.scope[depth].name] = [node]
            units.append(by_scope[node.scope[depth].name])
    units = [unit if len(unit[0].scope) == depth else _arrange(graph, unit, depth + 1) for unit in units]
    unit_of = {n.name: k for k, unit in enumerate(units) for n in unit}
    reads = [{unit_of[i] for n in unit for i in n.inputs if i in unit_of} - {k} for k, unit in enumerate(units)]
    early = [k for k, unit in enumerate(units) if may_run_early(graph, unit)]
    return [n for k in run_early(reads, early) for n in units[k]]
