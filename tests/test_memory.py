"""The memory analysis against reality and against hand arithmetic.

Reality is `tests/memory_probe.py`: bytes of live tensor storages while the compiled
module runs (a TorchDispatchMode sees every tensor torch returns, a weakref finalizer
sees it freed). The compiled module runs with in-place exactly where the liveness rule
allows (set on its modules by name, as the generated code does once it emits in-place)
and, separately, entirely out of place.
"""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from netspec.analysis.memory import OPTIMIZER_STATE, inference_memory, release_steps, training_memory
from netspec.compiler.build import build_module
from netspec.ir.liveness import liveness
from tests.graph_runner import graph_at
from tests.memory_probe import inference_peak, training_peak

import netspec

ROOT = Path(__file__).resolve().parents[1]


def compiled(graph, inplace: bool):
    """The compiled module; with `inplace`, the nodes the rule allows run in place."""
    torch.manual_seed(0)
    model = build_module(graph)
    chosen = set(liveness(graph).inplace) if inplace else set()
    for node in graph.layers():
        module = model.get_submodule(node.name)
        if hasattr(module, "inplace"):
            module.inplace = node.name in chosen
    return model, chosen


# ---- hand arithmetic ------------------------------------------------------------------------------


def test_a_chain_by_hand():
    # input 1x8x8 (64 floats) → conv 2 3x3 (2x6x6 = 72) → relu (in place) → flatten (view) → linear 10
    graph = netspec.analyze("network t\ninput 1x8x8\nconv 2 3x3\nrelu\nflatten\nlinear 10\n").graph
    memory = inference_memory(graph, batch=3, dtype="float32")
    # while conv runs: the input (held by the caller) and its output; relu writes into the conv's output
    assert memory.live_bytes["conv"] == 3 * 4 * (64 + 72)
    assert memory.live_bytes["relu"] == 3 * 4 * (64 + 72)
    assert memory.live_bytes["linear"] == 3 * 4 * (64 + 72 + 10)  # linear reads the view of the relu output
    assert memory.peak_bytes == 3 * 4 * (64 + 72 + 10) and memory.peak_layer == "linear"
    out_of_place = inference_memory(graph, batch=3, inplace=())
    assert out_of_place.live_bytes["relu"] == 3 * 4 * (64 + 72 + 72)
    assert inference_memory(graph, batch=3, dtype="bfloat16").peak_bytes == memory.peak_bytes // 2


def test_a_block_keeps_its_argument_until_it_returns():
    graph = netspec.analyze(
        "network t\ninput 1x8x8\nblock b():\n    conv 2 3x3\n    relu\n    conv 2 1x1\nconv 4 1x1 as c\nb()\n"
    ).graph
    release = release_steps(graph, liveness(graph))
    order = [n.name for n in graph.nodes]
    assert liveness(graph).last_use["c"] == order.index("b.conv1")
    assert release["c"] == len(order) - 1  # b's caller holds c until b returns


def test_training_sgd_by_hand():
    # input 2 → linear 3 (9 params) → relu → linear 1 (4 params), batch 1, float32
    graph = netspec.analyze("network t\ninput 2\nlinear 3\nrelu\nlinear 1\n").graph
    sgd = training_memory(graph, batch=1, optimizer="sgd")
    assert sgd.param_bytes == 13 * 4 and sgd.gradient_bytes == 13 * 4 and sgd.optimizer_state_bytes == 0
    assert training_memory(graph, optimizer="adam").optimizer_state_bytes == 2 * 13 * 4
    assert training_memory(graph, optimizer="sgd-momentum").optimizer_state_bytes == 13 * 4
    # saved: the input (for linear1's weight gradient) and relu's output, which linear2 also keeps
    assert sgd.saved_bytes == 4 * (2 + 3 + 1)  # + the output, alive until the loss


def test_unknown_optimizer_and_dtype_are_refused():
    graph = netspec.analyze("network t\ninput 2\nlinear 3\n").graph
    with pytest.raises(ValueError, match="optimizer"):
        training_memory(graph, optimizer="rmsprop")
    with pytest.raises(ValueError, match="dtype"):
        inference_memory(graph, dtype="int8")
    assert set(OPTIMIZER_STATE) == {"sgd", "sgd-momentum", "adam", "adamw"}


# ---- reality --------------------------------------------------------------------------------------

NETWORKS = ("lenet5", "resnet18", "googlenet", "densenet121")
# Each layer's own allocations, for every spec of the zoo: tests/test_memory_zoo.py.


# The compiled module's own forward, in-place and not: its measured peak is the analysis' peak.
MODULE = [pytest.param(spec, inplace, id=f"{spec}-{'in-place' if inplace else 'out-of-place'}")
          for spec in NETWORKS for inplace in (True, False)]


