"""Analysis → one self-contained HTML page (jinja2 template, inline CSS, SVG charts and a small script)."""
from __future__ import annotations

import html as _html
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2

from netspec.analysis.memory import OPTIMIZER_STATE, MemoryScale
from netspec.analysis.receptive import ReceptiveField, receptive_fields
from netspec.errors import Source
from netspec.ops.base import numel
from netspec.analysis.borders import border_losses
from netspec.analysis.diagnostics import inplace_warnings
from netspec.analysis.explain import TOOL_VERSIONS
from netspec.report.dot import MISSING_DOT, describe_attrs, families_drawn, fmt_shape
from netspec.report.figures import cost_chart, memory_chart, memory_profile, receptive_field_chart
from netspec.report.numbers import exact, human, megabytes
from netspec.report.wiring import wiring_diagrams

COLLAPSE_OVER = 100  # tables of more layers start collapsed to the top-level rows ...
FEW_ROWS = 8  # ... but a block that is nearly the whole network (torchvision's `features`) starts open

TEMPLATES = Path(__file__).parent / "templates"

# ---- the page's data -----------------------------------------------------------------------


@dataclass
class Row:
    kind: str  # "layer" or "scope"
    depth: int
    name: str = ""
    prefix: str = ""
    local: str = ""
    op: str = ""
    attrs: str = ""
    shape: str = ""
    params: int = 0
    macs: int = 0
    pct: float = 0.0
    elementwise: int = 0
    rf: str = ""
    rf_title: str = ""
    anchor: str = ""
    where: str = ""
    block: str = ""
    is_output: bool = False
    row_id: str = ""  # the element id of the row
    path: str = ""  # for a scope row: its dotted scope path
    parent: str = ""  # the dotted path of the scope the row sits in ("" at the top)
    element: str = ""  # the diagram element that draws this layer
    collapsed_element: str = ""  # ... in the diagram with repeated blocks collapsed
    statement: str = ""  # the spec line, for the tooltip
    elements: int = 0  # numel of the output, to sort by shape
    rf_value: float = 0.0  # the receptive field as a number, to sort by ("global" sorts last)


@dataclass
class SourceFile:
    index: int
    name: str
    lines: list[str] = field(default_factory=list)


def _rf_title(rf: ReceptiveField) -> str:
    if not rf.size:
        return "no spatial axes in the input"
    size = "×".join(map(str, rf.size))
    stride = "×".join(str(j) for j in rf.stride)
    start = ", ".join(str(s) for s in rf.start)
    parts = [f"size {size} px", f"effective stride {stride}", f"first field starts at ({start})"]
    if rf.covers_whole_input:
        parts.insert(0, "every output element depends on the whole input")
    if not rf.aligned:
        parts.append("merged paths are not centred on each other")
    if not rf.exact:
        parts.append("approximate (upsampling / transposed convolution / mismatched strides)")
    return "; ".join(parts)


def _highlight(line: str) -> str:
    """Escape a spec line and grey out its comment (a '#' outside a string)."""
    in_string = False
    for i, ch in enumerate(line):
        if ch == '"':
            in_string = not in_string
        elif ch == "#" and not in_string:
            return _html.escape(line[:i]) + '<span class="c">' + _html.escape(line[i:]) + "</span>"
    return _html.escape(line)


def _sources(analysis: Any, source_text: str, source_name: str) -> tuple[list[SourceFile], dict[str, int]]:
    """The main spec first, then every imported file a node's span points into."""
    files = [SourceFile(0, source_name, _listed_lines(Source(source_name, source_text)))]
    # the graph's own source is the main spec, whatever name it was parsed under ("<spec>" for text)
    index = {analysis.graph.span.source.name: 0, source_name: 0}
    for node in analysis.graph.nodes:
        src = node.span.source
        if src.name not in index:
            index[src.name] = len(files)
            files.append(SourceFile(len(files), src.name, _listed_lines(src)))
    return files, index


def _listed_lines(source: Source) -> list[str]:
    """A file's lines numbered as the parser and the error messages number them (LF only)."""
    lines = list(source.lines)
    return lines[:-1] if lines and lines[-1] == "" else lines


def _where(span: Any, index: dict[str, int], files: list[SourceFile]) -> tuple[str, str]:
    """(anchor id, 'file:line') for a span, naming the main spec as the caller does."""
    file_index = index.get(span.source.name, 0)
    return f"src{file_index}-L{span.line}", f"{files[file_index].name}:{span.line}"


