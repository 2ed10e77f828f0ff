"""torch → spec: torchvision models imported, checked, compiled and compared with themselves.

The originals are the oracle: the compiled spec loads their state_dict with strict=True and
computes the same outputs; the analysis counts their parameters and, under FlopCounterMode
on the meta device, their multiply-accumulates (FLOPs / 2).
"""
from __future__ import annotations

import warnings

import pytest
import torch
import torch.nn as nn
import torchvision
from torch.utils.flop_counter import FlopCounterMode

import netspec
from netspec.compiler.import_statements import Slot, module_statement
from netspec.compiler.import_torch import TorchImportError, import_module
from netspec.ops import lookup
from tests.test_ops import CASES, build

MODELS = {  # name → (factory arguments, side of the square input the outputs are compared on)
    "resnet18": ({}, 64),
    "resnet50": ({}, 64),
    "vgg16": ({}, 32),
    "googlenet": ({"aux_logits": False, "init_weights": False}, 64),
    "mobilenet_v2": ({}, 64),
    "densenet121": ({}, 64),
    "inception_v3": ({"aux_logits": False, "init_weights": False}, 80),  # F.avg_pool2d in its forward
}


def torchvision_model(name: str) -> nn.Module:
    kwargs, _ = MODELS[name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return getattr(torchvision.models, name)(**kwargs).eval()


def torch_macs(name: str, shape: tuple[int, ...]) -> int:
    """Multiply-accumulates of the torchvision model, counted by torch on the meta device (no arithmetic)."""
    with torch.device("meta"):
        meta = torchvision_model(name)
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        meta(torch.empty(1, *shape, device="meta"))
    return counter.get_total_flops() // 2


@pytest.mark.parametrize("name", MODELS)
def test_round_trip(name):
    torch.manual_seed(0)
    original = torchvision_model(name)
    shape = (3, 299, 299) if name == "inception_v3" else (3, 224, 224)
    text, _ = import_module(original, name, shape, f"torchvision.models:{name}")
    analysis = netspec.analyze(text)
    assert analysis.totals.params == sum(p.numel() for p in original.parameters())
    assert analysis.totals.macs == torch_macs(name, shape)

    compiled = netspec.compile(text).eval()
    compiled.load_state_dict(original.state_dict(), strict=True)
    side = MODELS[name][1]
    x = torch.randn(2, 3, side, side)
    with torch.no_grad():
        torch.testing.assert_close(compiled(x), original(x), rtol=0, atol=1e-5)


def statement_text(pieces: list) -> str:
    return "".join(p if isinstance(p, str) else f"{p.keyword}={p.value}" if p.keyword else p.value for p in pieces)


@pytest.mark.parametrize("name, raw, shapes", [c for c in CASES if lookup(c.values[0]).imports_from])
def test_each_op_reads_back_from_the_module_it_builds(name, raw, shapes):
    """An op's `from_module` inverts its `module`: the statement read off the built module
    elaborates to attributes that build the very same module (torch's repr of every setting)."""
    op = lookup(name)
    module = build(op, op.prepare(raw, shapes), shapes)
    pieces = module_statement(module, "layer")
    assert pieces is not None and pieces[0] == name
    assert all(isinstance(p, (str, Slot)) for p in pieces)
    (shape,) = shapes
    spec = f"network t\ninput {'x'.join(map(str, shape))}\n{statement_text(pieces)}\n"
    analysis = netspec.analyze(spec)
    (layer,) = analysis.layers
    attrs = analysis.graph.node(layer.name).attrs
    assert repr(build(op, attrs, shapes)) == repr(module), spec


def test_repeated_classes_become_blocks_and_names_are_attributes():
    text, _ = import_module(torchvision_model("resnet18"), "resnet18", (3, 224, 224), "torchvision.models:resnet18")
    # one block for every BasicBlock: the stages' first blocks switch their downsample on with a flag
    assert text.count("block basic_block(") == 1 and "shortcut when has_downsample:" in text
    assert "basic_block(128, 2, true)" in text and "basic_block(128, 1, false)" in text
    assert "sequential layer1:" in text
    assert "conv 64 7x7 stride=2 pad=3 bias=false as conv1" in text
    names = [layer.name for layer in netspec.analyze(text).layers]
    assert "layer2.0.downsample.0" in names and "layer4.1.conv2" in names


class Sine(nn.Module):
    """A module with a call netspec has no op for (for the error test)."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)

    def forward(self, x):
        return torch.sin(self.conv(x))


def test_unmapped_call_is_named_with_its_line():
    with pytest.raises(TorchImportError) as caught:
        import_module(Sine(), "sine", (3, 8, 8), "tests:Sine")
    message = str(caught.value)
    assert "torch.sin" in message or "sin" in message
    assert "test_import_torch.py" in message and "return torch.sin(self.conv(x))" in message


class CatFromTheBack(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)

    def forward(self, x):
        return torch.cat([self.conv(x), self.conv(x)], dim=-3)


@pytest.mark.parametrize("module, reason", [
    # torch's cumulative moving average: no momentum value of the op reproduces it
    (nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4, momentum=None)), "momentum=None"),
    # the module returns (values, indices); a maxpool op returns the values only
    (nn.Sequential(nn.Conv2d(3, 4, 3), nn.MaxPool2d(2, return_indices=True)), "returns its indices"),
    (nn.Sequential(nn.Conv2d(3, 4, 3), nn.AdaptiveMaxPool2d(2, return_indices=True)), "returns its indices"),
    (CatFromTheBack(), "negative dim (-3)"),
])
def test_a_setting_no_op_reproduces_is_refused_and_named(module, reason):
    with pytest.raises(TorchImportError) as caught:
        import_module(module, "m", (3, 8, 8), "tests:m")
    assert reason in str(caught.value)


def test_cli_imports_and_reports_errors(tmp_path, capsys):
    from netspec.cli import main

    out = tmp_path / "r18.net"
    assert main(["import-torch", "torchvision.models:resnet18", "--input", "3x64x64", "-o", str(out)]) == 0
    assert "11,689,512 parameters (the module has 11,689,512)" in capsys.readouterr().out
    assert "network r18" in out.read_text() and "input 3x64x64" in out.read_text()
    assert netspec.analyze(out).totals.params == 11_689_512

    assert main(["import-torch", "tests.test_import_torch:Sine", "-o", str(tmp_path / "sine.net")]) == 1
    assert "no op for the call to" in capsys.readouterr().err
    assert not (tmp_path / "sine.net").exists()
    assert main(["import-torch", "torchvision.models:no_such_model", "-o", str(tmp_path / "x.net")]) == 2
