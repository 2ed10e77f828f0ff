"""The HTML report and the DOT diagram: exact totals, inline SVG when `dot` exists, a clear message when not."""
from __future__ import annotations

import re
from html import unescape as html_unescape
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

import netspec
from netspec.report import dot as dot_module
from netspec.report.dot import MISSING_DOT, describe_attrs, diagram, graph_to_dot, render_svg
from netspec.report.html import exact, human, megabytes, render_report
from tests.sample_specs import BOTTLENECK

SPEC = (
    "# a small residual network\n"
    "network tiny(classes = 10)\n"
    "input 3x32x32\n\n"
    + BOTTLENECK
    + "\nconv 16 3x3 pad=1; relu\n"
    "bottleneck(8) as stage1\n"
    "bottleneck(16, 2) as stage2\n"
    "global_avgpool\n"
    "flatten\n"
    "linear classes\n"
)

NO_DOT = shutil.which("dot") is None


@pytest.fixture(scope="module")
def analysis():
    return netspec.analyze(SPEC)


def report(analysis, svg="auto", notes=()):
    if svg == "auto":
        svg, why = diagram(analysis)
        notes = list(notes) + ([why] if why else [])
    return render_report(analysis, SPEC, "specs/tiny.net", svg, list(notes))


class _Collector(HTMLParser):
    def __init__(self):
        super().__init__()
        self.ids: set[str] = set()
        self.hrefs: list[str] = []
        self.srcs: list[str] = []
        self.tags: set[str] = set()

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        for key, value in attrs:
            if key == "id" and value:
                self.ids.add(value)
            if key in ("href", "xlink:href") and value:
                self.hrefs.append(value)
            if key == "src" and value:
                self.srcs.append(value)


def parse(html: str) -> _Collector:
    collector = _Collector()
    collector.feed(html)
    return collector


# ---- formatting helpers --------------------------------------------------------------------


def test_number_formatting():
    assert exact(4089184256) == "4,089,184,256"
    assert human(4089184256) == "4.09 G"
    assert human(25557032) == "25.56 M"
    assert human(942) == "942"
    assert megabytes(150_247_328) == "150.25 MB"
    assert megabytes(43_016) == "43.0 kB"


# ---- the report -----------------------------------------------------------------------------


def test_report_states_the_totals_exactly(analysis):
    html = report(analysis)
    t = analysis.totals
    for value in (t.params, t.macs, t.flops, t.buffers, t.elementwise, t.activations):
        assert f"{value:,}" in html, value
    assert t.flops == 2 * t.macs
    assert "FLOPs = 2 × MACs" in html
    assert human(t.params) in html and human(t.macs) in html


def test_report_has_a_row_per_layer_linked_to_its_source_line(analysis):
    html = report(analysis)
    page = parse(html)
    for cost in analysis.layers:
        assert f'title="{cost.name}"' in html, cost.name
    # every in-page link lands on an element of the page
    internal = [h[1:] for h in page.hrefs if h.startswith("#")]
    assert internal and all(target in page.ids for target in internal)
    # the source is shown with one anchor per line
    lines = SPEC.splitlines()
    assert all(f"src0-L{n}" in page.ids for n in range(1, len(lines) + 1))
    # the stage2 bottleneck's strided 3x3 conv links to line 8 of the spec
    row = re.search(r'title="stage2\.conv2".*?</tr>', html, re.S).group(0)
    assert 'href="#src0-L8"' in row


def test_report_receptive_fields(analysis):
    html = report(analysis)
    # stem 3; stage1: 1x1, 3x3 (+2) → 5; stage2: 3x3 stride 2 (+2) → 7, then pooled to global
    row = re.search(r'title="stage2\.conv2".*?</tr>', html, re.S).group(0)
    assert ">7<" in row
    assert "the whole input" in html  # the output after global pooling


def test_report_explains_the_conventions(analysis):
    html = report(analysis)
    for phrase in ("torchinfo", "fvcore", "ptflops", "bias adds", "batchnorm", "residual"):
        assert phrase in html


