"""The report's charts, warnings, table navigation data and diagram layout (without a browser), and escaping."""
from __future__ import annotations

import json
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest

import netspec
from netspec.analysis.borders import border_losses
from netspec.report import write_report_text
from netspec.report.dot import layout, render_diagram, render_svg
from netspec.report.figures import block_bars, memory_profile
from netspec.report.html import json_for_script, render_report
from tests.sample_specs import INCEPTION

SPECS = Path(__file__).resolve().parents[1] / "specs"
NO_DOT = shutil.which("dot") is None


def build_page(spec_path: Path) -> str:
    analysis = netspec.analyze(spec_path)
    html, _ = write_report_text(analysis, spec_path.read_text(), str(spec_path))
    return html


# ---- warnings ----------------------------------------------------------------------------------------


def test_border_loss_by_hand():
    # 7x7 stride 2 without padding on 224: (224 - 7) // 2 + 1 = 109 windows; the last ends at
    # 108 * 2 + 7 = 223, so row and column 224 are never read.
    # 1x1 stride 2 on 56 reads 0, 2, ..., 54: every odd pixel is skipped, the last one no more than the others.
    # 3x3 stride 2 pad 1 on 55: (55 + 2 - 3) // 2 + 1 = 28 windows, the last covers padded 54..56,
    # input 53..55 (the last one is padding): nothing lost.
    # 3x3 stride 2 on 28: (28 - 3) // 2 + 1 = 13 windows, the last ends at 12 * 2 + 3 = 27: one lost.
    analysis = netspec.analyze(
        "network n\ninput 3x224x224\nconv 8 7x7 stride=2\nconv 8 1x1 stride=2\n"
        "conv 8 3x3 stride=2 pad=1\nmaxpool 3x3 stride=2\n"
    )
    losses = {loss.node: loss.lost for loss in border_losses(analysis.graph)}
    assert [n.shape[1:] for n in analysis.graph.layers()] == [(109, 109), (55, 55), (28, 28), (13, 13)]
    assert losses == {"conv1": (1, 1), "maxpool": (1, 1)}


def test_border_loss_in_the_warnings_box_with_dropped_values():
    spec = (
        "network n\ninput 3x33x32\n"
        "unused = conv 4 1x1\n"  # never reaches the output
        "conv 8 3x3 stride=2\n"
        "flatten\nlinear 2\n"
    )
    analysis = netspec.analyze(spec)
    html = render_report(analysis, spec, "n.net", None, [])
    box = re.search(r'<div class="warnings".*?</div>', html, re.S).group(0)
    assert "2 warnings" in box
    assert "never reaches an output" in box
    # height 33: 16 windows end at 15*2 + 3 = 33, nothing lost; width 32: the same 16 windows leave column 32 unread
    assert "never reads the last 1 column of its 3x33x32 input" in box
    assert 'href="#layer-conv"' in box


# ---- charts -------------------------------------------------------------------------------------------


def test_block_bars_are_the_stages_and_add_up():
    analysis = netspec.analyze(SPECS / "resnet50.net")
    bars = block_bars(analysis)
    labels = [b.label for b in bars]
    assert [label for label in labels if label.startswith("layer")] == ["layer1", "layer2", "layer3", "layer4"]
    assert sum(b.macs for b in bars) == analysis.totals.macs
    assert sum(b.params for b in bars) == analysis.totals.params
    # the classifier: 2048 × 1000 weights + 1000 biases, 2048 × 1000 MACs
    fc = bars[-1]
    assert (fc.params, fc.macs) == (2048 * 1000 + 1000, 2048 * 1000)


def test_a_dominant_block_is_split_into_its_parts():
    # lenet5: two conv stages and three linear layers at the top level.
    analysis = netspec.analyze(SPECS / "lenet5.net")
    bars = {b.label: b for b in block_bars(analysis)}
    assert bars["stage1"].macs == 6 * 24 * 24 * 1 * 5 * 5  # conv 6 5x5 on 1x28x28
    assert bars["stage2"].macs == 16 * 8 * 8 * 6 * 5 * 5
    assert bars["fc1"].params == 256 * 120 + 120


