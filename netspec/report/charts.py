"""Inline SVG charts for the reports (cost bars, profiles along the depth, the comparison bubble chart); text escaped."""
from __future__ import annotations

import math
from dataclasses import dataclass
from html import escape
from typing import Callable, Sequence

from netspec.report.numbers import human, megabytes

INK, MUTED, GRID = "#1f2933", "#616e7c", "#e4e7eb"
MACS_COLOR, PARAMS_COLOR, MEMORY_COLOR, RF_COLOR, PEAK_COLOR = "#5b8dc9", "#8e6cc2", "#3f9b74", "#d07a2b", "#b03a2e"
FONT = 'font-family="-apple-system, Segoe UI, Roboto, Helvetica, Arial, sans-serif"'


def _text(x: float, y: float, text: str, size: int = 11, anchor: str = "start", color: str = INK, extra: str = "") -> str:
    return (f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" fill="{color}"{extra}>'
            f"{escape(text)}</text>")


def _svg(width: int, height: int, body: list[str], label: str, css_class: str) -> str:
    return (f'<svg class="chart {css_class}" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
            f'role="img" aria-label="{escape(label)}" {FONT}>' + "".join(body) + "</svg>")


def _nice_ticks(top: float, count: int = 4) -> list[float]:
    """Round tick values from 0 up to at least `top`."""
    if top <= 0:
        return [0.0, 1.0]
    raw = top / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    return [step * i for i in range(int(math.ceil(top / step - 1e-9)) + 1)]


# ---- MACs and parameters per block ---------------------------------------------------------------


@dataclass(frozen=True)
class Bar:
    """One block (or top-level layer) in the cost chart."""

    label: str
    detail: str  # the block definition's name, or the op
    macs: int
    params: int
    target: str  # the table row it stands for (element id)


def cost_bars(bars: Sequence[Bar], total_macs: int, total_params: int) -> str:
    """Two aligned horizontal bar panels, MACs and parameters, one row per block."""
    label_w, panel_w, gap, row_h, top = 220, 300, 110, 20, 34
    width = label_w + 2 * (panel_w + gap)
    height = top + row_h * len(bars) + 8
    max_macs = max((b.macs for b in bars), default=0) or 1
    max_params = max((b.params for b in bars), default=0) or 1
    body = [
        _text(label_w, 14, "MACs (multiply-accumulates)", 12, color=INK, extra=' font-weight="600"'),
        _text(label_w + panel_w + gap, 14, "Parameters", 12, color=INK, extra=' font-weight="600"'),
    ]
    for i, bar in enumerate(bars):
        y = top + i * row_h
        body.append(f'<g class="bar-row" data-target="{escape(bar.target)}">')
        body.append(f"<title>{escape(bar.label)} ({escape(bar.detail)}): {bar.macs:,} MACs "
                    f"({100 * bar.macs / (total_macs or 1):.1f}%), {bar.params:,} parameters "
                    f"({100 * bar.params / (total_params or 1):.1f}%)</title>")
        if i % 2 == 0:
            body.append(f'<rect x="0" y="{y - 3}" width="{width}" height="{row_h}" fill="#f7f8fa"/>')
        label = bar.label if len(bar.label) <= 30 else bar.label[:29] + "…"
        body.append(_text(label_w - 8, y + 11, label, 11, "end"))
        for x0, value, scale, color, total in (
            (label_w, bar.macs, max_macs, MACS_COLOR, total_macs),
            (label_w + panel_w + gap, bar.params, max_params, PARAMS_COLOR, total_params),
        ):
            w = panel_w * value / scale
            if value:
                body.append(f'<rect x="{x0}" y="{y + 2}" width="{max(w, 1):.1f}" height="{row_h - 7}" rx="2" fill="{color}"/>')
            share = f" · {100 * value / total:.0f}%" if total and value else ""
            body.append(_text(x0 + w + 5, y + 11, (human(value) if value else "0") + share, 10, color=MUTED))
        body.append("</g>")
    return _svg(width, height, body, "MACs and parameters per block", "bars")


# ---- a quantity along the depth --------------------------------------------------------------------


@dataclass(frozen=True)
class Point:
    """One layer in execution order."""

    name: str
    value: float
    target: str