def last_spatial_field(graph: Any, fields: dict[str, ReceptiveField], name: str) -> tuple[str, ReceptiveField] | None:
    """Walking back from an output along first inputs: the last node whose field is still local."""
    node = graph.node(name)
    while node.inputs:
        if not fields[node.name].covers_whole_input and len(node.shape) > 1:
            return node.name, fields[node.name]
        node = graph.node(node.inputs[0])
    return None


def _rows(analysis: Any, fields: dict[str, ReceptiveField], index: dict[str, int], files: list[SourceFile]) -> list[Row]:
    graph = analysis.graph
    total_macs = analysis.totals.macs or 1
    outputs = {o.node for o in graph.outputs}
    # subtotals per scope path
    sub: dict[tuple[str, ...], list[int]] = {}
    for cost in analysis.layers:
        node = graph.node(cost.name)
        path: tuple[str, ...] = ()
        for frame in node.scope:
            path += (frame.name,)
            acc = sub.setdefault(path, [0, 0, 0])
            acc[0] += cost.params
            acc[1] += cost.macs
            acc[2] += cost.elementwise

    rows: list[Row] = []
    inp = graph.input
    anchor, where = _where(inp.span, index, files)
    rows.append(Row("layer", 0, inp.name, "", inp.name, "input", "", fmt_shape(inp.shape), rf="1",
                    rf_title="the input itself", anchor=anchor, where=where, row_id=f"layer-{inp.name}",
                    statement=_statement(inp.span), elements=numel(inp.shape), rf_value=1.0))
    seen: set[tuple[str, ...]] = set()
    for cost in analysis.layers:
        node = graph.node(cost.name)
        path = ()
        for depth, frame in enumerate(node.scope):
            path += (frame.name,)
            if path not in seen:
                seen.add(path)
                p, m, e = sub[path]
                f_anchor, f_where = _where(frame.span, index, files) if frame.span is not None else ("", "")
                rows.append(Row("scope", depth, ".".join(path), "", frame.name, block=frame.block or "",
                                params=p, macs=m, pct=100.0 * m / total_macs, elementwise=e,
                                anchor=f_anchor, where=f_where, row_id=scope_id(path), path=".".join(path),
                                parent=".".join(path[:-1]), statement=_statement(frame.span)))
        depth = len(node.scope)
        prefix = ".".join(f.name for f in node.scope)
        local = node.name[len(prefix) + 1:] if prefix and node.name.startswith(prefix + ".") else node.name
        rf = fields[node.name]
        anchor, where = _where(node.span, index, files)
        rows.append(Row(
            "layer", depth, node.name, prefix, local, node.op, describe_attrs(node), fmt_shape(node.shape),
            cost.params, cost.macs, 100.0 * cost.macs / total_macs, cost.elementwise,
            rf.describe(), _rf_title(rf), anchor, where, is_output=node.name in outputs,
            row_id=f"layer-{node.name}", parent=prefix, statement=_statement(node.span),
            elements=numel(node.shape), rf_value=_rf_value(rf),
        ))
    return rows


def _rf_value(rf: ReceptiveField) -> float:
    if rf.covers_whole_input:
        return 1e15
    return float(max(rf.size)) if rf.size else 1.0


def initially_open(rows: list[Row]) -> list[str]:
    """The blocks a folded table still shows open: while fewer than FEW_ROWS rows would be visible, the largest shown block."""

    def shown(row: Row, opened: set[str]) -> bool:
        parts = row.parent.split(".") if row.parent else []
        return all(".".join(parts[: i + 1]) in opened for i in range(len(parts)))

    size = {r.path: sum(1 for x in rows if x.parent == r.path or x.parent.startswith(r.path + ".")) for r in rows
            if r.kind == "scope"}
    opened: set[str] = set()
    while sum(shown(r, opened) for r in rows) < FEW_ROWS:
        closed = [r.path for r in rows if r.kind == "scope" and r.path not in opened and shown(r, opened)]
        if not closed:
            break
        opened.add(max(closed, key=lambda path: size[path]))
    return sorted(opened)


def scope_id(path: tuple[str, ...]) -> str:
    return "scope-" + ".".join(path)


def _statement(span: Any) -> str:
    """The spec line a span starts on, stripped (a tooltip)."""
    if span is None:
        return ""
    lines = span.source.lines
    return lines[span.line - 1].strip() if 0 < span.line <= len(lines) else ""


# ---- how our numbers compare ----------------------------------------------------------


