"""Differential tests of the op table, with torch as the oracle.

For every registered op, a table of cases builds the generated module (`op.module`) and
checks against what torch actually does: the output shape against `infer`, parameter and
buffer element counts against `params`/`buffers`, and `FlopCounterMode` against `macs`.
A second table lists invalid inputs that must raise `OpError` (and nothing else), and a
hypothesis property test compares the sliding-window ops' shape rules with torch on random
geometry.
"""
from __future__ import annotations

import math
import warnings
from typing import Any

import pytest
import torch
import torch.nn as nn
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch.utils.flop_counter import FlopCounterMode

from netspec.ops import all_ops, lookup
from netspec.ops.base import OpError, Symbol

BATCH = 2
SAME, VALID = Symbol("same"), Symbol("valid")


def case(op: str, raw: dict[str, Any], *shapes: tuple[int, ...], id: str = ""):
    return pytest.param(op, raw, list(shapes), id=f"{op}-{id}" if id else op)


# ---- the valid cases: (op name, raw attrs, input shapes) ---------------------------------

CASES = [
    # convolution
    case("conv", {"channels": 8, "kernel": 3}, (3, 10, 10), id="2d-basic"),
    case("conv", {"channels": 4, "kernel": 5, "stride": 2, "pad": 1}, (3, 17), id="1d-stride-pad"),
    case("conv", {"channels": 4, "kernel": 3, "pad": 1, "stride": (1, 2, 2)}, (2, 5, 6, 7), id="3d-per-axis-stride"),
    case("conv", {"channels": 8, "kernel": 3, "groups": 4, "pad": 1}, (4, 6, 6), id="groups"),
    case("conv", {"channels": 6, "kernel": 3, "groups": 6, "stride": 2, "pad": 1}, (6, 9, 9), id="depthwise"),
    case("conv", {"channels": 4, "kernel": 3, "dilation": 2, "pad": 2}, (3, 9, 9), id="dilation"),
    case("conv", {"channels": 4, "kernel": 3, "dilation": (1, 3)}, (3, 9, 9), id="per-axis-dilation"),
    case("conv", {"channels": 4, "kernel": 5, "pad": SAME}, (3, 7, 7), id="same-odd"),
    case("conv", {"channels": 4, "kernel": 4, "pad": SAME}, (3, 7, 6), id="same-even"),
    case("conv", {"channels": 4, "kernel": (2, 3), "pad": SAME}, (3, 5, 5), id="same-mixed"),
    case("conv", {"channels": 4, "kernel": (1, 4), "dilation": 2, "pad": SAME}, (3, 5, 9), id="same-dilated"),
    case("conv", {"channels": 2, "kernel": 4, "pad": SAME}, (3, 6), id="same-1d-even"),
    case("conv", {"channels": 2, "kernel": 3, "pad": SAME}, (2, 3, 4, 5), id="same-3d"),
    case("conv", {"channels": 4, "kernel": 3, "pad": SAME}, (3, 2, 2), id="same-kernel-bigger-than-input"),
    case("conv", {"channels": 4, "kernel": 3, "pad": VALID}, (3, 6, 6), id="valid"),
    case("conv", {"channels": 4, "kernel": (1, 7), "pad": (0, 3)}, (3, 8, 8), id="1x7"),
    case("conv", {"channels": 4, "kernel": (7, 1), "pad": (3, 0), "stride": (2, 1)}, (3, 8, 8), id="7x1-stride"),
    case("conv", {"channels": 4, "kernel": 1, "bias": False}, (6, 5, 5), id="1x1-nobias"),
    case("conv", {"channels": 6, "kernel": 3, "stride": 3, "groups": 3, "bias": False}, (3, 4, 11), id="stride-gt-size"),
    case("conv", {"channels": 4, "kernel": 2, "stride": 2, "dilation": 2, "pad": (1, 0, 2)}, (2, 5, 4, 6), id="3d-everything"),
    # transposed convolution
    case("deconv", {"channels": 4, "kernel": 3, "stride": 2, "pad": 1, "output_pad": 1}, (3, 5, 5), id="output-pad"),
    case("deconv", {"channels": 4, "kernel": 4, "stride": 2, "pad": 1}, (3, 6), id="1d"),
    case("deconv", {"channels": 2, "kernel": 2, "stride": 2}, (4, 2, 3, 3), id="3d"),
    case("deconv", {"channels": 6, "kernel": 3, "groups": 2, "dilation": 2}, (4, 4, 4), id="groups-dilation"),
    case("deconv", {"channels": 4, "kernel": (2, 3), "stride": (2, 1), "bias": False}, (3, 4, 4), id="per-axis-nobias"),
    case("deconv", {"channels": 4, "kernel": 3, "dilation": 2, "output_pad": 1}, (3, 4, 4), id="output-pad-by-dilation"),
    case("deconv", {"channels": 4, "kernel": 3, "stride": (3, 2), "output_pad": (2, 1), "pad": (0, 1)}, (2, 3, 3),
         id="per-axis-output-pad"),
    # window pooling
    case("maxpool", {"kernel": 2}, (3, 8, 8), id="2d"),
    case("maxpool", {"kernel": 3, "stride": 2, "pad": 1}, (3, 9, 9), id="stride-pad"),
    case("maxpool", {"kernel": 3, "stride": 2, "ceil": True}, (3, 8, 8), id="ceil"),
    case("maxpool", {"kernel": 3, "stride": 2, "pad": 1, "ceil": True}, (3, 8, 8), id="ceil-pad"),
    case("maxpool", {"kernel": 2, "stride": 2, "pad": 1, "ceil": True}, (3, 5, 5), id="ceil-pad-last-window-dropped"),
    case("maxpool", {"kernel": 3, "stride": 2}, (3, 10), id="1d"),
    case("maxpool", {"kernel": 2, "stride": (1, 2, 2)}, (2, 3, 4, 5), id="3d"),
    case("maxpool", {"kernel": (1, 3), "stride": 1, "pad": (0, 1)}, (3, 4, 6), id="1x3"),
    case("avgpool", {"kernel": 2}, (3, 8, 8), id="2d"),
    case("avgpool", {"kernel": 3, "stride": 2, "pad": 1, "ceil": True}, (3, 8, 8), id="ceil-pad"),
    case("avgpool", {"kernel": 3, "stride": 1, "pad": 1, "count_pad": False}, (3, 5, 5), id="no-count-pad"),
    case("avgpool", {"kernel": 4, "stride": 3, "ceil": True}, (3, 9), id="1d-ceil"),
    case("avgpool", {"kernel": (1, 2, 2)}, (2, 3, 4, 5), id="3d"),
    case("avgpool", {"kernel": 4, "ceil": True}, (3, 3), id="ceil-kernel-larger-than-input"),
    case("avgpool", {"kernel": 4, "pad": 2}, (3, 1, 2), id="2d-padded-kernel-larger-than-input"),
    case("maxpool", {"kernel": (4, 1, 1), "pad": (2, 0, 0)}, (1, 1, 1, 1), id="3d-padded-kernel-larger-than-input"),
    # adaptive and global pooling
    case("adaptive_avgpool", {"size": (3, 2)}, (3, 7, 5), id="non-dividing"),
    case("adaptive_avgpool", {"size": 3}, (2, 10), id="1d"),
    case("adaptive_avgpool", {"size": (2, 3, 1)}, (2, 5, 7, 4), id="3d"),
    case("adaptive_avgpool", {"size": 4}, (2, 3, 3), id="larger-than-input"),
    case("adaptive_maxpool", {"size": (3, 2)}, (3, 7, 5), id="non-dividing"),
    case("adaptive_maxpool", {"size": 3}, (2, 10), id="1d"),
    case("adaptive_maxpool", {"size": 2}, (2, 5, 5, 3), id="3d"),
    case("global_avgpool", {}, (3, 5, 6), id="2d"),
    case("global_avgpool", {}, (3, 5), id="1d"),
    case("global_avgpool", {}, (3, 2, 3, 4), id="3d"),
    case("global_maxpool", {}, (3, 5, 6), id="2d"),
    case("global_maxpool", {}, (3, 5), id="1d"),
    case("global_maxpool", {}, (3, 2, 3, 4), id="3d"),
    # normalization
    case("batchnorm", {}, (5,), id="flat"),
    case("batchnorm", {}, (4, 6), id="1d"),
    case("batchnorm", {"eps": 1e-3, "momentum": 0.01}, (4, 5, 5), id="2d-eps-momentum"),
    case("batchnorm", {"affine": False}, (3, 2, 3, 4), id="3d-no-affine"),
    case("layernorm", {}, (4, 3, 3), id="2d"),
    case("layernorm", {"eps": 1e-6}, (7,), id="flat"),
    case("layernorm", {"affine": False}, (2, 5), id="no-affine"),
    case("groupnorm", {"groups": 2}, (4, 3, 3), id="2d"),
    case("groupnorm", {"groups": 3, "affine": False, "eps": 1e-3}, (6, 5), id="1d-no-affine"),
    case("groupnorm", {"groups": 1}, (4, 2, 2, 2), id="3d"),
    case("lrn", {"size": 3}, (8, 4, 4), id="2d"),
    case("lrn", {"size": 5, "alpha": 2e-4, "beta": 0.5, "k": 2.0}, (8, 5), id="1d"),
    # dropout
    case("dropout", {}, (4, 3, 3), id="default"),
    case("dropout", {"p": 0.2, "inplace": True}, (10,), id="flat-inplace"),
    case("dropout2d", {"p": 0.3}, (4, 3, 3), id="2d"),
    case("dropout2d", {}, (4, 6), id="1d"),
    case("dropout2d", {"p": 1.0}, (4, 2, 3, 3), id="3d"),
    # linear
    case("linear", {"features": 10}, (12,), id="basic"),
    case("linear", {"features": 1, "bias": False}, (7,), id="nobias"),
    # activations
    case("relu", {}, (3, 4, 4)),
    case("relu", {"inplace": True}, (5,), id="inplace"),
    case("relu6", {"inplace": True}, (3, 4)),
    case("leaky_relu", {"slope": 0.2}, (3, 4, 4)),
    case("elu", {"alpha": 0.5}, (3, 4)),
    case("gelu", {}, (3, 4, 4)),
    case("gelu", {"approximate": Symbol("tanh")}, (6,), id="tanh"),
    case("silu", {}, (3, 2, 2, 2)),
    case("sigmoid", {}, (3, 4)),
    case("tanh", {}, (3, 4, 4)),
    case("hardswish", {"inplace": True}, (3, 4, 4)),
    case("hardsigmoid", {}, (8,)),
    case("softmax", {}, (5, 3, 3)),
    case("softmax", {}, (10,), id="flat"),
    case("log_softmax", {}, (10,)),
    case("prelu", {}, (3, 4, 4), id="shared"),
    case("prelu", {"per_channel": True, "init": 0.1}, (3, 4, 4), id="per-channel"),
    case("prelu", {"per_channel": True}, (6,), id="flat"),
    # reshaping
    case("flatten", {}, (3, 4, 5)),
    case("flatten", {}, (6,), id="already-flat"),
    case("identity", {}, (3, 4, 4)),
    case("reshape", {"shape": (4, 3, 3)}, (36,), id="unflatten"),
    case("reshape", {"shape": (2, -1)}, (4, 3, 3), id="minus-one"),
    case("reshape", {"shape": 36}, (4, 3, 3), id="to-flat"),
    case("zeropad", {"pad": 1}, (3, 4, 4), id="2d"),
    case("zeropad", {"pad": (1, 2)}, (3, 4, 4), id="per-axis"),
    case("zeropad", {"pad": 2}, (3, 4), id="1d"),
    case("zeropad", {"pad": (0, 1, 2)}, (2, 2, 3, 4), id="3d"),
    case("upsample", {"scale": 2}, (3, 4, 4), id="2d-nearest"),
    case("upsample", {"scale": (2, 3), "mode": Symbol("linear")}, (3, 4, 4), id="2d-bilinear-per-axis"),
    case("upsample", {"scale": 3, "mode": Symbol("linear")}, (3, 4), id="1d-linear"),
    case("upsample", {"scale": (1, 2, 2)}, (2, 2, 3, 3), id="3d-nearest"),
    case("upsample", {"scale": 2, "mode": Symbol("linear")}, (2, 2, 3, 3), id="3d-trilinear"),
    case("channel_shuffle", {"groups": 2}, (8, 3, 3)),
    case("channel_shuffle", {"groups": 3}, (6, 4), id="1d"),
    # merging and splitting
    case("add", {}, (4, 3, 3), (4, 3, 3), id="two"),
    case("add", {}, (6,), (6,), (6,), id="three-flat"),
    case("mul", {}, (4, 1, 1), (4, 5, 5), id="gate-first"),
    case("mul", {}, (4, 5, 5), (4, 1, 1), id="gate-second"),
    case("mul", {}, (4, 5, 1), (1, 1, 6), (4, 5, 6), id="three-broadcast"),
    case("weighted_sum", {}, (4, 3, 3), (4, 3, 3), id="two"),
    case("weighted_sum", {}, (6,), (6,), (6,), (6,), id="four-flat"),
    case("weighted_sum", {"learned": False}, (4, 3, 3), (4, 3, 3), (4, 3, 3), id="mean"),
    case("concat", {}, (3, 4, 4), (5, 4, 4), id="channels"),
    case("concat", {}, (1, 2), (2, 2), (3, 2), id="three"),
    case("concat", {"axis": 1}, (3, 2, 4), (3, 5, 4), id="axis-1"),
    case("chunk", {"parts": 2, "index": 1}, (8, 3, 3), id="second-half"),
    case("chunk", {"parts": 4, "index": 3}, (8, 2), id="last-quarter"),
    case("chunk", {"parts": 1}, (5,), id="whole"),
    case("split", {"sizes": (2, 6), "index": 1}, (8, 3, 3), id="second"),
    case("split", {"sizes": (1, 2, 3), "index": 0}, (6, 2), id="first-of-three"),
    case("split", {"sizes": 4}, (4, 2, 2), id="single-int"),
]


