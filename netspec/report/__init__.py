"""Report backend: the HTML page (jinja2) with its graph diagram (graphviz), for one analysed spec."""
from __future__ import annotations

from netspec.analysis import Analysis

DOT_MISSING = "diagram skipped: graphviz's 'dot' program was not found (install it, e.g. apt-get install graphviz)"


def write_report_text(analysis: Analysis, source_text: str, source_name: str) -> tuple[str, list[str]]:
    """The report's HTML and the notes to tell the user (such as a skipped diagram)."""
    from netspec.report.dot import graph_to_dot, render_svg
    from netspec.report.html import render_report

    notes: list[str] = []
    svg = render_svg(graph_to_dot(analysis))
    if svg is None:
        notes.append(DOT_MISSING)
    return render_report(analysis, source_text, source_name, svg, notes), notes