def depth_profile(
    points: Sequence[Point],
    *,
    title: str,
    describe: Callable[[float], str],
    color: str,
    mark: int | None = None,
    mark_label: str = "",
    reference: float | None = None,
    reference_label: str = "",
    shade_from: int | None = None,
    shade_label: str = "",
) -> str:
    """Columns per layer along the execution order, with an optional marked layer and a horizontal reference line."""
    width, height, left, right, top, bottom = 960, 230, 70, 16, 26, 34
    plot_w, plot_h = width - left - right, height - top - bottom
    n = max(len(points), 1)
    top_value = max([p.value for p in points] + [reference or 0]) * 1.08 or 1
    ticks = _nice_ticks(top_value)
    top_value = ticks[-1]

    def y_of(v: float) -> float:
        return top + plot_h * (1 - v / top_value)

    step = plot_w / n
    body = [_text(left, 15, title, 12, extra=' font-weight="600"')]
    if shade_from is not None and shade_from < n:
        x = left + shade_from * step
        body.append(f'<rect x="{x:.1f}" y="{top}" width="{left + plot_w - x:.1f}" height="{plot_h}" fill="#eef3f8"/>')
        body.append(_text(left + plot_w - 4, top + 12, shade_label, 10, "end", MUTED))
    for t in ticks:
        y = y_of(t)
        body.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{y:.1f}" y2="{y:.1f}" stroke="{GRID}"/>')
        body.append(_text(left - 6, y + 4, describe(t), 10, "end", MUTED))
    for i, p in enumerate(points):
        x, y = left + i * step, y_of(p.value)
        fill = PEAK_COLOR if i == mark else color
        body.append(f'<rect class="col" data-target="{escape(p.target)}" x="{x:.2f}" y="{y:.1f}" '
                    f'width="{max(step - (1 if step > 3 else 0), 0.6):.2f}" height="{top + plot_h - y:.1f}" fill="{fill}">'
                    f"<title>{escape(p.name)}: {escape(describe(p.value))}</title></rect>")
    if reference is not None:
        y = y_of(reference)
        body.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{y:.1f}" y2="{y:.1f}" stroke="{INK}" stroke-dasharray="5 4"/>')
        body.append(_text(left + 6, y - 5, reference_label, 10, color=INK))
    if mark is not None and 0 <= mark < len(points):
        p = points[mark]
        x, y = left + (mark + 0.5) * step, y_of(p.value)
        anchor = "end" if mark > n * 0.6 else "start"
        dx = -8 if anchor == "end" else 8
        body.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="none" stroke="{PEAK_COLOR}" stroke-width="2"/>')
        body.append(_text(x + dx, max(y - 6, top + 10), f"{mark_label}: {describe(p.value)} at {p.name}", 11,
                          anchor, PEAK_COLOR, ' font-weight="600"'))
    body.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{top + plot_h}" y2="{top + plot_h}" stroke="{MUTED}"/>')
    body.append(_text(left, height - 12, "input", 10, color=MUTED))
    body.append(_text(left + plot_w / 2, height - 12, f"layers in execution order ({len(points)})", 10, "middle", MUTED))
    body.append(_text(left + plot_w, height - 12, "output", 10, "end", MUTED))
    return _svg(width, height, body, title, "profile")


# ---- the comparison chart (Canziani, Paszke & Culurciello, 2016) -------------------------------------


@dataclass(frozen=True)
class Bubble:
    """One network on the index page's chart."""

    name: str
    macs: int
    params: int
    memory: int  # bytes; the bubble's area is proportional to it
    href: str


def _log_range(values: Sequence[float]) -> tuple[float, float, list[float]]:
    """A log10 axis a little wider than the data, with ticks at 1, 2 and 5 times the powers of ten inside it."""
    low, high = math.log10(min(values)) - 0.2, math.log10(max(values)) + 0.2
    if high - low < 1:
        middle = (low + high) / 2
        low, high = middle - 0.5, middle + 0.5
    ticks = [m * 10.0**e for e in range(math.floor(low), math.ceil(high) + 1) for m in (1, 2, 5)]
    ticks = [t for t in ticks if low <= math.log10(t) <= high]
    if high - low > 3:
        ticks = [t for t in ticks if str(t).startswith("1")]
    return low, high, ticks


