"""Analysis → one self-contained HTML page (jinja2 template, inline CSS and SVG, no scripts)."""
from __future__ import annotations

import html as _html
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2

from netspec.analysis.cost import BYTES_PER_ELEMENT
from netspec.analysis.receptive import ReceptiveField, receptive_fields
from netspec.ops.base import numel
from netspec.report.dot import MISSING_DOT, describe_attrs, fmt_shape

TEMPLATES = Path(__file__).parent / "templates"

UNITS = ((10**12, "T"), (10**9, "G"), (10**6, "M"), (10**3, "k"))


# ---- number formatting ---------------------------------------------------------------


def human(n: int | float, digits: int = 2) -> str:
    """4089184256 → '4.09 G'; 61100840 → '61.10 M'; 942 → '942'."""
    for scale, unit in UNITS:
        if abs(n) >= scale:
            return f"{n / scale:.{digits}f} {unit}"
    return f"{n:,}" if isinstance(n, int) else f"{n:g}"


def exact(n: int) -> str:
    return f"{n:,}"


def megabytes(n_bytes: int) -> str:
    """Bytes in decimal units: '150.25 MB', '43.0 kB', '0 B'."""
    if n_bytes >= 10**9:
        return f"{n_bytes / 1e9:,.2f} GB"
    if n_bytes >= 10**6:
        return f"{n_bytes / 1e6:,.2f} MB"
    if n_bytes >= 10**3:
        return f"{n_bytes / 1e3:,.1f} kB"
    return f"{n_bytes} B"


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
    files = [SourceFile(0, source_name, source_text.splitlines())]
    # the graph's own source is the main spec, whatever name it was parsed under ("<spec>" for text)
    index = {analysis.graph.span.source.name: 0, source_name: 0}
    for node in analysis.graph.nodes:
        src = node.span.source
        if src.name not in index:
            index[src.name] = len(files)
            files.append(SourceFile(len(files), src.name, src.text.splitlines()))
    return files, index


def _where(span: Any, index: dict[str, int], files: list[SourceFile]) -> tuple[str, str]:
    """(anchor id, 'file:line') for a span, naming the main spec as the caller does."""
    file_index = index.get(span.source.name, 0)
    return f"src{file_index}-L{span.line}", f"{files[file_index].name}:{span.line}"


def _last_spatial(graph: Any, fields: dict[str, ReceptiveField], name: str) -> tuple[str, ReceptiveField] | None:
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
                    rf_title="the input itself", anchor=anchor, where=where))
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
                                anchor=f_anchor, where=f_where))
        depth = len(node.scope)
        prefix = ".".join(f.name for f in node.scope)
        local = node.name[len(prefix) + 1:] if prefix and node.name.startswith(prefix + ".") else node.name
        rf = fields[node.name]
        anchor, where = _where(node.span, index, files)
        rows.append(Row(
            "layer", depth, node.name, prefix, local, node.op, describe_attrs(node), fmt_shape(node.shape),
            cost.params, cost.macs, 100.0 * cost.macs / total_macs, cost.elementwise,
            rf.describe(), _rf_title(rf), anchor, where, is_output=node.name in outputs,
        ))
    return rows


# ---- how our numbers compare ----------------------------------------------------------


def _tool_counts(analysis: Any) -> dict[str, int]:
    """The quantities the other tools add to our MACs, counted on our own graph."""
    graph = analysis.graph
    bias_adds = bn_channels = bn_elements = adaptive_in = 0
    for node in graph.layers():
        family = getattr(node.opdef, "family", "")
        if family in ("convolution", "linear") and node.attrs.get("bias", False):
            bias_adds += numel(node.shape)
        if node.op == "batchnorm":
            bn_channels += node.shape[0]
            bn_elements += numel(node.shape)
        if node.op in ("adaptive_avgpool", "global_avgpool"):
            adaptive_in += sum(numel(s) for s in graph.input_shapes(node))
    return {"bias_adds": bias_adds, "bn_channels": bn_channels, "bn_elements": bn_elements, "adaptive_in": adaptive_in}


def _reference_counts(analysis: Any) -> tuple[str, dict] | None:
    """Measured figures for the torchvision network of the same name and parameter count, if we have them."""
    # Optional: the figures measured in /work/shared/reference (outside the package); absent → predictions only.
    for path in (Path(__file__).resolve().parents[3] / "shared" / "reference" / "torch_tools_counts.json",):
        if path.is_file():
            try:
                data = json.loads(path.read_text())
            except (OSError, ValueError):
                return None
            entry = data.get(analysis.name)
            if isinstance(entry, dict) and entry.get("params") == analysis.totals.params:
                return analysis.name, entry
            return None
    return None


