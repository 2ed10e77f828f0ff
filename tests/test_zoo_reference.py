"""The model zoo in specs/ against the real thing.

Specs with a torchvision twin must match it exactly: parameter count, MACs, output shape
and the order of parameter shapes (so that a state_dict can be loaded in order). They are
checked twice: against the figures measured with torch 2.14.1 / torchvision 0.29.1 in
shared/reference/torch_tools_counts.json, and against a torchvision model built on the
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
REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "reference" / "torch_tools_counts.json"

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
    if not REFERENCE.is_file():
        pytest.skip(f"reference figures not found at {REFERENCE}")
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
    # the 8x8 digits variant: padded 3x3 convs at 8 and 4, pools to 4 and 2; FC 64-120-84-10
    "lenet5_digits": [conv(1, 6, 3, 8), conv(6, 16, 3, 4), fc(64, 120), fc(120, 84), fc(84, 10)],
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


# Inputs smaller than ImageNet's keep the forward cheap; every twin pools adaptively or globally,
# so any size its layers accept computes the same function. Inception v3's auxiliary head needs
# the full 299x299 (its 5x5 conv must fit the 17x17 grid).
SIDE = {"inception_v3": 96, "inception_v3_aux": 299}


def random_weights(model) -> None:
    """Fill a module's tensors with seeded random values of a realistic scale (cheaper than init)."""
    torch = torch_module()
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        _fill(model, generator)


def _fill(model, generator) -> None:
    for name, tensor in [*model.named_parameters(), *model.named_buffers()]:
        if not tensor.is_floating_point():
            tensor.zero_()
        elif name.endswith("running_var"):
            tensor.uniform_(0.5, 1.5, generator=generator)
        elif tensor.dim() > 1:
            tensor.normal_(0, tensor[0].numel() ** -0.5, generator=generator)
        else:
            tensor.normal_(0, 0.1, generator=generator)
            if name.endswith("weight"):  # batchnorm scale
                tensor.add_(1)


def torch_module():
    return pytest.importorskip("torch")


@pytest.mark.parametrize("case", list(TWINS))
def test_torchvision_state_dict_loads_strictly_and_computes_the_same(case):
    """torchvision's state_dict loads with plain load_state_dict(strict=True); eval outputs agree."""
    torch = torch_module()
    torchvision = pytest.importorskip("torchvision")
    stem, params, builder, kwargs, _ = TWINS[case]
    with torch.device("meta"):  # built without initialization, then filled: the same tensors for both
        theirs = getattr(torchvision.models, builder)(weights=None, **kwargs)
        ours = netspec.compile(SPECS / f"{stem}.net", **params)
    theirs = theirs.to_empty(device="cpu").eval()
    ours = ours.to_empty(device="cpu").eval()
    random_weights(theirs)
    ours.load_state_dict(theirs.state_dict(), strict=True)
    side = SIDE.get(case, 64)
    x = torch.randn(2, 3, side, side, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected, got = theirs(x), ours(x)
    if isinstance(got, tuple):  # auxiliary outputs: torchvision returns the main one in eval mode
        got = got[0]
    scale = expected.abs().max().item()
    assert scale > 0
    assert (got - expected).abs().max().item() <= 1e-5 * scale
