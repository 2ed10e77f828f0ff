"""`netspec build --emit py,onnx,torchscript`: every artefact written together, listed, and computing the module's function."""
from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

import netspec  # noqa: E402
from netspec.cli import main  # noqa: E402
from tests.conftest import ROOT  # noqa: E402

LENET5 = ROOT / "specs" / "lenet5.net"


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    folder = tmp_path_factory.mktemp("emit")
    torch.manual_seed(0)
    model = netspec.compile(LENET5).eval()
    weights = folder / "lenet5.pth"
    torch.save(model.state_dict(), weights)
    out = folder / "out"
    assert main(["build", str(LENET5), "--emit", "py,onnx,torchscript", "--weights", str(weights), "-o", str(out)]) == 0
    return model, out


def test_every_artefact_is_written_and_listed_in_the_report(built):
    _, out = built
    assert sorted(p.name for p in out.iterdir()) == ["lenet5.html", "lenet5.onnx", "lenet5.py", "lenet5.torchscript.pt"]
    report = (out / "lenet5.html").read_text(encoding="utf-8")
    for name in ("lenet5.py", "lenet5.onnx", "lenet5.torchscript.pt"):
        assert name in report.split('id="artefacts"', 1)[1].split("</table>", 1)[0]
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temporaries left behind


@pytest.mark.filterwarnings("ignore:`torch.jit.load")
def test_onnx_and_torchscript_artefacts_compute_what_the_module_computes(built):
    ort = pytest.importorskip("onnxruntime")
    model, out = built
    x = torch.randn(5, 1, 28, 28)
    with torch.no_grad():
        expected = model(x)
    session = ort.InferenceSession(str(out / "lenet5.onnx"), providers=["CPUExecutionProvider"])
    (got,) = session.run(None, {"input": x.numpy()})
    torch.testing.assert_close(torch.from_numpy(got), expected, rtol=1e-4, atol=1e-5)
    scripted = torch.jit.load(str(out / "lenet5.torchscript.pt"))
    with torch.no_grad():
        torch.testing.assert_close(scripted(x), expected, rtol=1e-5, atol=1e-6)


def test_unknown_kind_or_unusable_weights_write_nothing(tmp_path, capsys):
    assert main(["build", str(LENET5), "--emit", "py,onx", "-o", str(tmp_path / "a")]) == 2
    assert "--emit takes py, onnx, torchscript" in capsys.readouterr().err
    other = tmp_path / "resnet.pth"
    torch.save({"conv1.weight": torch.zeros(1)}, other)
    assert main(["build", str(LENET5), "--emit", "onnx", "--weights", str(other), "-o", str(tmp_path / "b")]) == 2
    assert "--weights: the weights do not fit the module: missing from the checkpoint: stage1.conv.weight" in capsys.readouterr().err
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_onnx_falls_back_to_the_torch_export_exporter():
    """GoogLeNet's aux heads at 224x224 (adaptive 14x14 → 4x4) defeat the older exporter; the
    fallback is exercised on lenet5 to keep it cheap."""
    ort = pytest.importorskip("onnxruntime")
    from netspec.compiler.export import export_onnx

    model = netspec.compile(LENET5).eval()
    data, exporter = export_onnx(model, (1, 28, 28), ["fc3"], exporter="dynamo")
    assert exporter == "torch.onnx dynamo-based exporter"
    session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    x = torch.randn(3, 1, 28, 28)
    (got,) = session.run(["fc3"], {"input": x.numpy()})
    with torch.no_grad():
        torch.testing.assert_close(torch.from_numpy(got), model(x), rtol=1e-4, atol=1e-5)
