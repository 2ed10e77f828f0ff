"""Graph → Graphviz DOT source (block instances as clusters) and, when `dot` is installed, SVG."""
from __future__ import annotations

import html
import shutil
import subprocess
from dataclasses import dataclass, field
from typing import Any

from netspec.ir.graph import Graph, Node

# Fill colours per op family (light, print-friendly); anything else is white.
FAMILY_COLORS = {
    "convolution": "#dbe9f6",
    "linear": "#e6dcf2",
    "pooling": "#dcefdc",
    "merge": "#fbe3c8",
    "normalization": "#fbf3c4",
    "activation": "#eeeeee",
    "dropout": "#eeeeee",
    "reshape": "#f3f3f3",
}
# Unary ops that are drawn inside the box of the layer feeding them (conv → bn → relu is one box).
FOLDABLE_FAMILIES = ("activation", "normalization", "dropout")
# Attribute values never worth drawing (derived spellings for the code generator).
HIDDEN_ATTRS = ("pad_torch", "shape")
SHORT_NAMES = {"stride": "s", "pad": "p", "dilation": "d", "groups": "g"}

MISSING_DOT = "diagram skipped: graphviz 'dot' not found (apt-get install graphviz)"


def fmt_shape(shape: tuple[int, ...]) -> str:
    return "×".join(str(n) for n in shape)


def _fmt_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        if len(set(value)) == 1:
            return str(value[0])
        return "×".join(_fmt_value(v) for v in value)
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def describe_attrs(node: Node) -> str:
    """The attributes a reader cares about: positional ones, then those that differ from the default.

    `conv 64 3x3 stride=2 pad=1 bias=false` → `64, 3×3, s2, p1, bias=false`.
    """
    opdef = node.opdef
    declared = {a.name: a for a in opdef.attrs}
    parts: list[str] = []
    for name in node.attrs:
        if name in HIDDEN_ATTRS and name not in declared or name == "pad_torch":
            continue
        value = node.attrs[name]
        attr = declared.get(name)
        if attr is None:
            continue
        if attr.positional:
            text = _fmt_value(value)
            if name == "kernel" and isinstance(value, tuple) and len(value) > 1:
                text = "×".join(str(v) for v in value)
            parts.append(text)
            continue
        default = attr.default
        if value is None or value == default:
            continue
        if name == "stride" and "kernel" in node.attrs and value == node.attrs["kernel"] and default is None:
            continue  # pooling: stride defaults to the kernel
        if isinstance(value, tuple) and not isinstance(default, tuple) and len(set(value)) == 1 and value[0] == default:
            continue  # per-axis value equal to a scalar default
        if name in SHORT_NAMES and not isinstance(value, bool):
            parts.append(f"{SHORT_NAMES[name]}{_fmt_value(value)}")
        else:
            parts.append(f"{name}={_fmt_value(value)}")
    return ", ".join(parts)


def _family(node: Node) -> str:
    return getattr(node.opdef, "family", "") or ""


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


@dataclass
class _Box:
    """One drawn box: a head node plus the unary ops folded into it."""

    head: Node
    folded: list[Node] = field(default_factory=list)

    @property
    def last(self) -> Node:
        return self.folded[-1] if self.folded else self.head


def _boxes(graph: Graph, fold: bool) -> tuple[list[_Box], dict[str, _Box]]:
    boxes: list[_Box] = []
    owner: dict[str, _Box] = {}
    outputs = {o.node for o in graph.outputs}
    for node in graph.nodes:
        if fold and node.inputs and len(node.inputs) == 1 and _family(node) in FOLDABLE_FAMILIES:
            producer = owner[node.inputs[0]]
            if (
                producer.last.name == node.inputs[0]
                and producer.head.inputs  # never fold into the input box
                and len(graph.consumers(node.inputs[0])) == 1
                and node.inputs[0] not in outputs
                and node.scope == producer.head.scope
            ):
                producer.folded.append(node)
                owner[node.name] = producer
                continue
        box = _Box(node)
        boxes.append(box)
        owner[node.name] = box
    return boxes, owner


