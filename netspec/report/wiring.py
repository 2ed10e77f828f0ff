"""IR graph → one wiring diagram per randomly wired stage (its parts joined by weighted sums), as graphviz SVG."""
from __future__ import annotations

import subprocess
from dataclasses import dataclass

from netspec.ir.graph import Graph
from netspec.report.dot import render_svg

INPUT, OUTPUT = "input", "output"


@dataclass(frozen=True)
class Wiring:
    """A block instance drawn as its parts (sub-blocks) and the data flow between them."""

    stage: str  # the block instance's path, e.g. "conv3"
    parts: tuple[str, ...]  # its sub-block names in execution order, e.g. ("n0", "n1", ...)
    edges: tuple[tuple[str, str], ...]  # between parts, from INPUT, and to OUTPUT

    def dot(self) -> str:
        lines = [
            f'digraph "{self.stage}" {{',
            '  graph [rankdir=TB, nodesep=0.15, ranksep=0.3, bgcolor="transparent"];',
            '  node [shape=circle, width=0.32, fixedsize=true, fontsize=9, fontname="Helvetica", '
            'style=filled, fillcolor="#dbe9f6", color="#5b7a99"];',
            '  edge [arrowsize=0.5, color="#7a8794"];',
            f'  "{INPUT}" [shape=box, width=0.7, fillcolor="#eeeeee", tooltip="{self.stage}: stage input"];',
            f'  "{OUTPUT}" [shape=box, width=0.7, fillcolor="#fbe3c8", tooltip="{self.stage}: stage output"];',
        ]
        for part in self.parts:
            label = part[1:] if part[:1] == "n" and part[1:].isdigit() else part
            lines.append(f'  "{part}" [label="{label}", tooltip="{self.stage}.{part}"];')
        lines += [f'  "{a}" -> "{b}";' for a, b in self.edges]
        return "\n".join(lines + ["}"]) + "\n"


def wirings(graph: Graph) -> list[Wiring]:
    """Every block instance whose sub-blocks aggregate each other's outputs with `weighted_sum` (RandWire stages)."""
    stages: list[tuple[str, ...]] = []
    for node in graph.layers():
        path = tuple(f.name for f in node.scope)
        if node.op == "weighted_sum" and len(path) >= 2 and path[:-1] not in stages:
            stages.append(path[:-1])
    return [_wiring(graph, stage) for stage in stages]


def _wiring(graph: Graph, stage: tuple[str, ...]) -> Wiring:
    depth = len(stage)
    inside = [n for n in graph.layers() if tuple(f.name for f in n.scope[:depth]) == stage]
    part_of = {n.name: n.scope[depth].name for n in inside if len(n.scope) > depth}
    members = {n.name for n in inside}
    parts = list(dict.fromkeys(part_of.values()))
    edges: list[tuple[str, str]] = []
    for node in inside:
        for source in node.inputs:
            if source not in members:
                edge = (INPUT, part_of.get(node.name, OUTPUT))
            elif node.name not in part_of and source in part_of:
                edge = (part_of[source], OUTPUT)  # the stage's own merge: the output average
            elif source in part_of and node.name in part_of and part_of[source] != part_of[node.name]:
                edge = (part_of[source], part_of[node.name])
            else:
                continue
            if edge not in edges:
                edges.append(edge)
    result = inside[-1].name
    if result in part_of and (part_of[result], OUTPUT) not in edges:
        edges.append((part_of[result], OUTPUT))  # a single sink is the stage's result
    return Wiring(".".join(stage), tuple(parts), tuple(edges))


def wiring_diagrams(graph: Graph) -> list[dict]:
    """Per stage: its name, counts and SVG (None without graphviz `dot`), for the report's template."""
    diagrams = []
    for wiring in wirings(graph):
        try:
            svg = render_svg(wiring.dot())
        except (RuntimeError, subprocess.TimeoutExpired, OSError):
            svg = None
        inner = [e for e in wiring.edges if INPUT not in e and OUTPUT not in e]
        diagrams.append({
            "stage": wiring.stage, "nodes": len(wiring.parts), "edges": len(inner),
            "sources": sum(1 for a, _ in wiring.edges if a == INPUT),
            "sinks": sum(1 for _, b in wiring.edges if b == OUTPUT),
            "svg": svg,
        })
    return diagrams