def _comparison(analysis: Any) -> dict:
    t = analysis.totals
    c = _tool_counts(analysis)
    macs = t.macs
    rows = [
        {"tool": "netspec (this report)", "counts": "multiply-accumulates of conv and linear layers, bias excluded",
         "predicted": macs, "key": None},
        {"tool": "torchvision <code>_ops</code> (GFLOPS in the docs)", "counts": "the same products, in units of 10⁹",
         "predicted": macs, "key": "products_conv_linear"},
        {"tool": "torch.utils.flop_counter", "counts": "FLOPs: exactly 2 × our MACs",
         "predicted": 2 * macs, "key": "torch_flop_counter_flops"},
        {"tool": "torchinfo (Mult-Adds)", "counts": "our MACs + one add per output element of a conv/linear with bias "
         f"({exact(c['bias_adds'])}) + 2 per batchnorm channel ({exact(2 * c['bn_channels'])})",
         "predicted": macs + c["bias_adds"] + 2 * c["bn_channels"], "key": "torchinfo_mult_adds"},
        {"tool": "fvcore", "counts": "our MACs + 2 per batchnorm element "
         f"({exact(2 * c['bn_elements'])}) + the input elements of adaptive average pooling ({exact(c['adaptive_in'])}); "
         "bias adds are not counted",
         "predicted": macs + 2 * c["bn_elements"] + c["adaptive_in"], "key": "fvcore"},
        {"tool": "ptflops", "counts": "also counts ReLU and pooling, and with its default backend counts "
         "<code>nn.ReLU</code>/<code>nn.MaxPool2d</code> twice (its issue #139); "
         "<code>count_functional=False</code> avoids the double count",
         "predicted": None, "key": "ptflops_macs"},
        {"tool": "thop", "counts": "our MACs + 4 per batchnorm element + average-pooling terms",
         "predicted": None, "key": "thop_macs"},
    ]
    reference = _reference_counts(analysis)
    if reference:
        for row in rows:
            row["measured"] = reference[1].get(row["key"]) if row["key"] else None
    return {"rows": rows, "reference": reference[0] if reference else None, "counts": c}


# ---- rendering ------------------------------------------------------------------------------

_env: jinja2.Environment | None = None


def _environment() -> jinja2.Environment:
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


def _clean_svg(svg: str) -> str:
    """Inline-ready SVG: no XML prolog, DOCTYPE, comments or namespace URLs (HTML needs none)."""
    start = svg.find("<svg")
    svg = svg[start:] if start >= 0 else svg
    svg = re.sub(r"<!--.*?-->", "", svg, flags=re.S)
    svg = re.sub(r'\s+xmlns(:xlink)?="[^"]*"', "", svg)
    return svg.strip()


def render_report(analysis: Any, source_text: str, source_name: str, svg: str | None, notes: list[str], convolutionized: Any = None) -> str:
    """The whole report as one HTML string: summary, per-layer table, conventions, diagram, source.

    `svg` is the graph diagram (from `netspec.report.dot.render_svg`) or None, in which case
    the page says why, taking the reason from a note that starts with "diagram skipped" if any.
    """
    graph = analysis.graph
    t = analysis.totals
    fields = getattr(analysis, "receptive_fields", None) or receptive_fields(graph)
    files, index = _sources(analysis, source_text, source_name)
    rows = _rows(analysis, fields, index, files)

    outputs = []
    for out in graph.outputs:
        rf = fields[out.node]
        local = _last_spatial(graph, fields, out.node) if rf.covers_whole_input else None
        outputs.append({
            "name": out.name, "node": out.node, "shape": fmt_shape(graph.node(out.node).shape),
            "rf": rf.describe(), "rf_title": _rf_title(rf),
            "local": {"node": local[0], "rf": local[1].describe(), "size": local[1].size, "stride": local[1].stride}
            if local else None,
        })

    diagram_notes = [n for n in notes if n.lower().startswith("diagram skipped")]
    other_notes = [n for n in notes if n not in diagram_notes]
    skipped = None if svg is not None else (diagram_notes[0] if diagram_notes else MISSING_DOT)

    warnings = [str(getattr(w, "message", w)) for w in getattr(graph, "warnings", ())]

    context = {
        "name": analysis.name,
        "source_name": source_name,
        "params_set": list(graph.params),
        "input_shape": fmt_shape(analysis.input_shape),
        "outputs": outputs,
        "totals": t,
        "bytes_per_element": BYTES_PER_ELEMENT,
        "param_bytes": t.param_bytes,
        "activation_bytes": t.activation_bytes,
        "input_bytes": t.input_elements * BYTES_PER_ELEMENT,
        "buffer_bytes": t.buffers * BYTES_PER_ELEMENT,
        "rows": rows,
        "layer_count": len(analysis.layers),
        "max_pct": max((r.pct for r in rows if r.kind == "layer"), default=0.0) or 1.0,
        "comparison": _comparison(analysis),
        "svg": _clean_svg(svg) if svg is not None else None,
        "skipped": skipped,
        "notes": other_notes,
        "warnings": warnings,
        "files": [{"index": f.index, "name": f.name, "lines": [_highlight(l) for l in f.lines]} for f in files],
    }
    context["convolutionized"] = None
    if convolutionized is not None:
        from netspec.report.convolutionize import convolutionize_context

        context["convolutionized"] = convolutionize_context(convolutionized)
    return _environment().get_template("report.html.j2").render(**context)


__all__ = ["render_report", "human", "exact", "megabytes"]