def _label(box: _Box, output_names: list[str]) -> str:
    """An HTML-like Graphviz label: op and attributes in bold, folded ops, then the shape."""
    node = box.head
    e = html.escape
    if not node.inputs:
        title = "input"
        rows = [f"<B>{e(title)}</B>"]
    else:
        attrs = describe_attrs(node)
        rows = [f"<B>{e(node.op)}</B>" + (f" {e(attrs)}" if attrs else "")]
        for extra in box.folded:
            extra_attrs = describe_attrs(extra)
            rows.append(f"+ {e(extra.op)}" + (f" {e(extra_attrs)}" if extra_attrs else ""))
    shape = fmt_shape(box.last.shape)
    caption = shape if not node.inputs else f"{node.local_name} · {shape}"
    rows.append(f'<FONT POINT-SIZE="9" COLOR="#555555">{e(caption)}</FONT>')
    if output_names:
        named = [n for n in output_names if n != "output"]
        text = "output" + (f": {', '.join(named)}" if named else "")
        rows.append(f'<FONT POINT-SIZE="9" COLOR="#b03a2e"><B>{e(text)}</B></FONT>')
    return "<" + "<BR/>".join(rows) + ">"


@dataclass(frozen=True)
class Drawing:
    """DOT source and, for every graph node, the id of the SVG element that draws it."""

    dot: str
    element_of: dict[str, str]  # node name → SVG element id (its box, or the ×N node hiding it)
    collapsed_runs: int = 0  # how many runs of identical blocks were drawn as one node


def _path_key(path: tuple[str, ...]) -> str:
    return ".".join(path)


def _members(graph: Graph) -> dict[tuple[str, ...], list[Node]]:
    """For every scope path, the nodes inside it (at any depth), in graph order."""
    members: dict[tuple[str, ...], list[Node]] = {}
    for node in graph.nodes:
        path: tuple[str, ...] = ()
        for frame in node.scope:
            path += (frame.name,)
            members.setdefault(path, []).append(node)
    return members


def _signature(graph: Graph, path: tuple[str, ...], nodes: list[Node]) -> tuple:
    """What makes two block instances identical: the same layers, attributes, shapes and internal wiring."""
    prefix = _path_key(path) + "."
    inside = {n.name for n in nodes}

    def relative(name: str) -> str:
        return name[len(prefix):] if name.startswith(prefix) else name

    frame = nodes[0].scope[len(path) - 1]
    return (frame.block, frame.args) + tuple(
        (relative(n.name), n.op, n.attrs, n.shape,
         tuple(relative(i) if i in inside else ("outside", graph.node(i).shape) for i in n.inputs))
        for n in nodes
    )


def _repeat_runs(graph: Graph, tree: dict, members: dict[tuple[str, ...], list[Node]]) -> list[list[tuple[str, ...]]]:
    """Runs of two or more consecutive sibling instances that are identical, each fed only by the one before."""
    runs: list[list[tuple[str, ...]]] = []
    for entry in tree.values():
        run: list[tuple[str, ...]] = []
        previous_sig = None
        for kind, item in entry["items"] + [("end", None)]:
            sig = _signature(graph, item, members[item]) if kind == "child" and members[item][0].scope[len(item) - 1].block else None
            chained = False
            if sig is not None and run and sig == previous_sig:
                inside_prev = {n.name for n in members[run[-1]]}
                inside = {n.name for n in members[item]}
                external = {i for n in members[item] for i in n.inputs if i not in inside}
                chained = external <= inside_prev
            if chained:
                run.append(item)
            else:
                if len(run) >= 2:
                    runs.append(run)
                run = [item] if sig is not None else []
            previous_sig = sig
    return runs