def test_cases_cover_every_op():
    covered = {p.values[0] for p in CASES}
    assert covered == set(all_ops()), (
        f"missing cases for {sorted(set(all_ops()) - covered)}; unknown ops {sorted(covered - set(all_ops()))}"
    )


def namespace(op) -> dict[str, Any]:
    ns: dict[str, Any] = {"nn": nn, "torch": torch}
    if op.helper:
        exec(op.helper, ns)
    return ns


def build(op, attrs, shapes) -> nn.Module:
    return eval(op.module(attrs, shapes).render(), namespace(op))


def run(op, attrs, module: nn.Module, xs: list[torch.Tensor]) -> torch.Tensor:
    names = [f"x{i}" for i in range(len(xs))]
    ns = {"m": module, **dict(zip(names, xs))}
    return eval(op.forward(attrs, "m", names), ns)


@pytest.mark.parametrize("name, raw, shapes", CASES)
def test_op_matches_torch(name, raw, shapes):
    torch.manual_seed(0)
    op = lookup(name)
    assert op is not None
    attrs = op.prepare(raw, shapes)
    out_shape = op.infer(attrs, shapes)

    module = build(op, attrs, shapes)
    xs = [torch.randn(BATCH, *s) for s in shapes]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            y = run(op, attrs, module, xs)

    assert tuple(y.shape) == (BATCH, *out_shape), "output shape differs from infer()"
    assert sum(p.numel() for p in module.parameters()) == op.params(attrs, shapes), "params differ"
    assert sum(b.numel() for b in module.buffers()) == op.buffers(attrs, shapes), "buffers differ"
    flops = counter.get_total_flops()
    assert flops % (2 * BATCH) == 0
    assert flops // (2 * BATCH) == op.macs(attrs, shapes, out_shape), "MACs differ from FlopCounterMode"


