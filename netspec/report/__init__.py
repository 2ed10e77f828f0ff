"""Report backend: the HTML page (jinja2) with its graph diagram (graphviz), for one analysed spec."""
from __future__ import annotations

from netspec.analysis import Analysis
from netspec.analysis.memory import MemoryScale


def write_report_text(
    analysis: Analysis, source_text: str, source_name: str, convolutionized=None, artefacts=(),
    scale: MemoryScale = MemoryScale(),
) -> tuple[str, list[str]]:
    """The report's HTML and the notes to tell the user (such as why the diagram was skipped).

    `convolutionized` (a netspec.compiler.convolutionize_analysis.Convolutionized) adds the
    section on the fully convolutional variant; `artefacts` lists the build's other files as
    (kind, path, note), shown in the summary; `scale` is the batch and element type of
    every byte figure."""
    from netspec.report.dot import render_diagram
    from netspec.report.html import render_report

    drawn, reason = render_diagram(analysis)
    notes = [reason] if reason else []
    return render_report(analysis, source_text, source_name, drawn, notes, convolutionized, artefacts=artefacts,
                         scale=scale), notes