def layout(analysis: Any, fold: bool = True, collapse_repeats: bool = False, id_prefix: str = "g-") -> Drawing:
    """DOT for an `Analysis` (or a bare `Graph`): one box per layer, block instances as clusters.

    With `fold`, activations, normalization and dropout that directly follow a layer are
    drawn inside that layer's box. Edges into merges (add, concat, mul) carry the shape.
    Branches are laid out left to right in spec order. With `collapse_repeats`, a run of
    identical consecutive block instances (a ResNet stage's blocks after the first) is
    drawn as one "×N" node. Every drawn node gets the SVG id `id_prefix` + its name.
    """
    graph: Graph = getattr(analysis, "graph", analysis)
    boxes, owner = _boxes(graph, fold)
    outputs: dict[str, list[str]] = {}
    for out in graph.outputs:
        outputs.setdefault(out.node, []).append(out.name)

    lines = [
        f"digraph {_quote(graph.name)} {{",
        '  graph [rankdir=TB, newrank=true, ordering=out, fontname="Helvetica", fontsize=11, nodesep=0.25, ranksep=0.3, '
        'labeljust=l, color="#9aa5b1", style="rounded,dashed", penwidth=1];',
        '  node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=10, '
        'color="#5b6770", penwidth=1, margin="0.12,0.05", height=0.3];',
        '  edge [color="#5b6770", arrowsize=0.6, fontname="Helvetica", fontsize=8, fontcolor="#555555"];',
    ]

    # clusters: a tree keyed by the scope path; items keep boxes and sub-clusters in graph order
    tree: dict[tuple[str, ...], dict] = {(): {"items": []}}
    frames_by_path: dict[tuple[str, ...], Any] = {}
    for box in boxes:
        path: tuple[str, ...] = ()
        for frame in box.head.scope:
            child = path + (frame.name,)
            if child not in tree:
                tree[child] = {"items": []}
                tree[path]["items"].append(("child", child))
                frames_by_path[child] = frame
            path = child
        tree[path]["items"].append(("box", box))

    members = _members(graph)
    hidden: dict[tuple[str, ...], str] = {}  # a collapsed instance → the id of its run's node
    run_heads: dict[tuple[str, ...], list[tuple[str, ...]]] = {}
    if collapse_repeats:
        for run in _repeat_runs(graph, tree, members):
            run_heads[run[0]] = run
            for path in run:
                hidden[path] = id_prefix + _path_key(run[0])

    def drawn_id(node: Node) -> str:
        path: tuple[str, ...] = ()
        for frame in node.scope:
            path += (frame.name,)
            if path in hidden:
                return hidden[path]
        return id_prefix + owner[node.name].head.name

    counter = [0]

    def emit_run(run: list[tuple[str, ...]], indent: str) -> None:
        first, last = run[0], run[-1]
        frame = frames_by_path[first]
        nodes = members[last]
        rows = [f"<B>{html.escape(frame.block or first[-1])}</B> ×{len(run)}",
                f'<FONT POINT-SIZE="9" COLOR="#555555">{html.escape(_path_key(first))} … {html.escape(_path_key(last))} · '
                f"{html.escape(fmt_shape(nodes[-1].shape))}</FONT>"]
        title = f"{_path_key(first)} … {_path_key(last)}: {len(run)} identical {frame.block} blocks"
        lines.append(
            f"{indent}{_quote('run:' + _path_key(first))} [label=<{'<BR/>'.join(rows)}>, shape=box3d, "
            f'style="filled", fillcolor="#e8edf3", id={_quote(hidden[first])}, tooltip={_quote(title)}];'
        )

    def emit(path: tuple[str, ...], indent: str) -> None:
        for kind, item in tree[path]["items"]:
            if kind == "box":
                box = item
                node = box.head
                fill = "#ffffff" if not node.inputs else FAMILY_COLORS.get(_family(node), "#ffffff")
                extra = ', penwidth=2, color="#b03a2e"' if box.last.name in outputs else ""
                if not node.inputs:
                    extra += ', color="#1f4e79", penwidth=2'
                lines.append(
                    f"{indent}{_quote(node.name)} [label={_label(box, outputs.get(box.last.name, []))}, "
                    f'fillcolor="{fill}", id={_quote(id_prefix + node.name)}, tooltip={_quote(node.name)}{extra}];'
                )
                continue
            child = item
            if child in run_heads:
                emit_run(run_heads[child], indent)
                continue
            if child in hidden:
                continue
            counter[0] += 1
            frame = frames_by_path[child]
            title = child[-1] if not frame.block or frame.block == child[-1] else f"{child[-1]} · {frame.block}"
            lines.append(f"{indent}subgraph cluster_{counter[0]} {{")
            lines.append(f"{indent}  label={_quote(title)}; fontcolor=\"#3e4c59\";")
            emit(child, indent + "  ")
            lines.append(f"{indent}}}")

    emit((), "  ")

    # edges between drawn nodes, in graph order (so that branches keep their spec order)
    dot_name = {}
    for box in boxes:
        element = drawn_id(box.head)
        dot_name[element] = _quote(box.head.name) if element == id_prefix + box.head.name else _quote(
            "run:" + element[len(id_prefix):])
    seen_edges: set[tuple[str, str]] = set()
    for box in boxes:
        node = box.head
        target = drawn_id(node)
        merge = len(node.inputs) > 1
        for source in node.inputs:
            origin = drawn_id(owner[source].head)
            if origin == target or (origin, target) in seen_edges:
                continue
            seen_edges.add((origin, target))
            attrs = ""
            if merge and target == id_prefix + node.name:
                attrs = f" [label={_quote(' ' + fmt_shape(graph.node(source).shape))}]"
            lines.append(f"  {dot_name[origin]} -> {dot_name[target]}{attrs};")
    lines.append("}")
    element_of = {node.name: drawn_id(node) for node in graph.nodes}
    return Drawing("\n".join(lines) + "\n", element_of, len(run_heads))