def _comparison(analysis: Any) -> dict:
    """What other tools would report: the figures of `netspec.analysis.explain`, as `summary --explain` prints them."""
    ours = analysis.totals.macs
    rows = [{"tool": "netspec (this report)", "counts": "multiply-accumulates of conv and linear layers, bias excluded",
             "predicted": ours, "unit": "MACs", "vs_ours": "", "key": None, "exact": True}]
    for figure in analysis.explain():
        in_macs = figure.value if figure.unit == "MACs" else figure.value // 2  # FLOPs compare as 2 x MACs
        rows.append({
            "tool": figure.tool, "counts": figure.reason, "predicted": figure.value, "unit": figure.unit,
            "vs_ours": f"{(in_macs - ours) / ours * 100:+.3f}%" if ours else "", "key": figure.key,
            "exact": figure.exact,
        })
    return {"rows": rows, "versions": TOOL_VERSIONS}


# ---- rendering ------------------------------------------------------------------------------

_env: jinja2.Environment | None = None


def environment() -> jinja2.Environment:
    global _env
    if _env is None:
        _env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(str(TEMPLATES)),
            autoescape=jinja2.select_autoescape(["html", "j2"], default=True),
            trim_blocks=True,
            lstrip_blocks=True,
            undefined=jinja2.StrictUndefined,
        )
        _env.filters.update(human=human, exact=exact, megabytes=megabytes)
    return _env


def _clean_svg(svg: str, prefix: str = "g-") -> str:
    """Inline-ready SVG: no XML prolog, DOCTYPE, comments or namespace URLs (HTML needs none).

    Graphviz numbers its own elements (graph0, clust1, edge1, a_node1); those ids get
    `prefix` so that two diagrams can share a page. Ids we set already start with it.
    """
    start = svg.find("<svg")
    svg = svg[start:] if start >= 0 else svg
    svg = re.sub(r"<!--.*?-->", "", svg, flags=re.S)
    svg = re.sub(r'\s+xmlns(:xlink)?="[^"]*"', "", svg)
    own = prefix.replace("-", "&#45;")
    svg = re.sub(r'\bid="(?!' + re.escape(own) + "|" + re.escape(prefix) + r')([^"]*)"', lambda m: f'id="{prefix}x-{m.group(1)}"', svg)
    return svg.strip()


@dataclass(frozen=True)
class Warning:
    """One entry of the report's warnings box."""

    message: str
    where: str  # file:line
    anchor: str  # the source line's element id
    row: str  # the table row's element id, or ""


def _warnings(analysis: Any, index: dict[str, int], files: list[SourceFile]) -> list[Warning]:
    """Dropped values (from elaboration), border pixels lost to floor division, unsafe in-place requests."""
    graph = analysis.graph
    found = []
    for diagnostic in getattr(graph, "warnings", ()):
        span = getattr(diagnostic, "span", None)
        anchor, where = _where(span, index, files) if span is not None else ("", "")
        found.append(Warning(str(getattr(diagnostic, "message", diagnostic)), where, anchor, ""))
    for loss in border_losses(graph):
        anchor, where = _where(graph.node(loss.node).span, index, files)
        found.append(Warning(loss.message, where, anchor, f"layer-{loss.node}"))
    for name, diagnostic in inplace_warnings(graph).items():
        anchor, where = _where(diagnostic.span, index, files)
        found.append(Warning(diagnostic.message, where, anchor, f"layer-{name}"))
    return found


def _diagram_context(drawn: Any) -> dict:
    """The diagram's SVGs (ids made unique per SVG) and the element each row links to."""
    if drawn is None:
        return {"svg": None, "collapsed_svg": None, "element_of": {}, "collapsed_element_of": {}, "runs": 0}
    if isinstance(drawn, str):
        return {"svg": _clean_svg(drawn, "g-"), "collapsed_svg": None, "element_of": {}, "collapsed_element_of": {},
                "runs": 0}
    return {
        "svg": _clean_svg(drawn.svg, "g-"),
        "collapsed_svg": _clean_svg(drawn.collapsed_svg, "c-") if drawn.collapsed_svg else None,
        "element_of": drawn.element_of,
        "collapsed_element_of": drawn.collapsed_element_of,
        "runs": drawn.collapsed_runs,
    }


def _convolutionized(converted: Any) -> dict | None:
    """The context of the convolutionized section (netspec/report/convolutionize.py), or None."""
    if converted is None:
        return None
    from netspec.report.convolutionize import convolutionize_context

    return convolutionize_context(converted)