def test_memory_profile_marks_the_inference_peak():
    from netspec.analysis.memory import inference_memory

    analysis = netspec.analyze(SPECS / "vgg16.net")
    profile = memory_profile(analysis)
    largest = 64 * 224 * 224 * 4  # VGG-16's largest activations: the first stage's 64x224x224 outputs, float32
    assert profile.peak_bytes == inference_memory(analysis.graph).peak_bytes
    assert profile.peak_bytes >= largest + 3 * 224 * 224 * 4  # at least that output and the input
    assert len(profile.points) == len(analysis.layers) + 1  # the input first
    assert profile.points[profile.peak].name.startswith("features")


def test_report_has_the_three_charts():
    html = build_page(SPECS / "resnet18.net")
    assert html.count('<svg class="chart') == 3
    assert "inference peak" in html and "Receptive field along the depth" in html
    assert 'data-target="scope-layer1"' in html


# ---- table navigation data -----------------------------------------------------------------------------


class Rows(HTMLParser):
    def __init__(self):
        super().__init__()
        self.rows: list[dict] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if attrs.get("id"):
            self.ids.add(attrs["id"])
        if tag == "tr" and attrs.get("class", "").split()[:1] in (["scope"], ["layer"]):
            self.rows.append(attrs)


def page_data(html: str) -> dict:
    text = re.search(r'<script type="application/json" id="page-data">(.*?)</script>', html, re.S).group(1)
    return json.loads(text)


def test_rows_know_their_block_and_big_tables_start_collapsed():
    html = build_page(SPECS / "resnet50.net")
    parser = Rows()
    parser.feed(html)
    scopes = {r["data-path"] for r in parser.rows if r["class"] == "scope"}
    assert {"layer1", "layer1.bottleneck1", "layer4"} <= scopes or {"layer1", "layer1.0", "layer4"} <= scopes
    for row in parser.rows:
        assert row["data-parent"] == "" or row["data-parent"] in scopes
    assert page_data(html)["collapse"] is True  # 175 layers
    assert page_data(html)["open"] == []  # the stem's layers, four stages and the head: enough rows to start with
    # DenseNet-121 keeps torchvision's `features`: everything but the classifier. Folded, the table would show
    # five rows; `features` starts open instead, showing its blocks.
    assert page_data(build_page(SPECS / "densenet121.net"))["open"] == ["features"]
    assert page_data(build_page(SPECS / "lenet5.net"))["collapse"] is False


@pytest.mark.skipif(NO_DOT, reason="graphviz 'dot' is not installed")
def test_every_layer_row_points_at_a_drawn_node():
    html = build_page(SPECS / "googlenet.net")
    parser = Rows()
    parser.feed(html)
    layers = [r for r in parser.rows if r["class"].startswith("layer")]
    assert layers and all(r["data-el"] in parser.ids for r in layers)


# ---- the diagram ---------------------------------------------------------------------------------------


def node_x(svg: str) -> dict[str, float]:
    """Centre x of every drawn node, from the first text line Graphviz writes inside it."""
    found = {}
    for match in re.finditer(r'<g id="g&#45;([^"]*)" class="node">.*?<text[^>]*? x="([-\d.]+)"', svg, re.S):
        found[match.group(1).replace("&#45;", "-")] = float(match.group(2))
    return found


@pytest.mark.skipif(NO_DOT, reason="graphviz 'dot' is not installed")
def test_branches_are_drawn_left_to_right_in_spec_order():
    spec = "network n\ninput 3x28x28\n" + INCEPTION + "inception(8, 4, 8, 2, 4, 4) as i1\ninception(8, 4, 8, 2, 4, 4) as i2\n"
    analysis = netspec.analyze(spec)
    x = node_x(render_svg(layout(analysis).dot))
    for block in ("i1", "i2"):
        heads = [n.name for n in analysis.graph.nodes if n.name.startswith(block + ".") and n.op in ("conv", "maxpool")
                 and not analysis.graph.node(n.inputs[0]).name.startswith(block + ".")]
        assert len(heads) == 4, heads
        assert [x[h] for h in heads] == sorted(x[h] for h in heads), heads


@pytest.mark.skipif(NO_DOT, reason="graphviz 'dot' is not installed")
def test_googlenet_branch1_is_leftmost():
    analysis = netspec.analyze(SPECS / "googlenet.net")
    x = node_x(render_svg(layout(analysis).dot))
    for module in ("inception3a", "inception4e", "inception5b"):
        branch_x = {b: min(v for k, v in x.items() if k.startswith(f"{module}.{b}.")) for b in
                    ("branch1", "branch2", "branch3", "branch4")}
        assert sorted(branch_x, key=branch_x.get) == ["branch1", "branch2", "branch3", "branch4"], module