@pytest.mark.skipif(NO_DOT, reason="graphviz 'dot' is not installed")
def test_report_inlines_the_svg_diagram(analysis):
    html = report(analysis)
    assert "<svg" in html and "</svg>" in html
    assert "diagram skipped" not in html
    assert "<?xml" not in html and "<!DOCTYPE svg" not in html


def test_report_without_dot_says_the_diagram_was_skipped(analysis, monkeypatch):
    monkeypatch.setattr(dot_module.shutil, "which", lambda name, *a, **k: None)
    assert render_svg(graph_to_dot(analysis)) is None
    svg, why = diagram(analysis)
    assert svg is None and why == MISSING_DOT
    html = report(analysis)
    assert 'class="diagram"' not in html and 'class="node"' not in html
    assert "diagram skipped" in html and "apt-get install graphviz" in html
    assert f"{analysis.totals.macs:,}" in html


def test_report_without_dot_on_path(analysis, monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    assert render_svg("digraph { a -> b }") is None
    html = report(analysis)
    assert "diagram skipped" in html


def test_report_package_entry_point_without_dot(analysis, monkeypatch):
    """netspec.report.write_report_text passes its own note; the page shows it."""
    from netspec import report as report_package

    monkeypatch.setattr(dot_module.shutil, "which", lambda name, *a, **k: None)
    html, notes = report_package.write_report_text(analysis, SPEC, "specs/tiny.net")
    assert notes and 'class="diagram"' not in html
    assert notes[0] in html_unescape(html)


def test_report_has_no_external_resources(analysis):
    html = report(analysis)
    page = parse(html)
    assert not page.srcs  # the page's scripts are inline
    assert not {"link", "iframe", "img"} & page.tags
    for href in page.hrefs:
        assert href.startswith("#"), href
    assert not re.search(r"""url\(\s*['"]?(https?:)?//""", html)
    assert "@import" not in html
    assert not re.search(r"https?://", html)


def test_report_shows_notes_and_escapes_source(analysis):
    html = render_report(analysis, SPEC + "# <script>alert(1)</script>\n", "x.net", None, ["something to know"])
    assert "something to know" in html
    assert "<script>alert" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert html.count("<script") == 2  # the page's own data and code, nothing from the spec


def test_report_for_imported_blocks_lists_every_source_file():
    spec = Path(__file__).resolve().parents[1] / "specs" / "resnet50.net"
    analysis = netspec.analyze(spec)
    html = render_report(analysis, spec.read_text(), "specs/resnet50.net", None, [])
    page = parse(html)
    assert "src1-L1" in page.ids  # the imported block file is shown too
    internal = [h[1:] for h in page.hrefs if h.startswith("#")]
    assert all(target in page.ids for target in internal)
    assert "25,557,032" in html and "4,089,184,256" in html
    assert ">427<" in html  # torchvision ResNet-50's last stage (see test_receptive_field)


def test_report_does_not_import_torch():
    code = (
        "import sys, netspec\n"
        "from netspec.report.html import render_report\n"
        "from netspec.report.dot import diagram\n"
        f"a = netspec.analyze({SPEC!r})\n"
        "svg, why = diagram(a)\n"
        "render_report(a, '', 'x.net', svg, [why] if why else [])\n"
        "assert 'torch' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# ---- DOT ------------------------------------------------------------------------------------


def test_dot_source_has_clusters_labels_and_shapes(analysis):
    src = graph_to_dot(analysis)
    assert src.startswith('digraph "tiny"')
    assert src.count("subgraph cluster_") >= 3  # stage1, stage2, stage2's shortcut
    assert "stage2 · bottleneck" in src
    assert "16×16×16" in src  # stage2's output shape
    assert '"stage2.add"' in src and "-> \"stage2.add\" [label=" in src  # merges carry shapes
    assert "+ relu" in src  # conv → batchnorm → relu drawn as one box


def test_dot_unfolded_has_one_box_per_node(analysis):
    src = graph_to_dot(analysis, fold=False)
    for node in analysis.graph.nodes:
        assert f'"{node.name}" [label=' in src


def test_describe_attrs(analysis):
    node = analysis.graph.node("stage2.conv2")
    assert describe_attrs(node) == "16, 3, s2, p1, bias=false" or describe_attrs(node) == "16, 3×3, s2, p1, bias=false"


@pytest.mark.skipif(NO_DOT, reason="graphviz 'dot' is not installed")
def test_dot_renders(analysis):
    svg = render_svg(graph_to_dot(analysis))
    assert svg is not None and svg.startswith("<svg") and "stage2" in svg


# ---- the comparison table against measured figures -------------------------------------------

REFERENCE = Path(__file__).resolve().parent / "reference" / "torch_tools_counts.json"  # see reference/README.md
SPECS = Path(__file__).resolve().parents[1] / "specs"


def _reference_specs() -> list[str]:
    import json

    if not REFERENCE.is_file():
        return []
    names = set(json.loads(REFERENCE.read_text()))
    return sorted(p.stem for p in SPECS.glob("*.net") if p.stem in names)


# the tools whose convention holds for torchvision's networks too (they call F.relu and pooling
# functionals, which ptflops' pytorch backend and thop count differently from modules: test_explain.py)
MODULE_INDEPENDENT = ("products_conv_linear", "torch_flop_counter_flops", "torchinfo_mult_adds", "fvcore")


@pytest.mark.parametrize("name", _reference_specs())
def test_derived_tool_figures_equal_the_measured_ones(name):
    """torchinfo / fvcore / flop_counter / torchvision figures in the report equal the measured ones."""
    from netspec.report.html import _comparison

    import json

    analysis = netspec.analyze(SPECS / f"{name}.net")
    rows = {row["key"]: row["predicted"] for row in _comparison(analysis)["rows"] if row["key"]}
    measured = json.loads(REFERENCE.read_text())[name]
    assert measured["params"] == analysis.totals.params
    assert {key: rows[key] for key in MODULE_INDEPENDENT} == {key: measured[key] for key in MODULE_INDEPENDENT}


SUMMARY_TOOL_LINE = re.compile(r"^(.+?)\s{2,}([\d,]+) (MACs|FLOPs)(?: \(approx\.\))?\s+([+-][\d.]+%)\s+(.+)$")


@pytest.mark.parametrize("name", ["resnet50", "vgg16", "googlenet", "densenet121"])
def test_report_and_summary_explain_give_the_same_figures(name, capsys):
    """The report's comparison and `summary --explain` come from one place, so they agree row by row."""
    import html as html_module

    from netspec.cli import main

    path = SPECS / f"{name}.net"
    assert main(["summary", str(path), "--explain"]) == 0
    text = capsys.readouterr().out.split("What other tools would report")[1]
    printed = [SUMMARY_TOOL_LINE.match(line).groups() for line in text.splitlines()[2:] if SUMMARY_TOOL_LINE.match(line)]
    page = render_report(netspec.analyze(path), path.read_text(), str(path), None, [])
    shown = [
        tuple(html_module.unescape(cell.strip()) for cell in cells)
        for cells in re.findall(r'<tr data-key="[\w_]+" data-value="\d+"><td>(.*?)</td><td class="why">(.*?)</td>\s*'
                                r'<td class="num">([\d,]+) (MACs|FLOPs).*?</td>\s*<td class="num">(.*?)</td>', page, re.S)
    ]
    assert len(printed) == len(shown) == 8
    assert [(tool, value, unit, pct, why) for tool, value, unit, pct, why in printed] == \
        [(tool, value, unit, pct, why) for tool, why, value, unit, pct in shown]


def test_source_listing_numbers_lines_as_the_parser_does(tmp_path):
    """A U+2028 in a comment is not a line break for the parser, so it is none in the listing:
    the row a layer links to holds that layer's statement."""
    from netspec.report import write_report_text

    spec = tmp_path / "sep.net"
    spec.write_text("network sep\ninput 3x8x8\n# a comment\u2028still the comment\nconv 4 3x3 as c\nrelu\n", encoding="utf-8")
    analysis = netspec.analyze(spec)
    line = analysis.graph.node("c").span.line
    assert line == 4
    page, _ = write_report_text(analysis, spec.read_text(encoding="utf-8"), str(spec))
    row = re.search(rf'<tr id="src0-L{line}">.*?</tr>', page).group(0)
    assert "conv 4 3x3 as c" in row
