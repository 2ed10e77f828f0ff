"""Convolutionize on specs: the IR pass, the written spec, its analysis, and the CLI around them."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from netspec.compiler.convolutionize import ConvolutionizeError, convolutionize_graph
from netspec.compiler.convolutionize_analysis import convolutionize_spec, elaborate_text
from netspec.errors import NetspecError
from netspec.ir.elaborate import elaborate
from tests.conftest import ROOT, SPECS, spec_id

SPEC_DIR = ROOT / "specs"


def run(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "netspec.cli", *args], cwd=cwd, capture_output=True, text=True, timeout=300)


def test_lenet5_spec_is_edited_only_where_it_changes():
    original = (SPEC_DIR / "lenet5.net").read_text()
    written = convolutionize_spec(SPEC_DIR / "lenet5.net").text
    # 28 - 4 = 24, pooled 12; 12 - 4 = 8, pooled 4: fc1 reads a 16x4x4 map
    expected = (
        original.replace("network lenet5(", "network lenet5_fcn(")
        .replace("flatten\n", "")
        .replace("linear 120 as fc1", "conv 120 4x4 as fc1")
        .replace("linear 84 as fc2", "conv 84 1x1 as fc2")
        .replace("linear classes as fc3", "conv classes 1x1 as fc3")
    )
    header, _, body = written.partition("stands alone.\n")
    assert body == expected
    assert "#   fc1: linear 256 → 120 → conv 120 4x4" in header


@pytest.mark.parametrize("dense", [False, True], ids=["plain", "dense"])
@pytest.mark.parametrize("path", SPECS, ids=spec_id)
def test_every_zoo_spec_converts_to_a_spec_that_elaborates(path, dense):
    converted = convolutionize_spec(path, dense=dense, scales=(1.0,))
    graph = elaborate_text(converted.text, "written.net")
    assert not any(node.op in ("linear", "flatten") for node in graph.nodes)
    assert all(len(graph.node(o.node).shape) == len(graph.input.shape) for o in graph.outputs)
    # imports are inlined: the text stands alone
    assert "import " not in "".join(line.split("#")[0] for line in converted.text.splitlines())


def test_vgg16_analysis_stride_field_and_costs():
    converted = convolutionize_spec(SPEC_DIR / "vgg16.net")
    assert converted.stride == (2 ** 5, 2 ** 5)  # five 2x2 max pools
    # VGG-16's last conv sees 212 px (Araujo et al., 2019); fc1's 7x7 window adds 6 steps of 32
    assert converted.field.size == (212 + 6 * 32,) * 2
    assert converted.field.start == (-(212 + 6 * 32 - 224) // 2,) * 2  # centred on the 224 window
    by_input = {run.input_shape: run for run in converted.runs}
    assert set(by_input) == {(3, 224, 224), (3, 336, 336), (3, 448, 448)}
    big = by_input[(3, 448, 448)]
    assert big.output_shape == (1000, 8, 8)  # 448/32 = 14 feature cells, 14 - 7 + 1 = 8 positions
    assert big.windows == 64
    vgg16_macs = 15_470_264_320  # torchvision's published _ops for vgg16: 15.47 G
    assert big.windows_macs == 64 * vgg16_macs
    assert by_input[(3, 224, 224)].dense_macs == vgg16_macs


def test_dense_macs_equal_what_torch_counts():
    torch = pytest.importorskip("torch")
    import netspec
    from tests.torch_oracle import meta_module, run_on_meta

    converted = convolutionize_spec(SPEC_DIR / "alexnet.net")
    module = meta_module(lambda: netspec.compile(converted.text))
    for run_ in converted.runs[1:]:
        shapes, macs = run_on_meta(module, run_.input_shape, batch=1)
        assert macs == run_.dense_macs
        assert shapes["classifier.6"] == run_.output_shape
    assert torch is not None


def _same_weights_same_outputs(spec: str, params: dict, sizes, keep_adaptive: bool = False, dense: bool = False):
    torch = pytest.importorskip("torch")
    import netspec

    torch.manual_seed(0)
    path = SPEC_DIR / f"{spec}.net"
    original = netspec.compile(path, **params).double().eval()
    by_module = netspec.convolutionize(original, elaborate(path, params).input.shape, dense=dense, keep_adaptive=keep_adaptive)
    written = convolutionize_spec(path, params, dense=dense, keep_adaptive=keep_adaptive).text
    from_spec = netspec.compile(written).double().eval()
    from_spec.load_state_dict(by_module.state_dict(), strict=True)  # the same names, the same shapes
    with torch.no_grad():
        for size in sizes:
            x = torch.randn(1, *size, dtype=torch.float64)
            a, b = by_module(x), from_spec(x)
            for u, v in zip(a if isinstance(a, tuple) else (a,), b if isinstance(b, tuple) else (b,)):
                torch.testing.assert_close(u, v, rtol=1e-9, atol=1e-9)


def test_written_spec_equals_the_module_conversion_lenet5():
    _same_weights_same_outputs("lenet5", {}, [(1, 28, 28), (1, 40, 52)])


def test_written_spec_equals_the_module_conversion_alexnet():
    _same_weights_same_outputs("alexnet", {}, [(3, 224, 224), (3, 256, 288)])


def test_written_spec_equals_the_module_conversion_resnet50_dense():
    _same_weights_same_outputs("resnet50", {}, [(3, 224, 224)], dense=True)


def test_written_spec_equals_the_module_conversion_googlenet_with_aux_heads():
    _same_weights_same_outputs("googlenet", {"aux": True}, [(3, 224, 224)], keep_adaptive=True)


def _located(text: str, **options) -> str:
    with pytest.raises(NetspecError) as caught:
        convolutionize_graph(elaborate(text), **options)
    assert isinstance(caught.value, ConvolutionizeError)
    return caught.value.render()


def test_errors_point_at_the_layer():
    message = _located("network mlp\ninput 64\nlinear 10\n")
    assert message.startswith("<spec>:3:1: error: cannot convolutionize 'linear' (linear): its input (64) does not come from a flattened map")
    message = _located("network n\ninput 3x16x16\nconv 4 3x3\nflatten\nlayernorm\nlinear 2\n")
    assert "<spec>:5:1: error: cannot convolutionize 'layernorm' (layernorm): it reads flattened features" in message
    message = _located("network n\ninput 3x16x16\nconv 4 3x3\nglobal_avgpool\nflatten\nlinear 8; relu\nlinear 2\n", dense=True)
    assert "<spec>:6:11: error: cannot convolutionize 'relu' (relu): --dense drops the global average pool" in message
    message = _located("network n\ninput 3x16x16\nconv 4 3x3\nadaptive_avgpool 7x7\nflatten\nlinear 2\n")
    assert "<spec>:4:1: error: cannot convolutionize 'adaptive_avgpool' (adaptive_avgpool): it pools 14x14 to 7x7" in message


def test_a_block_used_in_two_ways_is_refused_with_its_location(tmp_path):
    spec = tmp_path / "shared.net"
    spec.write_text(
        "network shared\ninput 3x16x16\n\nblock head(n):\n    flatten\n    linear n\n\n"
        "conv 4 3x3 as trunk\nhead(8) as a\nb = trunk | conv 4 3x3 | head(8)\noutput a, b\n"
    )
    with pytest.raises(ConvolutionizeError) as caught:
        convolutionize_spec(spec)
    assert "shared.net:6:5: error: this statement makes 'a.linear' and 'b.head.linear', which would need different text" in caught.value.render()


def test_cli_writes_a_spec_that_check_summary_and_build_accept(tmp_path):
    out = tmp_path / "vgg16_fcn.net"
    result = run("convolutionize", str(SPEC_DIR / "vgg16.net"), "-o", str(out))
    assert result.returncode == 0, result.stderr
    assert "pool: adaptive_avgpool 7x7 → 7x7 → removed (the identity at the reference input)" in result.stdout
    assert "3x448x448  1000x8x8" in result.stdout
    assert run("check", str(out)).returncode == 0
    summary = run("summary", str(out))
    assert summary.returncode == 0 and re.search(r"^classifier\.0\s+conv\s+4096x1x1\s", summary.stdout, re.M)
    built = run("build", str(out), "-o", str(tmp_path / "b"))
    assert built.returncode == 0, built.stderr
    assert (tmp_path / "b" / "vgg16_fcn.py").is_file()


def test_build_convolutionize_writes_spec_module_and_report_without_torch(tmp_path):
    code = (
        "import sys; from netspec.cli import main; "
        f"rc = main(['build', {str(SPEC_DIR / 'resnet50.net')!r}, '--convolutionize', '-o', {str(tmp_path)!r}]); "
        "assert 'torch' not in sys.modules, 'torch was imported'; sys.exit(rc)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["resnet50_fcn.html", "resnet50_fcn.net", "resnet50_fcn.py"]
    html = (tmp_path / "resnet50_fcn.html").read_text()
    assert 'id="convolutionized"' in html
    assert "global_avgpool 7x7 → 1x1" in html and "avgpool 7x7 stride=1" in html
    assert "3x448x448" in html and "1000x8x8" in html


def test_cli_without_output_prints_the_spec_and_reports_removed_pools_on_stderr():
    result = run("convolutionize", str(SPEC_DIR / "alexnet.net"))
    assert result.returncode == 0, result.stderr
    assert "network alexnet_fcn(classes = 1000, p = 0.5)" in result.stdout
    assert "note: pool: adaptive_avgpool 6x6 → 6x6 → removed (the identity at the reference input)" in result.stderr


def test_cli_refusal_is_a_located_error_with_exit_status_1():
    result = run("convolutionize", str(SPEC_DIR / "googlenet.net"), "--set", "aux=true")
    assert result.returncode == 1
    lines = (SPEC_DIR / "googlenet.net").read_text().splitlines()
    line = next(i for i, text in enumerate(lines, start=1) if "adaptive_avgpool 4x4" in text)
    column = lines[line - 1].index("adaptive_avgpool") + 1
    assert f"googlenet.net:{line}:{column}: error: cannot convolutionize 'aux1.pool'" in result.stderr
    assert "Traceback" not in result.stderr
    kept = run("convolutionize", str(SPEC_DIR / "googlenet.net"), "--set", "aux=true", "--keep-adaptive")
    assert kept.returncode == 0 and "network googlenet_fcn(classes = 1000, aux = true)" in kept.stdout


def test_readme_figures_are_the_analysis():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    run_ = next(r for r in convolutionize_spec(SPEC_DIR / "vgg16.net").runs if r.input_shape == (3, 448, 448))
    assert f"{run_.dense_macs / 1e9:.2f} G MACs against {run_.windows_macs / 1e9:.2f} G ({run_.ratio:.1f}×" in readme


SMALL_PADDED = """network small(classes = 10)
input 3x32x32
conv 8 3x3 pad=1; relu; maxpool 2x2
conv 16 5x5 stride=2 pad=2; relu; maxpool 2x2
flatten
linear 32; relu
linear classes
"""


def test_a_cell_depends_on_no_pixel_outside_its_receptive_field(tmp_path):
    torch = pytest.importorskip("torch")
    import netspec

    spec = tmp_path / "small.net"
    spec.write_text(SMALL_PADDED)
    converted = convolutionize_spec(spec)
    assert converted.stride == (2 * 2 * 2, 2 * 2 * 2)  # a 2x2 pool, a stride-2 conv, a 2x2 pool
    torch.manual_seed(0)
    module = netspec.compile(converted.text).double().eval()
    size, (i, j) = 64, (1, 3)
    x = torch.randn(1, 3, size, size, dtype=torch.float64)
    top = converted.field.start[0] + i * converted.stride[0]
    left = converted.field.start[1] + j * converted.stride[1]
    rows = slice(max(0, top), top + converted.field.size[0])
    cols = slice(max(0, left), left + converted.field.size[1])
    outside = torch.randn_like(x)
    outside[:, :, rows, cols] = x[:, :, rows, cols]  # everything outside the field changes
    inside = x.clone()
    inside[:, :, rows, cols] += 1.0
    with torch.no_grad():
        cell = module(x)[:, :, i, j]
        torch.testing.assert_close(module(outside)[:, :, i, j], cell, rtol=0, atol=0)
        assert not torch.allclose(module(inside)[:, :, i, j], cell)


def test_dense_resnet50_counts_the_classifier_at_every_position():
    converted = convolutionize_spec(SPEC_DIR / "resnet50.net", dense=True, scales=(1.0, 2.0))
    reference, double = converted.runs
    assert reference.output_shape == (1000, 7, 7) and reference.windows == 1
    # torchvision's resnet50 _ops (4.09 G) with fc (2048·1000 MACs) applied at 49 positions instead of 1
    assert reference.dense_macs == 4_089_184_256 + 2048 * 1000 * (49 - 1)
    assert double.output_shape == (1000, 14, 14)
    assert double.windows == ((448 - 224) // 32 + 1) ** 2  # 8x8 windows of 224 at stride 32