# ---- invalid inputs: OpError, and nothing else ------------------------------------------

ERRORS = [
    case("conv", {"channels": 4, "kernel": 5}, (3, 3, 3), id="kernel-larger-than-input"),
    case("conv", {"channels": 4, "kernel": 3, "dilation": 3}, (3, 6, 6), id="dilated-collapse"),
    case("conv", {"channels": 4, "kernel": 3, "groups": 3}, (4, 8, 8), id="groups-input"),
    case("conv", {"channels": 5, "kernel": 3, "groups": 2}, (4, 8, 8), id="groups-output"),
    case("conv", {"channels": 4, "kernel": 3, "pad": SAME, "stride": 2}, (3, 8, 8), id="same-stride-2"),
    case("conv", {"channels": 4, "kernel": 3, "pad": SAME, "stride": (1, 2)}, (3, 8, 8), id="same-stride-per-axis"),
    case("conv", {"channels": 4, "kernel": (3, 3, 3)}, (3, 8, 8), id="kernel-wrong-axes"),
    case("conv", {"channels": 4, "kernel": 3, "stride": (1, 1, 1)}, (3, 8), id="stride-wrong-axes"),
    case("conv", {"channels": -1, "kernel": 3}, (3, 8, 8), id="negative-channels"),
    case("conv", {"channels": 0, "kernel": 3}, (3, 8, 8), id="zero-channels"),
    case("conv", {"channels": 4, "kernel": 0}, (3, 8, 8), id="zero-kernel"),
    case("conv", {"channels": 4, "kernel": 3, "stride": 0}, (3, 8, 8), id="zero-stride"),
    case("conv", {"channels": 4, "kernel": 3, "pad": -1}, (3, 8, 8), id="negative-pad"),
    case("conv", {"channels": 4, "kernel": 3, "pad": Symbol("full")}, (3, 8, 8), id="unknown-pad-word"),
    case("conv", {"channels": 4, "kernel": 3, "pad": "full"}, (3, 8, 8), id="unknown-pad-string"),
    case("conv", {"channels": 4, "kernel": 1}, (3,), id="flat-input"),
    case("conv", {"channels": 4, "kernel": 1}, (3, 2, 2, 2, 2), id="4d-spatial"),
    case("conv", {"channels": 4}, (3, 8, 8), id="missing-kernel"),
    case("conv", {"channels": 4, "kernel": 3, "bias": 1}, (3, 8, 8), id="bias-not-bool"),
    case("conv", {"channels": 2.5, "kernel": 3}, (3, 8, 8), id="fractional-channels"),
    case("conv", {"channels": Symbol("width"), "kernel": 3}, (3, 8, 8), id="undefined-name"),
    case("deconv", {"channels": 4, "kernel": 3, "stride": 2, "output_pad": 2}, (3, 4, 4), id="output-pad-too-big"),
    case("deconv", {"channels": 4, "kernel": 1, "pad": 1}, (3, 1, 1), id="collapse"),
    case("deconv", {"channels": 4, "kernel": 3, "groups": 3}, (4, 4, 4), id="groups"),
    case("deconv", {"channels": 4, "kernel": 3, "pad": SAME}, (3, 4, 4), id="same-pad"),
    case("deconv", {"channels": 4, "kernel": (3, 3)}, (3, 4), id="kernel-wrong-axes"),
    case("maxpool", {"kernel": 5}, (3, 3, 3), id="kernel-larger-than-input"),
    case("maxpool", {"kernel": 3, "pad": 2}, (3, 8, 8), id="pad-over-half-kernel"),
    case("maxpool", {"kernel": (2, 2)}, (3, 8), id="kernel-wrong-axes"),
    case("maxpool", {"kernel": 2, "stride": 0}, (3, 8, 8), id="zero-stride"),
    case("maxpool", {"kernel": 2}, (8,), id="flat-input"),
    case("avgpool", {"kernel": 1, "pad": 1}, (3, 8, 8), id="pad-over-half-kernel"),
    case("avgpool", {"kernel": 4}, (3, 3), id="collapse"),
    case("avgpool", {"kernel": (4, 1, 1), "pad": (2, 0, 0)}, (1, 3, 2, 2), id="3d-input-smaller-than-kernel"),
    case("avgpool", {"kernel": 2, "count_pad": "no"}, (3, 4, 4), id="count-pad-not-bool"),
    case("adaptive_avgpool", {"size": 0}, (3, 4, 4), id="zero-size"),
    case("adaptive_maxpool", {"size": (2, 2)}, (3, 4), id="size-wrong-axes"),
    case("global_avgpool", {}, (10,), id="flat-input"),
    case("global_maxpool", {}, (3, 2, 2, 2, 2), id="4d-spatial"),
    case("linear", {"features": 10}, (3, 4, 4), id="non-flat"),
    case("linear", {"features": 0}, (12,), id="zero-features"),
    case("add", {}, (4, 3, 3), (4, 3, 2), id="differing-shapes"),
    case("add", {}, (4, 3, 3), (4, 1, 1), id="no-broadcast"),
    case("mul", {}, (4, 3, 3), (4, 2, 3), id="incompatible"),
    case("mul", {}, (4, 3, 3), (4,), id="rank-mismatch"),
    case("weighted_sum", {}, (4, 3, 3), (4, 1, 1), id="no-broadcast"),
    case("weighted_sum", {"learned": 1}, (4, 3, 3), (4, 3, 3), id="learned-not-bool"),
    case("concat", {}, (3, 4, 4), (5, 4, 5), id="spatial-mismatch"),
    case("concat", {}, (3, 4, 4), (3, 16), id="rank-mismatch"),
    case("concat", {"axis": 3}, (3, 4, 4), (3, 4, 4), id="axis-out-of-range"),
    case("chunk", {"parts": 3}, (8, 2, 2), id="not-dividing"),
    case("chunk", {"parts": 2, "index": 2}, (8, 2, 2), id="index-out-of-range"),
    case("split", {"sizes": (2, 5)}, (8, 2, 2), id="wrong-sum"),
    case("split", {"sizes": (4, 4), "index": 2}, (8, 2, 2), id="index-out-of-range"),
    case("split", {"sizes": (10, -2)}, (8, 2, 2), id="negative-size"),
    case("reshape", {"shape": (4, 4)}, (3, 5), id="wrong-count"),
    case("reshape", {"shape": (-1, -1)}, (4, 4), id="two-minus-ones"),
    case("reshape", {"shape": (-1, 5)}, (4, 4), id="minus-one-not-dividing"),
    case("reshape", {"shape": (0, 16)}, (4, 4), id="zero"),
    case("dropout", {"p": 1.5}, (4,), id="p-above-1"),
    case("dropout", {"p": -0.1}, (4,), id="p-below-0"),
    case("dropout", {"p": Symbol("half")}, (4,), id="p-undefined"),
    case("dropout2d", {}, (4,), id="flat-input"),
    case("batchnorm", {}, (3, 2, 2, 2, 2), id="rank-5"),
    case("batchnorm", {"eps": "small"}, (3, 4), id="eps-not-number"),
    case("groupnorm", {"groups": 3}, (4, 2, 2), id="not-dividing"),
    case("groupnorm", {"groups": 0}, (4, 2, 2), id="zero-groups"),
    case("lrn", {"size": 3}, (8,), id="flat-input"),
    case("lrn", {"size": 0}, (8, 2, 2), id="zero-size"),
    case("channel_shuffle", {"groups": 3}, (8, 2, 2), id="not-dividing"),
    case("channel_shuffle", {"groups": 2}, (8,), id="flat-input"),
    case("zeropad", {"pad": -1}, (3, 4, 4), id="negative"),
    case("zeropad", {"pad": (1, 1, 1)}, (3, 4, 4), id="wrong-axes"),
    case("upsample", {"scale": 0}, (3, 4, 4), id="zero-scale"),
    case("upsample", {"scale": 2, "mode": Symbol("cubic")}, (3, 4, 4), id="unknown-mode"),
    case("upsample", {"scale": 2}, (3,), id="flat-input"),
    case("gelu", {"approximate": Symbol("erf")}, (3,), id="unknown-choice"),
    case("relu", {"inplace": "yes"}, (3,), id="inplace-not-bool"),
    case("leaky_relu", {"slope": True}, (3,), id="slope-bool"),
    case("prelu", {"per_channel": 1}, (3,), id="per-channel-not-bool"),
]


