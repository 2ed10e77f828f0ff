"""Analysis → the text of `netspec summary`: a table, CSV or Markdown (JSON is `Analysis.as_dict`)."""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from netspec.ops.base import format_shape


@dataclass(frozen=True)
class Row:
    """One line of the summary: a layer, or a block collapsed to one line by --depth."""

    name: str
    op: str
    output: str
    params: int
    macs: int
    rf: str
    live_bytes: int  # the most bytes alive while the layer (or any layer of the block) runs
    layers: int = 1


def rows(analysis, depth: int | None, batch: int = 1, dtype: str = "float32") -> list[Row]:
    """Per-layer rows; with `depth` (≥ 1), the layers nested `depth` blocks deep or more fold into
    one row per block at that depth, with summed costs, like torchinfo's `depth`."""
    fields = analysis.receptive_fields
    live = analysis.inference_memory(batch, dtype).live_bytes
    result: list[Row] = []
    groups: dict[str, int] = {}
    for cost, node in zip(analysis.layers, analysis.graph.layers()):
        row = Row(cost.name, cost.op, format_shape(cost.output_shape), cost.params, cost.macs,
                  fields[cost.name].describe(), live[cost.name])
        if depth is not None and len(node.scope) >= depth:
            frames = node.scope[:depth]
            key = ".".join(f.name for f in frames)
            block = frames[-1].block or "block"
            if key in groups:
                prev = result[groups[key]]
                result[groups[key]] = Row(key, prev.op, row.output, prev.params + row.params, prev.macs + row.macs,
                                          row.rf, max(prev.live_bytes, row.live_bytes), prev.layers + 1)
                continue
            groups[key] = len(result)
            row = Row(key, block, row.output, row.params, row.macs, row.rf, row.live_bytes)
        result.append(row)
    return result


def human_bytes(count: float) -> str:
    for unit, size in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if abs(count) >= size:
            return f"{count / size:.1f} {unit}"
    return f"{int(count)} B"