def graph_to_dot(analysis: Any, fold: bool = True, collapse_repeats: bool = False) -> str:
    """DOT source for an `Analysis` or a `Graph` (see `layout`)."""
    return layout(analysis, fold, collapse_repeats).dot


def families_drawn(analysis: Any) -> list[tuple[str, str]]:
    """(family, fill colour) for the op families that appear as boxes, in the legend's order."""
    graph: Graph = getattr(analysis, "graph", analysis)
    present = {_family(n) for n in graph.layers()}
    return [(family, color) for family, color in FAMILY_COLORS.items() if family in present]


def dot_available() -> bool:
    return shutil.which("dot") is not None


def render_svg(dot_source: str, timeout: float = 120.0) -> str | None:
    """SVG text for DOT source, ready to inline in HTML; None when the `dot` executable is missing."""
    exe = shutil.which("dot")
    if exe is None:
        return None
    result = subprocess.run([exe, "-Tsvg"], input=dot_source.encode(), capture_output=True, timeout=timeout)
    if result.returncode != 0:
        raise RuntimeError(f"dot failed: {result.stderr.decode(errors='replace').strip()}")
    svg = result.stdout.decode()
    # drop the XML prolog, DOCTYPE and leading comments so the SVG can sit inside HTML
    start = svg.find("<svg")
    return svg[start:] if start >= 0 else svg


@dataclass(frozen=True)
class Diagram:
    """The rendered diagram: the full SVG, and, when the network repeats identical blocks, a collapsed one."""

    svg: str
    element_of: dict[str, str]
    collapsed_svg: str | None = None
    collapsed_element_of: dict[str, str] = field(default_factory=dict)
    collapsed_runs: int = 0


def render_diagram(analysis: Any, fold: bool = True) -> tuple[Diagram | None, str | None]:
    """(Diagram, None) or (None, a one-line reason the diagram was skipped)."""
    if not dot_available():
        return None, MISSING_DOT
    try:
        full = layout(analysis, fold, id_prefix="g-")
        svg = render_svg(full.dot)
        collapsed = layout(analysis, fold, collapse_repeats=True, id_prefix="c-")
        if not collapsed.collapsed_runs or svg is None:
            return Diagram(svg or "", full.element_of), None
        return Diagram(svg, full.element_of, render_svg(collapsed.dot), collapsed.element_of,
                       collapsed.collapsed_runs), None
    except (RuntimeError, subprocess.TimeoutExpired, OSError) as error:
        first = str(error).splitlines()[0] if str(error) else type(error).__name__
        return None, f"diagram skipped: {first}"


def diagram(analysis: Any, fold: bool = True) -> tuple[str | None, str | None]:
    """(svg, None) or (None, a one-line reason the diagram was skipped)."""
    drawn, reason = render_diagram(analysis, fold)
    return (drawn.svg if drawn else None), reason


__all__ = ["graph_to_dot", "layout", "Drawing", "render_svg", "diagram", "render_diagram", "Diagram", "describe_attrs",
           "families_drawn", "MISSING_DOT"]
