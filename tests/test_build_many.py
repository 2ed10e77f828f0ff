"""`netspec build A.net B.net DIR`: every spec built, failures collected and reported, the comparison index."""
from __future__ import annotations

import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

import netspec
from netspec.analysis.depth import weight_depth
from netspec.cli import main
from netspec.report.index import index_entry, render_index
from tests.conftest import ROOT

SPECS = ROOT / "specs"

SMALL = "network {name}\ninput 1x12x12\nconv 4 3x3\nrelu\nflatten\nlinear 3\n"
BROKEN = "network broken\ninput 1x12x12\nconv 4 3x3\nlinear 3 bogus=1\n"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    specs = tmp_path / "specs"
    specs.mkdir()
    (specs / "one.net").write_text(SMALL.format(name="one"))
    (specs / "two.net").write_text(SMALL.format(name="two"))
    (specs / "blocks").mkdir()  # a library folder: not a network, not built
    (specs / "blocks" / "lib.net").write_text("block unit(c):\n    conv c 1x1\n")
    return specs


class Table(HTMLParser):
    """The index's network rows: name → {column title: data-v}."""

    def __init__(self):
        super().__init__()
        self.titles: list[str] = []
        self.rows: dict[str, list[str]] = {}
        self._in_th = False
        self._row: list[str] | None = None
        self.links: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "th":
            self._in_th = True
            self.titles.append("")
        if tag == "tr" and (attrs.get("id") or "").startswith("net-"):
            self._row = []
            self.rows[attrs["id"][4:]] = self._row
        if tag == "td" and self._row is not None:
            self._row.append(attrs.get("data-v") or "")
        if tag == "a" and self._row is not None:
            self.links.append(attrs["href"])

    def handle_endtag(self, tag):
        if tag == "th":
            self._in_th = False
        if tag == "tr":
            self._row = None

    def handle_data(self, data):
        if self._in_th:
            self.titles[-1] += data


def test_a_folder_builds_each_spec_and_writes_the_index(folder, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["build", str(folder), "-o", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["index.html", "one.html", "one.py", "two.html", "two.py"]
    page = Table()
    page.feed((out / "index.html").read_text())
    assert set(page.rows) == {"one", "two"}
    assert page.links == ["one.html", "two.html"]
    # conv 4 3x3 on 1x12x12 → 4x10x10: 4·(9+1) = 40 params, 4·10·10·9 = 3,600 MACs; linear 400→3: 1,203 / 1,200
    params = page.rows["one"][2]
    macs = page.rows["one"][3]
    assert (int(params), int(macs)) == (40 + 1203, 3600 + 1200)
    assert "index.html" in capsys.readouterr().out


def test_failures_do_not_stop_the_others_and_are_all_reported(folder, tmp_path, capsys):
    (folder / "broken.net").write_text(BROKEN)
    missing = str(tmp_path / "absent.net")
    out = tmp_path / "out"
    assert main(["build", str(folder), missing, "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert "broken.net:4:" in err and "bogus" in err  # the located error, as `check` gives it
    assert "absent.net" in err and "no such file" in err
    assert "2 of 4 specs failed" in err
    assert "Traceback" not in err
    assert {p.name for p in out.iterdir()} == {"index.html", "one.html", "one.py", "two.html", "two.py"}
    index = (out / "index.html").read_text()
    assert "2 specs could not be built" in index and "bogus" in index


def test_two_specs_with_one_network_name_do_not_overwrite_each_other(tmp_path, capsys):
    a, b = tmp_path / "a.net", tmp_path / "b.net"
    a.write_text(SMALL.format(name="same"))
    b.write_text(SMALL.format(name="same"))
    assert main(["build", str(a), str(b), "-o", str(tmp_path / "out")]) == 1
    assert "would replace" in capsys.readouterr().err
    assert (tmp_path / "out" / "same.html").is_file()


def test_a_folder_without_specs_is_a_usage_error(tmp_path, capsys):
    assert main(["build", str(tmp_path), "-o", str(tmp_path / "out")]) == 2
    assert "no .net specs" in capsys.readouterr().err


def test_one_spec_keeps_its_single_build_outputs(tmp_path):
    (tmp_path / "specs").mkdir()
    (tmp_path / "specs" / "one.net").write_text(SMALL.format(name="one"))
    result = subprocess.run([sys.executable, "-m", "netspec.cli", "build", "specs/one.net"], cwd=tmp_path,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "build" / "one.py").is_file() and (tmp_path / "reports" / "one.html").is_file()
    assert not (tmp_path / "reports" / "index.html").exists()


# ---- the figures the index compares -------------------------------------------------------------------


@pytest.mark.parametrize("name, depth", [
    ("alexnet", 8),  # Krizhevsky et al. (2012): five convolutional and three fully connected layers
    ("vgg16", 16), ("vgg19", 19), ("resnet18", 18), ("resnet50", 50), ("resnet152", 152),  # as named
    ("googlenet", 22),  # Szegedy et al. (2015): "22 layers deep when counting only layers with parameters"
    ("densenet121", 121),
])
def test_depth_is_the_papers_count(name, depth):
    assert weight_depth(netspec.analyze(SPECS / f"{name}.net").graph) == depth


def test_index_entry_and_page():
    analysis = netspec.analyze(SPECS / "lenet5.net")
    entry = index_entry(analysis, "specs/lenet5.net", "lenet5.html")
    assert entry.depth == 5  # two convolutions, three linear layers (LeCun et al., 1998)
    # the last spatial layer: 5x5 conv (5), 2x2 pool (+1 → 6), 5x5 conv at stride 2 (+8 → 14), pool (+2 → 16)
    assert entry.rf == "global (last local 16 px)"
    # the inference peak holds at least the first conv's output (the largest) and the 1x28x28 input
    assert entry.memory_bytes >= (6 * 24 * 24 + 28 * 28) * 4
    html = render_index([entry])
    assert '<svg class="chart bubbles"' in html and "lenet5" in html
    assert re.search(r'<a class="bubble" href="lenet5.html">', html)