def test_identical_consecutive_blocks_collapse_into_one_node():
    # ResNet-50 has [3, 4, 6, 3] bottlenecks per stage (He et al., 2016, table 1); the first of each
    # stage projects its shortcut, the others are identical to each other.
    analysis = netspec.analyze(SPECS / "resnet50.net")
    drawing = layout(analysis, collapse_repeats=True, id_prefix="c-")
    assert drawing.collapsed_runs == 4
    assert re.findall(r"</B> ×(\d+)", drawing.dot) == ["2", "3", "5", "2"]
    full = layout(analysis)
    assert full.collapsed_runs == 0 and "box3d" not in full.dot
    # every layer of a collapsed block points at its run's node; the others at their own box
    hidden = {name for name, element in drawing.element_of.items() if element.startswith("c-layer3")
              and not name.startswith(element[2:])}
    assert hidden and all(n.startswith("layer3.") for n in hidden)


def test_blocks_that_differ_are_not_collapsed():
    # DenseNet's layers inside a dense block see growing inputs: no two are identical.
    analysis = netspec.analyze(SPECS / "densenet121.net")
    assert layout(analysis, collapse_repeats=True).collapsed_runs == 0


@pytest.mark.skipif(NO_DOT, reason="graphviz 'dot' is not installed")
def test_report_offers_the_collapsed_diagram_with_a_legend():
    analysis = netspec.analyze(SPECS / "resnet50.net")
    drawn, reason = render_diagram(analysis)
    assert reason is None and drawn.collapsed_svg
    html = render_report(analysis, "", "r.net", drawn, [])
    assert 'id="diagram-full"' in html and 'id="diagram-collapsed"' in html
    assert 'id="collapse-repeats" checked' in html
    legend = re.search(r'<div class="legend">.*?</div>', html, re.S).group(0)
    for family in ("convolution", "linear", "pooling", "merge", "normalization", "input", "output", "×N"):
        assert family in legend
    ids = re.findall(r'\bid="([^"]+)"', html)
    assert len(ids) == len(set(ids)), "element ids must be unique across both diagrams"


# ---- escaping -------------------------------------------------------------------------------------------

HOSTILE = '</script><script>alert("x")</script> \' " & <b>'


def test_spec_text_is_escaped_everywhere(tmp_path):
    imported = tmp_path / "<b>&'x.net"
    imported.write_text(f"# {HOSTILE}\nblock unit(c):  # {HOSTILE}\n    conv c 3x3 pad=1  # {HOSTILE}\n    relu\n")
    spec = tmp_path / "main.net"
    spec.write_text(
        f"# {HOSTILE}\n"
        f'import "<b>&\'x.net"  # {HOSTILE}\n'
        "network hostile(classes = 3)  # </script>\n"
        "input 3x16x16\n"
        f"unit(4) as first  # {HOSTILE}\n"
        "flatten\n"
        f"linear classes  # {HOSTILE}\n"
    )
    analysis = netspec.analyze(spec)
    html, _ = write_report_text(analysis, spec.read_text(), f"{tmp_path}/<i>'\"main.net")
    # the only script elements are the page's own two
    assert html.count("<script") == 2 and html.count("</script>") == 2
    assert "<b>" not in html.replace("<B>", "") and "<i>" not in html
    assert "&lt;/script&gt;&lt;script&gt;alert(&quot;x&quot;)" in html or "&lt;/script&gt;&lt;script&gt;alert(&#34;x&#34;)" in html
    # tooltips: a title attribute never ends early
    for title in re.findall(r'title="([^"]*)"', html):
        assert "<" not in title
    # the inline JSON parses back to the exact names
    data = page_data(html)
    assert data["source"] == f"{tmp_path}/<i>'\"main.net"
    assert "</" not in re.search(r'id="page-data">(.*?)</script>', html, re.S).group(1)


def test_json_for_script_cannot_close_the_element():
    text = json_for_script({"a": "</script><!-- & \u2028"})
    assert "<" not in text and ">" not in text and "&" not in text and "\u2028" not in text
    assert json.loads(text) == {"a": "</script><!-- & \u2028"}
