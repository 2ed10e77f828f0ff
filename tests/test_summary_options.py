"""`netspec summary` options: --batch, --dtype, --depth, --format csv|markdown, --explain, --input, --strict; the JSON additions."""
from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

import netspec

ROOT = Path(__file__).resolve().parents[1]
SPECS = ROOT / "specs"


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "netspec.cli", *args], capture_output=True, text=True, timeout=120,
                          cwd=cwd)


def summary_json(*args: str) -> dict:
    result = run("summary", *args, "--format", "json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_batch_and_dtype_scale_every_byte_figure():
    one = summary_json(str(SPECS / "lenet5.net"))
    four = summary_json(str(SPECS / "lenet5.net"), "--batch", "4")
    half = summary_json(str(SPECS / "lenet5.net"), "--batch", "4", "--dtype", "float16")
    assert four["batch"] == 4 and half["dtype"] == "float16"
    peak = lambda d: d["totals"]["memory"]["inference"]["peak_activation_bytes"]  # noqa: E731
    conv = lambda d: d["layers"][0]["peak_live_bytes"]  # noqa: E731 - input and conv output, both activations
    assert peak(four) == 4 * peak(one) and conv(half) * 2 == conv(four)
    assert peak(half) * 2 > peak(four)  # max-pool indices are int64 whatever the dtype
    assert [l["peak_live_bytes"] * 4 for l in one["layers"]] == [l["peak_live_bytes"] for l in four["layers"]]
    # lenet5 by hand at batch 1, float32: input 1x28x28 and conv1's 6x24x24 output, relu written in place,
    # then maxpool's 6x12x12 output and its int64 indices: the peak is at the pool.
    assert peak(one) == 4 * (784 + 3456 + 864) + 8 * 864
    assert one["totals"]["memory"]["inference"]["peak_layer"] == "stage1.maxpool"
    assert set(one["totals"]["memory"]["training"]) == {"sgd", "sgd-momentum", "adam", "adamw"}


def test_json_layers_carry_attrs_inputs_source_and_receptive_geometry():
    data = summary_json(str(SPECS / "resnet50.net"))
    first = data["layers"][0]
    assert first["name"] == "conv1" and first["inputs"] == ["input"]
    assert first["attrs"]["channels"] == 64 and first["attrs"]["kernel"] == [7, 7] and first["attrs"]["stride"] == [2, 2]
    assert first["receptive_field"]["stride"] == [2, 2] and first["receptive_field"]["padding"] == [3, 3]
    assert "blocks/resnet.net:" in first["source"]  # the block's own file, not resnet50.net
    assert data["layers"][-1]["source"].endswith("resnet50.net:16:1")
    by_name = {l["name"]: l for l in data["layers"]}
    add = next(l for l in data["layers"] if l["op"] == "add")
    assert len(add["inputs"]) == 2 and all(i in by_name for i in add["inputs"])
    assert all(l["peak_live_bytes"] > 0 for l in data["layers"])
    assert data["input_sizes"]["step"] == [32, 32]


def test_csv_and_markdown_have_one_row_per_layer():
    analysis = netspec.analyze(SPECS / "resnet18.net")
    result = run("summary", str(SPECS / "resnet18.net"), "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert len(rows) == len(analysis.layers) + 1 and rows[-1]["layer"] == "total"
    assert sum(int(r["params"]) for r in rows[:-1]) == int(rows[-1]["params"]) == 11_689_512
    markdown = run("summary", str(SPECS / "resnet18.net"), "--format", "markdown").stdout
    table = [line for line in markdown.splitlines() if line.startswith("|")]
    assert len(table) == 2 + len(analysis.layers) + 1
    assert all(line.count("|") == 7 for line in table)


def test_depth_collapses_blocks_with_summed_costs():
    result = run("summary", str(SPECS / "resnet18.net"), "--depth", "1", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(result.stdout)))[:-1]
    names = [r["layer"] for r in rows]
    # torchvision's resnet18 children: conv1 bn1 relu maxpool layer1..4 avgpool flatten fc
    assert names == ["conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4", "avgpool", "flatten", "fc"]
    layer1 = next(r for r in rows if r["layer"] == "layer1")
    assert int(layer1["params"]) == 4 * (64 * 64 * 9 + 2 * 64)  # four 3x3 convs of 64 channels and their batchnorms
    assert sum(int(r["params"]) for r in rows) == 11_689_512
    two = list(csv.DictReader(io.StringIO(run("summary", str(SPECS / "resnet18.net"), "--depth", "2", "--format", "csv").stdout)))
    assert "layer1.0" in [r["layer"] for r in two]


def test_explain_prints_every_tool_with_a_reason():
    out = run("summary", str(SPECS / "resnet50.net"), "--explain").stdout
    for tool in ("torchinfo", "fvcore", "ptflops (pytorch backend, default)", "ptflops (aten backend)", "thop",
                 "torch.utils.flop_counter", "torchvision _ops"):
        assert tool in out
    assert "4,111,512,576 MACs" in out  # fvcore's measured total for resnet50


def test_input_override_analyses_another_size():
    data = summary_json(str(SPECS / "resnet50.net"), "--input", "3x512x512")
    base = summary_json(str(SPECS / "resnet50.net"))
    assert data["input"] == [3, 512, 512] and data["outputs"] == base["outputs"]
    conv1 = data["layers"][0]
    assert conv1["output_shape"] == [64, 256, 256] and conv1["macs"] == 64 * 256 * 256 * 3 * 49
    bad = run("summary", str(SPECS / "resnet50.net"), "--input", "3xbig")
    assert bad.returncode == 2 and "--input" in bad.stderr and "Traceback" not in bad.stderr


def test_accepted_input_sizes_match_torchvision_on_the_meta_device():
    torch = pytest.importorskip("torch")
    torchvision = pytest.importorskip("torchvision")
    analysis = netspec.analyze(SPECS / "resnet18.net")
    sizes = analysis.input_sizes
    assert sizes is not None and sizes.step == (32, 32)  # five stride-2 stages: 2**5

    def works(size: int) -> bool:
        with torch.device("meta"):
            model = torchvision.models.resnet18().eval()
        try:
            model(torch.empty(1, 3, size, size, device="meta"))
            return True
        except RuntimeError:
            return False

    smallest = sizes.smallest[0]
    assert works(smallest) and (smallest == 1 or not works(smallest - 1))
    assert "Accepted inputs" in run("summary", str(SPECS / "resnet18.net")).stdout
    assert netspec.analyze(SPECS / "lenet5.net").input_sizes is None  # a flatten fixes lenet5's size


BORDER = "network b\ninput 3x8x8\nconv 4 3x3 stride=2\nrelu\n"  # (8 - 3) % 2 = 1: the last row and column are dropped


def test_border_drop_is_a_warning_and_strict_makes_it_an_error(tmp_path):
    spec = tmp_path / "border.net"
    spec.write_text(BORDER)
    result = run("check", str(spec))
    assert result.returncode == 0
    assert "warning: 'conv' never reads the last 1 row and 1 column of its 3x8x8 input" in result.stderr
    strict = run("check", str(spec), "--strict")
    assert strict.returncode == 1 and "error: 'conv' never reads the last 1 row" in strict.stderr
    assert run("check", str(spec), "--input", "3x9x9").stderr == ""  # (9 - 3) % 2 = 0


def test_border_losses_agree_with_autograd():
    """Input rows whose gradient is zero everywhere are the ones no window reads."""
    torch = pytest.importorskip("torch")
    from netspec.analysis.borders import border_losses

    for size, stride, kernel, pad in [(8, 2, 3, 0), (9, 2, 3, 0), (10, 3, 3, 1), (11, 4, 5, 1), (7, 2, 2, 0)]:
        graph = netspec.analyze(f"network b\ninput 1x{size}x{size}\nconv 1 {kernel}x{kernel} stride={stride} pad={pad}\n").graph
        x = torch.ones(1, 1, size, size, requires_grad=True)
        conv = torch.nn.Conv2d(1, 1, kernel, stride=stride, padding=pad)
        torch.nn.init.constant_(conv.weight, 1.0)
        conv(x).sum().backward()
        untouched_rows = 0
        for row in reversed(range(size)):
            if x.grad[0, 0, row].abs().sum() == 0:
                untouched_rows += 1
            else:
                break
        found = [loss.lost[0] for loss in border_losses(graph)]
        assert found == ([untouched_rows] if untouched_rows else []), (size, stride, kernel, pad)


def test_input_size_step_is_the_total_stride():
    # inception_v3: conv stride 2, two max-pools stride 2, Mixed_6a and Mixed_7a stride 2: 2**5
    assert netspec.analyze(SPECS / "inception_v3.net").input_sizes.step == (32, 32)
    # squeezenet1_0: conv stride 2 and three max-pools stride 2 before the global pool: 2**4
    assert netspec.analyze(SPECS / "squeezenet1_0.net").input_sizes.step == (16, 16)


def test_table_footer_gives_activations_and_macs_for_the_batch_and_type():
    from netspec import summary

    analysis = netspec.analyze(SPECS / "resnet50.net")
    text = summary.table(analysis, batch=32, dtype="bfloat16")
    mib = analysis.totals.activations * 32 * 2 / 2**20  # every layer's output, 32 samples, 2 bytes each
    assert f"Activations: {mib:,.1f} MiB for a batch of 32 (bfloat16)." in text
    assert "a batch of 32: 130.85 G MACs" in text  # 32 x 4,089,184,256 = 130,853,896,192
    assert "Activations: 143.3 MiB per sample (float32)." in summary.table(analysis)