def _tick(value: float) -> str:
    """1000000 → '1 M', 2e10 → '20 G'."""
    for scale, unit in ((10**12, "T"), (10**9, "G"), (10**6, "M"), (10**3, "k")):
        if value >= scale:
            return f"{value / scale:g} {unit}"
    return f"{value:g}"


def bubble_chart(bubbles: Sequence[Bubble], memory_label: str) -> str:
    """MACs (x) against parameters (y), both on log scales; one labelled bubble per network, area ∝ memory."""
    width, height, left, right, top, bottom = 960, 520, 80, 30, 30, 50
    plot_w, plot_h = width - left - right, height - top - bottom
    usable = [b for b in bubbles if b.macs > 0 and b.params > 0]
    body = [_text(left, 16, f"MACs against parameters; bubble area ∝ {memory_label}", 12, extra=' font-weight="600"')]
    if not usable:
        body.append(_text(left, top + 30, "no network with both MACs and parameters to plot", 11, color=MUTED))
        return _svg(width, height, body, "comparison chart", "bubbles")
    lx0, lx1, x_ticks = _log_range([b.macs for b in usable])
    ly0, ly1, y_ticks = _log_range([b.params for b in usable])

    def x_of(v: float) -> float:
        return left + plot_w * (math.log10(v) - lx0) / (lx1 - lx0)

    def y_of(v: float) -> float:
        return top + plot_h * (1 - (math.log10(v) - ly0) / (ly1 - ly0))

    for t in x_ticks:
        x = x_of(t)
        body.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top}" y2="{top + plot_h}" stroke="{GRID}"/>')
        body.append(_text(x, top + plot_h + 16, _tick(t), 10, "middle", MUTED))
    for t in y_ticks:
        y = y_of(t)
        body.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{y:.1f}" y2="{y:.1f}" stroke="{GRID}"/>')
        body.append(_text(left - 6, y + 4, _tick(t), 10, "end", MUTED))
    body.append(_text(left + plot_w / 2, height - 10, "MACs per sample (log scale)", 11, "middle", MUTED))
    body.append(_text(16, top + plot_h / 2, "parameters (log scale)", 11, "middle", MUTED,
                      f' transform="rotate(-90 16 {top + plot_h / 2:.1f})"'))
    biggest = max(b.memory for b in usable) or 1
    # largest first, so that small bubbles stay on top and clickable
    for b in sorted(usable, key=lambda b: -b.memory):
        x, y = x_of(b.macs), y_of(b.params)
        radius = max(3.0, 28.0 * math.sqrt(max(b.memory, 0) / biggest))
        body.append(f'<a class="bubble" href="{escape(b.href)}"><circle cx="{x:.1f}" cy="{y:.1f}" r="{radius:.1f}" '
                    f'fill="{MACS_COLOR}" fill-opacity="0.35" stroke="{MACS_COLOR}" stroke-width="1.2">'
                    f"<title>{escape(b.name)}: {b.macs:,} MACs, {b.params:,} parameters, "
                    f"{escape(megabytes(b.memory))} {escape(memory_label)}</title></circle></a>")
    placed: list[tuple[float, float, float, float]] = []
    for b in sorted(usable, key=lambda b: (-b.params, b.name)):
        x, y = x_of(b.macs), y_of(b.params)
        w = 6.4 * len(b.name) + 4
        for dx, dy, anchor in ((6, -6, "start"), (6, 14, "start"), (-6, -6, "end"), (-6, 14, "end"),
                               (6, -20, "start"), (6, 28, "start"), (-6, -20, "end"), (-6, 28, "end")):
            x0 = x + dx if anchor == "start" else x + dx - w
            box = (x0, y + dy - 11, x0 + w, y + dy + 2)
            if not any(box[0] < o[2] and o[0] < box[2] and box[1] < o[3] and o[1] < box[3] for o in placed):
                break
        placed.append(box)
        body.append(_text(x + dx, y + dy, b.name, 11, anchor, INK, ' class="bubble-label"'))
    return _svg(width, height, body, "MACs against parameters", "bubbles")


__all__ = ["Bar", "cost_bars", "Point", "depth_profile", "Bubble", "bubble_chart", "MEMORY_COLOR", "RF_COLOR"]
