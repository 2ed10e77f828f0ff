"""`netspec build --batch N --dtype T`: every byte figure of the report and the index is for that batch and type."""
from __future__ import annotations

import json
import re

import pytest

import netspec
from netspec.analysis.memory import MemoryScale
from netspec.cli import main
from netspec.report.figures import memory_profile
from netspec.report.index import index_entry
from tests.conftest import ROOT

LENET = ROOT / "specs" / "lenet5.net"


def page_figures(html: str) -> dict[str, int]:
    """The exact numbers the report carries in data attributes, by element id (and optimizer)."""
    found = {m[0]: int(m[1]) for m in re.findall(r'id="([\w-]+)"[^>]*data-(?:bytes|macs)="(\d+)"', html)}
    found |= {f"training-{m[0]}": int(m[1]) for m in re.findall(r'data-optimizer="([\w-]+)" data-bytes="(\d+)"', html)}
    return found


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    pages = {}
    for batch, dtype in ((1, "float32"), (32, "bfloat16")):
        out = tmp_path_factory.mktemp(f"b{batch}")
        assert main(["build", str(LENET), "-o", str(out), "--batch", str(batch), "--dtype", dtype]) == 0
        pages[batch, dtype] = (out / "lenet5.html").read_text()
    return pages


def test_the_report_says_the_batch_and_type(built):
    assert "bytes for batch 1, float32" in built[1, "float32"]
    assert "bytes for batch 32, bfloat16" in built[32, "bfloat16"]
    assert "batch of 32, bfloat16" in built[32, "bfloat16"]  # the memory chart's title


def test_per_batch_figures_scale_by_32_and_bytes_halve_in_bfloat16(built):
    one, many = page_figures(built[1, "float32"]), page_figures(built[32, "bfloat16"])
    # LeNet-5 on 1x28x28: the input is 784 elements; 4 bytes each, then 32 samples of 2 bytes
    assert one["input-bytes"] == 784 * 4 and many["input-bytes"] == 784 * 32 * 2
    for per_batch in ("input-bytes", "activation-bytes"):
        assert many[per_batch] == one[per_batch] * 32 // 2, per_batch
    # the peak is at stage1.maxpool: the input (784), the conv's 6x24x24 (3,456) and the pool's 6x12x12 (864)
    # in the element type, plus the pool's int64 indices (864 x 8 bytes) whatever the type
    assert one["inference-peak"] == (784 + 3456 + 864) * 4 + 864 * 8
    assert many["inference-peak"] == 32 * ((784 + 3456 + 864) * 2 + 864 * 8)
    for weights in ("param-bytes", "buffer-bytes"):  # one copy whatever the batch, in half the bytes
        assert many[weights] == one[weights] // 2, weights
    macs = netspec.analyze(LENET).totals.macs
    assert many["batch-macs"] == 32 * macs and "batch-macs" not in one  # per sample at batch 1


def test_the_report_and_summary_give_the_same_memory(built, capsys):
    assert main(["summary", str(LENET), "--format", "json", "--batch", "32", "--dtype", "bfloat16"]) == 0
    memory = json.loads(capsys.readouterr().out)["totals"]["memory"]
    figures = page_figures(built[32, "bfloat16"])
    assert figures["inference-peak"] == memory["inference"]["peak_activation_bytes"]
    assert {k: figures[f"training-{k}"] for k in memory["training"]} == \
        {k: v["peak_bytes"] for k, v in memory["training"].items()}


def test_memory_chart_and_index_scale():
    analysis = netspec.analyze(ROOT / "specs" / "resnet18.net")
    one = memory_profile(analysis)
    four = memory_profile(analysis, MemoryScale(4, "float32"))
    assert [p.value for p in four.points] == [4 * p.value for p in one.points]
    entry, scaled = index_entry(analysis, "r.net", "r.html"), index_entry(analysis, "r.net", "r.html", MemoryScale(4))
    assert scaled.memory_bytes == 4 * entry.memory_bytes and scaled.activation_bytes == 4 * entry.activation_bytes
    half = index_entry(analysis, "r.net", "r.html", MemoryScale(1, "float16"))
    assert half.activation_bytes * 2 == entry.activation_bytes  # every layer's output, in 2 bytes instead of 4
    assert scaled.macs == entry.macs  # MACs stay per sample in the index


@pytest.mark.parametrize("option", [["--batch", "0"], ["--dtype", "int8"]])
def test_build_refuses_a_bad_batch_or_type(tmp_path, capsys, option):
    with pytest.raises(SystemExit) as exit_:
        main(["build", str(LENET), "-o", str(tmp_path), *option])
    assert exit_.value.code == 2 and not list(tmp_path.iterdir())


def test_building_several_passes_the_batch_and_type_to_every_page(tmp_path):
    specs = [str(LENET), str(ROOT / "specs" / "alexnet.net")]
    assert main(["build", *specs, "-o", str(tmp_path), "--batch", "4", "--dtype", "float16"]) == 0
    assert "bytes for a batch of 4 in float16" in (tmp_path / "index.html").read_text()
    for name in ("lenet5", "alexnet"):
        assert "bytes for batch 4, float16" in (tmp_path / f"{name}.html").read_text()
