"""The model zoo in specs/ against the real thing.

Specs with a torchvision twin must match it exactly: parameter count, MACs, output shape
and the order of parameter shapes (so that a state_dict can be loaded in order). They are
checked twice: against the figures measured with torch 2.14.1 / torchvision 0.29.1 in
tests/reference/torch_tools_counts.json, and against a torchvision model built on the
meta device (no memory, no real arithmetic). The lecture networks, which have no twin,
are checked against counts written out by hand.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

import netspec
from netspec.ir.elaborate import elaborate

REPO = Path(__file__).resolve().parents[1]
SPECS = REPO / "specs"
REFERENCE = REPO / "tests" / "reference" / "torch_tools_counts.json"  # provenance: tests/reference/README.md

# case id -> (spec file stem, spec parameters, torchvision builder, its keyword arguments, reference key or None)
TWINS = {
    "alexnet": ("alexnet", {}, "alexnet", {}, "alexnet"),
    "vgg11": ("vgg11", {}, "vgg11", {}, "vgg11"),
    "vgg13": ("vgg13", {}, "vgg13", {}, None),  # not among the reference figures
    "vgg16": ("vgg16", {}, "vgg16", {}, "vgg16"),
    "vgg19": ("vgg19", {}, "vgg19", {}, "vgg19"),
    "vgg16_bn": ("vgg16_bn", {}, "vgg16_bn", {}, "vgg16_bn"),
    "resnet18": ("resnet18", {}, "resnet18", {}, "resnet18"),
    "resnet34": ("resnet34", {}, "resnet34", {}, "resnet34"),
    "resnet50": ("resnet50", {}, "resnet50", {}, "resnet50"),
    "resnet101": ("resnet101", {}, "resnet101", {}, "resnet101"),
    "resnet152": ("resnet152", {}, "resnet152", {}, "resnet152"),
    "resnext50_32x4d": ("resnext50_32x4d", {}, "resnext50_32x4d", {}, "resnext50_32x4d"),
    "wide_resnet50_2": ("wide_resnet50_2", {}, "wide_resnet50_2", {}, "wide_resnet50_2"),
    "googlenet": ("googlenet", {}, "googlenet", {"aux_logits": False, "init_weights": False}, "googlenet"),
    "googlenet_aux": ("googlenet", {"aux": True}, "googlenet", {"aux_logits": True, "init_weights": False}, "googlenet_aux"),
    "inception_v3": ("inception_v3", {}, "inception_v3", {"aux_logits": False, "init_weights": False}, "inception_v3"),
    "inception_v3_aux": ("inception_v3", {"aux": True}, "inception_v3", {"aux_logits": True, "init_weights": False}, None),
    "squeezenet1_0": ("squeezenet1_0", {}, "squeezenet1_0", {}, "squeezenet1_0"),
    "mobilenet_v2": ("mobilenet_v2", {}, "mobilenet_v2", {}, "mobilenet_v2"),
    "densenet121": ("densenet121", {}, "densenet121", {}, "densenet121"),
}


def analyze(stem: str, params: dict):
    return netspec.analyze(SPECS / f"{stem}.net", **params)


def trunk_macs(analysis) -> int:
    """MACs outside the auxiliary heads: what runs in eval mode, where torchvision skips them."""
    return sum(layer.macs for layer in analysis.layers if not layer.name.startswith("aux"))


def test_every_spec_named_like_a_torchvision_model_is_compared():
    torchvision = pytest.importorskip("torchvision")
    named = {p.stem for p in SPECS.glob("*.net") if p.stem in torchvision.models.list_models()}
    assert named <= {stem for stem, *_ in TWINS.values()}, "add the new spec to TWINS"


@pytest.fixture(scope="module")
def reference() -> dict:
    return json.loads(REFERENCE.read_text())


@pytest.mark.parametrize("case", [c for c, t in TWINS.items() if t[4]])
def test_counts_equal_reference_figures(case, reference):
    stem, params, _, _, key = TWINS[case]
    figures = reference[key]
    analysis = analyze(stem, params)
    assert analysis.input_shape == tuple(figures["input_shape"][1:])
    assert analysis.totals.params == figures["params"]
    # The reference ran in eval mode, where auxiliary heads do not run.
    assert trunk_macs(analysis) == figures["products_conv_linear"]
    assert list(analysis.outputs.values())[0] == tuple(figures["output_shape"][1:])


@pytest.mark.parametrize("case", list(TWINS))
def test_counts_equal_torchvision_on_meta(case):
    torch = pytest.importorskip("torch")
    torchvision = pytest.importorskip("torchvision")
    from torch.utils.flop_counter import FlopCounterMode

    stem, params, builder, kwargs, _ = TWINS[case]
    analysis = analyze(stem, params)
    with torch.device("meta"):
        model = getattr(torchvision.models, builder)(weights=None, **kwargs)

    with torch.device("meta"):
        ours = netspec.compile(SPECS / f"{stem}.net", **params)
    assert sum(p.numel() for p in model.parameters()) == analysis.totals.params
    # layer for layer, in registration order: a torchvision state_dict's tensors fit ours in order
    assert [tuple(p.shape) for p in ours.parameters()] == [tuple(p.shape) for p in model.parameters()]

    # Auxiliary heads run only in training mode; compare like with like. A batch of 2,
    # because batch norm in training mode refuses a single value per channel.
    has_aux = len(analysis.outputs) > 1
    model.train(has_aux)
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        out = model(torch.empty(2, *analysis.input_shape, device="meta"))
    outs = tuple(out) if isinstance(out, tuple) else (out,)
    assert counter.get_total_flops() == 2 * 2 * analysis.totals.macs
    assert [tuple(o.shape[1:]) for o in outs] == list(analysis.outputs.values())


# ---- lecture networks without a torchvision twin: counts written out by hand ----------------


def conv(c_in, c_out, k, out_hw, bias=True):
    """(params, MACs) of a k x k convolution producing an out_hw x out_hw grid."""
    return c_out * c_in * k * k + (c_out if bias else 0), c_out * out_hw * out_hw * c_in * k * k


def fc(n_in, n_out):
    return n_out * n_in + n_out, n_in * n_out


def totals(*layers):
    return sum(p for p, _ in layers), sum(m for _, m in layers)


# Each lecture network as its list of layers, with the output grid each conv produces.
HAND = {
    # conv 6@5x5 -> 24, pool -> 12, conv 16@5x5 -> 8, pool -> 4, FC 256-120-84-10
    "lenet5": [conv(1, 6, 5, 24), conv(6, 16, 5, 8), fc(256, 120), fc(120, 84), fc(84, 10)],
    # two 3x3 convs per stage at 32, 16, 8, 4; FC 512*2*2 -> 4096 -> 4096 -> 10
    "cifar_vgg": [
        conv(3, 64, 3, 32), conv(64, 64, 3, 32), conv(64, 128, 3, 16), conv(128, 128, 3, 16),
        conv(128, 256, 3, 8), conv(256, 256, 3, 8), conv(256, 512, 3, 4), conv(512, 512, 3, 4),
        fc(2048, 4096), fc(4096, 4096), fc(4096, 10),
    ],
    # mlpconv blocks at 32x32, 16x16 and 8x8
    "nin": [
        conv(3, 192, 5, 32), conv(192, 160, 1, 32), conv(160, 96, 1, 32),
        conv(96, 192, 5, 16), conv(192, 192, 1, 16), conv(192, 192, 1, 16),
        conv(192, 192, 3, 8), conv(192, 192, 1, 8), conv(192, 10, 1, 8),
    ],
    # 96-channel stage (32, 32, 16), 192-channel stage (16, 16, 8), valid 3x3 -> 6, 1x1, 1x1
    "allcnn_c": [
        conv(3, 96, 3, 32), conv(96, 96, 3, 32), conv(96, 96, 3, 16),
        conv(96, 192, 3, 16), conv(192, 192, 3, 16), conv(192, 192, 3, 8),
        conv(192, 192, 3, 6), conv(192, 192, 1, 6), conv(192, 10, 1, 6),
    ],
}


@pytest.mark.parametrize("stem", list(HAND))
def test_lecture_nets_match_hand_counts(stem):
    analysis = analyze(stem, {})
    assert (analysis.totals.params, analysis.totals.macs) == totals(*HAND[stem])
    assert list(analysis.outputs.values()) == [(10,)]


def test_googlenet_aux_heads_are_extra_outputs_only():
    plain, aux = analyze("googlenet", {}), analyze("googlenet", {"aux": True})
    assert list(aux.outputs) == ["fc", "aux2", "aux1"]
    assert trunk_macs(aux) == plain.totals.macs
    assert elaborate(SPECS / "googlenet.net").outputs[0].node == "fc"


@pytest.mark.parametrize(
    "case",
    ["alexnet", "vgg16", "resnet18", "resnet50", "resnext50_32x4d", "googlenet", "inception_v3", "squeezenet1_0", "mobilenet_v2", "densenet121"],
)
def test_compiled_module_computes_what_torchvision_computes(case):
    """With torchvision's (random) weights copied over in order, the outputs are the same function."""
    torch = pytest.importorskip("torch")
    torchvision = pytest.importorskip("torchvision")
    stem, params, builder, kwargs, _ = TWINS[case]
    torch.manual_seed(0)
    theirs = getattr(torchvision.models, builder)(weights=None, **kwargs).eval()
    ours = netspec.compile(SPECS / f"{stem}.net", **params).eval()
    their_state, our_state = theirs.state_dict(), ours.state_dict()
    assert [tuple(t.shape) for t in our_state.values()] == [tuple(t.shape) for t in their_state.values()]
    ours.load_state_dict(dict(zip(our_state, their_state.values())))
    x = torch.randn(2, *analyze(stem, params).input_shape)
    with torch.no_grad():
        expected, got = theirs(x), ours(x)
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-4)