@pytest.mark.parametrize("name, raw, shapes", ERRORS)
def test_invalid_raises_op_error(name, raw, shapes):
    op = lookup(name)
    with pytest.raises(OpError):
        attrs = op.prepare(raw, shapes)
        op.infer(attrs, shapes)


# ---- property: random sliding-window geometry against torch ------------------------------


def _axis_value(draw, rank: int, lo: int, hi: int):
    """An int, or one int per spatial axis."""
    if draw(st.booleans()):
        return draw(st.integers(lo, hi))
    return tuple(draw(st.integers(lo, hi)) for _ in range(rank))


def _expand(value, rank: int) -> tuple[int, ...]:
    return value if isinstance(value, tuple) else (value,) * rank


@st.composite
def window_cases(draw):
    name = draw(st.sampled_from(["conv", "deconv", "maxpool", "avgpool", "adaptive_avgpool", "adaptive_maxpool"]))
    rank = draw(st.integers(1, 3))
    channels = draw(st.integers(1, 4))
    spatial = tuple(draw(st.integers(1, 7 if rank < 3 else 5)) for _ in range(rank))
    if name.startswith("adaptive"):
        return name, {"size": _axis_value(draw, rank, 0, 8)}, (channels, *spatial)
    raw: dict[str, Any] = {"kernel": _axis_value(draw, rank, 1, 5)}
    if draw(st.booleans()):
        raw["stride"] = _axis_value(draw, rank, 1, 3)
    if name in ("conv", "deconv"):
        raw["channels"] = draw(st.integers(1, 4))
        raw["groups"] = draw(st.integers(1, 3))
        raw["dilation"] = _axis_value(draw, rank, 1, 3)
        raw["bias"] = draw(st.booleans())
    if name == "conv":
        raw["pad"] = draw(st.one_of(st.sampled_from([SAME, VALID]), st.just(None)))
        if raw["pad"] is None:
            raw["pad"] = _axis_value(draw, rank, 0, 3)
    else:
        raw["pad"] = _axis_value(draw, rank, 0, 3)
    if name == "deconv":
        raw["output_pad"] = _axis_value(draw, rank, 0, 2)
    if name in ("maxpool", "avgpool"):
        raw["ceil"] = draw(st.booleans())
    if name == "avgpool":
        raw["count_pad"] = draw(st.booleans())
    return name, raw, (channels, *spatial)


