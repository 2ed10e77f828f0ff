"""Every spec of the zoo: the memory analysis is exact for the compiled module's own layers.

Each network runs at a small input where global pooling allows it (32x32, or its smallest
size), batch 1, with in-place where the liveness rule allows, driven layer by layer in
execution order (each value dropped after its last reader); the live-storage peak measured
there must equal `inference_memory(..., hold_block_arguments=False)` to the byte. The
JSON's memory figures must also hold together for every spec.
"""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

import netspec
from tests.graph_runner import graph_at
from tests.memory_probe import flat_inference_peak
from netspec.compiler.build import build_module
from netspec.ir.liveness import liveness

ROOT = Path(__file__).resolve().parents[1]
SPECS = sorted((ROOT / "specs").glob("*.net"))


def small_input(path: Path) -> tuple[int, ...] | None:
    analysis = netspec.analyze(path)
    sizes = analysis.input_sizes
    if sizes is None:
        return None
    side = max(32, *sizes.smallest)
    if side >= min(analysis.input_shape[1:]):
        return None
    return (analysis.input_shape[0], *(side for _ in analysis.input_shape[1:]))


@pytest.mark.parametrize("path", SPECS, ids=lambda p: p.stem)
def test_each_layer_allocates_what_the_analysis_counts(path):
    from netspec.analysis.memory import inference_memory

    graph = graph_at(path, small_input(path))
    with torch.device("meta"):  # no time spent initializing weights the measurement ignores
        model = build_module(graph)
    model = model.to_empty(device="cpu")
    for tensor in [*model.parameters(), *model.buffers()]:
        tensor.data.fill_(0.5 if tensor.dim() <= 1 else 0.0)  # no denormals from uninitialized memory
    chosen = set(liveness(graph).inplace)
    for name in chosen:
        model.get_submodule(name).inplace = True
    measured = flat_inference_peak(model, graph, torch.randn(1, *graph.input.shape))
    assert inference_memory(graph, batch=1, inplace=chosen, hold_block_arguments=False).peak_bytes == measured


@pytest.mark.parametrize("path", SPECS, ids=lambda p: p.stem)
def test_memory_figures_hold_together(path):
    analysis = netspec.analyze(path)
    one, three = analysis.as_dict(1, "float32"), analysis.as_dict(3, "float32")
    inference = one["totals"]["memory"]["inference"]
    largest = max(l["activations"] for l in one["layers"]) * 4
    input_bytes = 4 * analysis.totals.input_elements
    assert inference["peak_activation_bytes"] >= largest + input_bytes
    assert three["totals"]["memory"]["inference"]["peak_activation_bytes"] == 3 * inference["peak_activation_bytes"]
    for name, training in one["totals"]["memory"]["training"].items():
        assert training["peak_bytes"] >= training["param_bytes"] * 2 + training["optimizer_state_bytes"]
        assert training["peak_bytes"] >= training["saved_for_backward_bytes"] + training["param_bytes"]
    assert max(l["peak_live_bytes"] for l in one["layers"]) == inference["peak_activation_bytes"]
