"""The tools users count with today (torchinfo, fvcore, ptflops), and netspec's figures restated in each one's convention.

Each tool counts something slightly different; the README of shared/reference and the tools'
sources give the rules, which we restate from netspec's per-layer analysis so that the totals
can be compared exactly:

- torchinfo `total_mult_adds`: for a layer whose class name contains "Conv", its parameter
  count × the output's spatial size; for every other layer with parameters, its parameter
  count. That is our MACs + the bias adds of conv/linear + 2 per batchnorm channel.
- fvcore `FlopCountAnalysis.total()` (one "flop" per multiply-accumulate): conv and linear
  products (no bias) + 2 per batchnorm output element + the input elements of each
  adaptive average pooling.
- ptflops `get_model_complexity_info(..., backend="aten")`: conv and matrix-multiply
  products + their bias adds.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from netspec.ops.base import numel

CONV_OPS = {"conv", "deconv"}  # built as torch ConvNd / ConvTransposeNd
BIASED_PRODUCT_OPS = {"conv", "deconv", "linear"}
ADAPTIVE_AVERAGE_OPS = {"adaptive_avgpool", "global_avgpool"}


def torchinfo_convention(analysis) -> int:
    total = 0
    for layer in analysis.layers:
        if layer.op in CONV_OPS:
            total += layer.params * numel(layer.output_shape[1:])
        else:
            total += layer.params
    return total


def fvcore_convention(analysis) -> int:
    total = analysis.totals.macs
    graph = analysis.graph
    for layer in analysis.layers:
        if layer.op == "batchnorm":
            total += 2 * numel(layer.output_shape)  # eval mode: a scale and a shift per element
        elif layer.op in ADAPTIVE_AVERAGE_OPS:
            total += sum(numel(shape) for shape in graph.input_shapes(graph.node(layer.name)))
    return total


def ptflops_aten_convention(analysis) -> int:
    return analysis.totals.macs + sum(layer.elementwise for layer in analysis.layers if layer.op in BIASED_PRODUCT_OPS)


@dataclass(frozen=True)
class Tool:
    """A counting tool: how to run it on a built model, and netspec's total in its convention."""

    name: str
    package: str
    count: Callable[[Any, tuple[int, ...]], int]  # (model, per-sample input shape) → its total
    ours: Callable[[Any], int]  # netspec Analysis → the same total
    call: str  # how the benchmark calls it, for RESULTS.md


def _torchinfo(model, shape) -> int:
    import torchinfo

    return torchinfo.summary(model, input_size=(1, *shape), verbose=0, device="cpu").total_mult_adds


def _fvcore(model, shape) -> int:
    import warnings

    import torch

    with warnings.catch_warnings():  # fvcore's import scripts a loss with the deprecated torch.jit.script
        warnings.simplefilter("ignore", FutureWarning)
        from fvcore.nn import FlopCountAnalysis

    analysis = FlopCountAnalysis(model, torch.randn(1, *shape))
    analysis.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
    return analysis.total()


def _ptflops(model, shape) -> int:
    from ptflops import get_model_complexity_info

    macs, _ = get_model_complexity_info(
        model, tuple(shape), as_strings=False, print_per_layer_stat=False, verbose=False, backend="aten"
    )
    return macs


TOOLS = (
    Tool("torchinfo", "torchinfo", _torchinfo, torchinfo_convention,
         'torchinfo.summary(model, input_size=(1, *shape), verbose=0, device="cpu").total_mult_adds'),
    Tool("fvcore", "fvcore", _fvcore, fvcore_convention,
         "FlopCountAnalysis(model, torch.randn(1, *shape)).total()"),
    Tool("ptflops", "ptflops", _ptflops, ptflops_aten_convention,
         'get_model_complexity_info(model, shape, as_strings=False, print_per_layer_stat=False, backend="aten")[0]'),
)


def available_tools() -> list[Tool]:
    import importlib.util

    return [tool for tool in TOOLS if importlib.util.find_spec(tool.package) is not None]


# ---- the models the tools run on ------------------------------------------------------------

# torchvision builders whose defaults differ from the spec's defaults (eval-mode twins)
TWIN_KEYWORDS = {
    "googlenet": {"aux_logits": False, "init_weights": False},
    "inception_v3": {"aux_logits": False, "init_weights": False},
}


def twin_model(stem: str):
    """torchvision's model of the same name (random weights, eval mode), or None."""
    import torchvision

    if stem not in torchvision.models.list_models():
        return None
    return getattr(torchvision.models, stem)(weights=None, **TWIN_KEYWORDS.get(stem, {})).eval()


def model_for(stem: str, spec_path) -> tuple[Any, str]:
    """The model a user would hand to the tools: torchvision's twin, else the module netspec compiles."""
    model = twin_model(stem)
    if model is not None:
        return model, "torchvision"
    import netspec

    return netspec.compile(spec_path).eval(), "netspec.compile"