@pytest.mark.parametrize("spec, inplace", MODULE)
def test_inference_peak_of_the_compiled_module_within_five_percent(spec, inplace):
    graph = graph_at(ROOT / "specs" / f"{spec}.net")
    model, chosen = compiled(graph, inplace)
    measured = inference_peak(model, torch.randn(2, *graph.input.shape))
    predicted = inference_memory(graph, batch=2, inplace=chosen).peak_bytes
    assert abs(predicted - measured) <= 0.05 * measured, (predicted, measured)


# Training at batch 8 on CPU; global pooling lets the ImageNet networks run at 64x64.
TRAINING = [("lenet5", None, opt) for opt in OPTIMIZER_STATE] + [
    ("resnet18", (3, 64, 64), "adam"),
    ("googlenet", (3, 64, 64), "sgd-momentum"),
    ("densenet121", (3, 64, 64), "sgd"),
]


@pytest.mark.parametrize("spec, input_shape, optimizer", TRAINING, ids=[f"{s}-{o}" for s, _, o in TRAINING])
def test_training_estimate_within_ten_percent(spec, input_shape, optimizer):
    graph = graph_at(ROOT / "specs" / f"{spec}.net", input_shape)
    model, chosen = compiled(graph, inplace=True)
    measured = training_peak(model, torch.randn(8, *graph.input.shape), optimizer)
    predicted = training_memory(graph, batch=8, optimizer=optimizer, inplace=chosen).peak_bytes
    assert abs(predicted - measured) <= 0.10 * measured, (predicted, measured)


# ---- training-only outputs: skipped in eval, counted in training ---------------------------------

AUX_HEAVY = """
network t
input 3x16x16
conv 4 3x3 pad=1 as stem
side = stem | conv 64 3x3 pad=1 | global_avgpool | flatten | linear 10
global_avgpool
flatten
linear 10 as main
output main
output side when training
"""


def test_layers_only_a_training_output_needs_are_not_counted_in_eval():
    graph = netspec.analyze(AUX_HEAVY).graph
    model, chosen = compiled(graph, inplace=True)
    measured = inference_peak(model, torch.randn(2, 3, 16, 16))
    predicted = inference_memory(graph, batch=2, inplace=chosen)
    # by hand, per sample in floats: the input 3·16·16 = 768 and the stem 4·16·16 = 1024 are alive while
    # the pool writes its 4; the side branch's 64·16·16 = 16,384 would dwarf them, but eval skips it
    assert predicted.peak_bytes == measured == 2 * 4 * (768 + 1024 + 4)
    # training runs the side branch: while its conv writes, the input, the stem and its output are alive
    trained = training_memory(graph, batch=2)
    assert trained.peak_bytes >= 2 * 4 * (768 + 1024 + 64 * 16 * 16)
    # the summary says so: the side branch is conv, global_avgpool, flatten, linear
    from netspec.summary import memory_lines

    assert "eval skips the 4 layers only training-mode outputs need" in memory_lines(netspec.analyze(AUX_HEAVY), 2, "float32")[0]


@pytest.mark.parametrize("spec", ["googlenet", "inception_v3"])
def test_eval_peak_with_auxiliary_heads_equals_the_measured_one(spec):
    graph = graph_at(ROOT / "specs" / f"{spec}.net", aux=True)
    assert graph.training_only  # the heads are there, and run in training only
    model, chosen = compiled(graph, inplace=True)
    measured = inference_peak(model, torch.randn(2, *graph.input.shape))
    assert inference_memory(graph, batch=2, inplace=chosen).peak_bytes == measured


def test_googlenet_aux_eval_tail_is_exact():
    # the generated forward runs each head right after its input (as torchvision's), so in eval
    # nothing keeps inception4a or inception4d alive for a head that does not run
    from tests.memory_probe import LiveStorages, _storages

    graph = graph_at(ROOT / "specs" / "googlenet.net", aux=True)
    model, chosen = compiled(graph, inplace=True)
    model.eval()
    probe = LiveStorages(ignore=_storages(list(model.parameters()) + list(model.buffers())))
    seen = {}
    model.fc.register_forward_hook(lambda module, args, out: seen.setdefault("fc", probe.current))
    x = torch.randn(2, *graph.input.shape)
    with torch.no_grad(), probe:
        probe.track(x, "input")
        model(x)
    # by hand, per sample in floats: the caller's input 3·224·224, the pooled features 1024 (flatten
    # and eval's dropout are views of them) and the logits 1000 — nothing of inception4a/4d/5b
    assert seen["fc"] == inference_memory(graph, batch=2, inplace=chosen).live_bytes["fc"] == 2 * 4 * (3 * 224 * 224 + 1024 + 1000)