def human(count: float) -> str:
    for unit, size in (("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if abs(count) >= size:
            return f"{count / size:.2f} {unit}"
    return str(count)


def table(analysis, depth: int | None = None, batch: int = 1, dtype: str = "float32", explain: bool = False) -> str:
    items = rows(analysis, depth, batch, dtype)
    body = [(r.name, r.op, r.output, f"{r.params:,}", f"{r.macs:,}", r.rf) for r in items]
    totals = analysis.totals
    header = ("layer", "op", "output", "params", "MACs", "RF")
    footer = ("total", "", "", f"{totals.params:,}", f"{totals.macs:,}", "")
    widths = [max(len(r[i]) for r in [header, footer, *body]) for i in range(6)]

    def line(row) -> str:
        left = "  ".join(row[i].ljust(widths[i]) for i in range(3))
        right = "  ".join(row[i].rjust(widths[i]) for i in (3, 4, 5))
        return f"{left}  {right}".rstrip()

    rule = "-" * len(line(header))
    out = [f"{analysis.name}: input {format_shape(analysis.input_shape)}", "", line(header), rule]
    out += [line(r) for r in body]
    out += [rule, line(footer), ""]
    from netspec.analysis.memory import MemoryScale

    scale = MemoryScale(batch, dtype)
    per_batch = f"; a batch of {batch}: {human(totals.macs * batch)} MACs" if batch > 1 else ""
    out.append(
        f"MACs = multiply-accumulates of conv and linear layers, per sample ({human(totals.macs)}; "
        f"FLOPs ≈ 2 × MACs = {human(totals.flops)}{per_batch})."
    )
    activations = scale.activation_bytes(totals.activations) / 2**20
    out.append(
        f"Other element-wise ops (bias adds, activations, normalization, merges): {totals.elementwise:,}. "
        f"Buffers: {totals.buffers:,}. Activations: {activations:,.1f} MiB "
        f"{'per sample' if batch == 1 else f'for a batch of {batch}'} ({dtype})."
    )
    out.append("RF = receptive field in input pixels per axis (Araujo et al., 2019); global = the whole input.")
    out += memory_lines(analysis, batch, dtype)
    sizes = analysis.input_sizes
    if sizes is not None:
        out.append(sizes.describe(analysis.input_shape[0]))
    if explain:
        out += ["", *explain_lines(analysis)]
    return "\n".join(out)


def memory_lines(analysis, batch: int, dtype: str) -> list[str]:
    inference = analysis.inference_memory(batch, dtype)
    per = f"batch {batch}, {dtype}"
    trains = [analysis.training_memory(batch, dtype, name) for name in ("sgd", "sgd-momentum", "adam", "adamw")]
    heads = len(analysis.graph.training_only)
    skipped = f"; eval skips the {heads} layers only training-mode outputs need" if heads else ""
    return [
        f"Memory ({per}): weights {human_bytes(inference.param_bytes)} + buffers {human_bytes(inference.buffer_bytes)}; "
        f"inference peak {human_bytes(inference.peak_bytes)} of live tensors at '{inference.peak_layer}' "
        f"(input included; in-place ops and views share storage{skipped}).",
        "Training step (estimate; params + grads + optimizer state + what autograd saves): "
        + ", ".join(f"{t.optimizer} {human_bytes(t.peak_bytes)}" for t in trains) + ".",
    ]


def explain_lines(analysis) -> list[str]:
    from netspec.analysis.explain import TOOL_VERSIONS

    ours = analysis.totals.macs
    figures = analysis.explain()
    header = ("tool", "reports", "vs ours", "why")
    body = []
    for f in figures:
        value = f.value if f.unit == "MACs" else f.value // 2
        diff = f"{(value - ours) / ours * 100:+.3f}%" if ours else "n/a"
        total = f"{f.value:,} {f.unit}" + ("" if f.exact else " (approx.)")
        body.append((f.tool, total, diff, f.reason))
    widths = [max(len(r[i]) for r in [header, *body]) for i in range(3)]
    lines = [
        f"What other tools would report for this network (derived from their conventions, not run; {TOOL_VERSIONS}):",
        f"{header[0].ljust(widths[0])}  {header[1].rjust(widths[1])}  {header[2].rjust(widths[2])}  {header[3]}",
    ]
    lines += [f"{r[0].ljust(widths[0])}  {r[1].rjust(widths[1])}  {r[2].rjust(widths[2])}  {r[3]}" for r in body]
    lines.append(f"Ours: {ours:,} MACs (conv and linear products, bias excluded); FLOPs are compared as 2 × MACs.")
    lines.append("None of them counts residual additions or concatenations.")
    return lines


COLUMNS = ("layer", "op", "output", "params", "macs", "receptive_field", "peak_live_bytes")


def csv_text(analysis, depth: int | None = None, batch: int = 1, dtype: str = "float32") -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    for r in rows(analysis, depth, batch, dtype):
        writer.writerow((r.name, r.op, r.output, r.params, r.macs, r.rf, r.live_bytes))
    writer.writerow(("total", "", "", analysis.totals.params, analysis.totals.macs, "", analysis.inference_memory(batch, dtype).peak_bytes))
    return buffer.getvalue()


def markdown(analysis, depth: int | None = None, batch: int = 1, dtype: str = "float32") -> str:
    def cell(text: str) -> str:
        return text.replace("|", "\\|")

    totals = analysis.totals
    lines = [
        f"**{cell(analysis.name)}** — input {format_shape(analysis.input_shape)}",
        "",
        "| layer | op | output | params | MACs | RF |",
        "|---|---|---|---:|---:|---:|",
    ]
    for r in rows(analysis, depth, batch, dtype):
        lines.append(f"| `{cell(r.name)}` | {cell(r.op)} | {r.output} | {r.params:,} | {r.macs:,} | {cell(r.rf)} |")
    lines.append(f"| **total** | | | **{totals.params:,}** | **{totals.macs:,}** | |")
    lines += ["", f"MACs = multiply-accumulates of conv and linear layers per sample ({human(totals.macs)}; FLOPs ≈ 2 × MACs)."]
    return "\n".join(lines) + "\n"