def torch_reference(name: str, raw: dict[str, Any], shape: tuple[int, ...]) -> nn.Module:
    """The torch module written straight from the raw attributes, independent of op.module()."""
    rank = len(shape) - 1
    if name.startswith("adaptive"):
        kind = "Avg" if name == "adaptive_avgpool" else "Max"
        return getattr(nn, f"Adaptive{kind}Pool{rank}d")(_expand(raw["size"], rank))
    kernel = _expand(raw["kernel"], rank)
    if name in ("conv", "deconv"):
        common = dict(
            stride=_expand(raw.get("stride", 1), rank),
            dilation=_expand(raw["dilation"], rank),
            groups=raw["groups"],
            bias=raw["bias"],
        )
        if name == "conv":
            pad = raw["pad"].name if isinstance(raw["pad"], Symbol) else _expand(raw["pad"], rank)
            cls = getattr(nn, f"Conv{rank}d")
            return cls(shape[0], raw["channels"], kernel, padding=pad, **common)
        cls = getattr(nn, f"ConvTranspose{rank}d")
        return cls(
            shape[0], raw["channels"], kernel, padding=_expand(raw["pad"], rank),
            output_padding=_expand(raw["output_pad"], rank), **common,
        )
    stride = _expand(raw.get("stride", raw["kernel"]), rank)
    pad = _expand(raw["pad"], rank)
    if name == "maxpool":
        return getattr(nn, f"MaxPool{rank}d")(kernel, stride, pad, ceil_mode=raw["ceil"])
    return getattr(nn, f"AvgPool{rank}d")(kernel, stride, pad, ceil_mode=raw["ceil"], count_include_pad=raw["count_pad"])


def torch_shape(make) -> tuple[int, ...] | None:
    """The per-sample output shape torch gives, or None if torch refuses (at build or run time)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            module, x = make()
            with torch.no_grad():
                return tuple(module(x).shape[1:])
    except (RuntimeError, ValueError):
        return None


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(window_cases())
def test_window_ops_agree_with_torch(params):
    """conv, deconv, max/avg and adaptive pooling: we accept ⇒ torch accepts with our shape."""
    name, raw, shape = params
    op = lookup(name)
    x = torch.randn(1, *shape)
    reference = torch_shape(lambda: (torch_reference(name, raw, shape), x))
    try:
        attrs = op.prepare(raw, [shape])
        inferred = op.infer(attrs, [shape])
    except OpError:
        # We refuse: torch must refuse too, or produce an empty (collapsed) axis.
        assert reference is None or math.prod(reference) == 0, f"torch accepts {raw} on {shape}: {reference}"
        return
    # We accept: both the generated module and the reference must run and agree with infer().
    generated = torch_shape(lambda: (build(op, attrs, [shape]), x))
    assert generated == inferred, f"generated module {op.module(attrs, [shape])} gives {generated}, infer {inferred}"
    assert reference == inferred, f"torch gives {reference}, infer {inferred}"