def render_report(
    analysis: Any,
    source_text: str,
    source_name: str,
    svg: Any,
    notes: list[str],
    convolutionized: Any = None,
    artefacts: Any = (),
    scale: MemoryScale = MemoryScale(),
) -> str:
    """The whole report as one HTML string: summary, charts, per-layer table, diagram, conventions, source.

    `svg` is the graph diagram: a `netspec.report.dot.Diagram`, bare SVG text, or None, in
    which case the page says why, taking the reason from a note that starts with
    "diagram skipped" if any. `convolutionized` is handed to the template partial
    `convolutionized.html.j2` (when that partial exists) as `convolutionized`. Every byte
    figure is for the batch size and element type of `scale` (`--batch`, `--dtype`).
    """
    graph = analysis.graph
    t = analysis.totals
    fields = getattr(analysis, "receptive_fields", None) or receptive_fields(graph)
    files, index = _sources(analysis, source_text, source_name)
    rows = _rows(analysis, fields, index, files)
    drawing = _diagram_context(svg)
    for row in rows:
        if row.kind == "layer":
            row.element = drawing["element_of"].get(row.name, "")
            row.collapsed_element = drawing["collapsed_element_of"].get(row.name, "")

    outputs = []
    for out in graph.outputs:
        rf = fields[out.node]
        local = last_spatial_field(graph, fields, out.node) if rf.covers_whole_input else None
        outputs.append({
            "name": out.name, "node": out.node, "shape": fmt_shape(graph.node(out.node).shape),
            "rf": rf.describe(), "rf_title": _rf_title(rf),
            "local": {"node": local[0], "rf": local[1].describe(), "size": local[1].size, "stride": local[1].stride}
            if local else None,
        })

    diagram_notes = [n for n in notes if n.lower().startswith("diagram skipped")]
    other_notes = [n for n in notes if n not in diagram_notes]
    skipped = None if drawing["svg"] is not None else (diagram_notes[0] if diagram_notes else MISSING_DOT)
    memory = memory_profile(analysis, scale)
    training = {name: analysis.training_memory(scale.batch, scale.dtype, name).peak_bytes for name in OPTIMIZER_STATE}

    context = {
        "name": analysis.name,
        "source_name": source_name,
        "params_set": list(graph.params),
        "input_shape": fmt_shape(analysis.input_shape),
        "outputs": outputs,
        "totals": t,
        "scale": scale,
        "batch_macs": t.macs * scale.batch,
        "param_bytes": scale.weight_bytes(t.params),
        "activation_bytes": scale.activation_bytes(t.activations),
        "input_bytes": scale.activation_bytes(t.input_elements),
        "buffer_bytes": scale.weight_bytes(t.buffers),
        "training": training,
        "rows": rows,
        "layer_count": len(analysis.layers),
        "collapse_by_default": len(analysis.layers) > COLLAPSE_OVER,
        "max_pct": max((r.pct for r in rows if r.kind == "layer"), default=0.0) or 1.0,
        "comparison": _comparison(analysis),
        "charts": {
            "cost": cost_chart(analysis),
            "memory": memory_chart(memory),
            "receptive": receptive_field_chart(analysis, fields),
        },
        "memory": memory,
        "svg": drawing["svg"],
        "collapsed_svg": drawing["collapsed_svg"],
        "repeat_runs": drawing["runs"],
        "legend": families_drawn(analysis),
        "wirings": [
            {**w, "svg": _clean_svg(w["svg"], f"w{k}-") if w["svg"] else None} for k, w in enumerate(wiring_diagrams(graph))
        ],
        "skipped": skipped,
        "notes": other_notes,
        "warnings": _warnings(analysis, index, files),
        "convolutionized": _convolutionized(convolutionized),
        "artefacts": [{"kind": kind, "path": path, "note": note} for kind, path, note in artefacts],
        "page_data": json_for_script({"network": analysis.name, "source": source_name,
                                      "collapse": len(analysis.layers) > COLLAPSE_OVER, "open": initially_open(rows)}),
        "files": [{"index": f.index, "name": f.name, "lines": [_highlight(l) for l in f.lines]} for f in files],
    }
    return environment().get_template("report.html.j2").render(**context)


def json_for_script(value: Any) -> str:
    """JSON that is safe inside a <script> element: no '<', '>' or '&' can end it or open a comment."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026").replace(
        "\u2028", "\\u2028").replace("\u2029", "\\u2029")


__all__ = ["render_report", "human", "exact", "megabytes"]
