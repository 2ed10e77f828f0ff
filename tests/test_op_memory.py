"""Each op's memory declarations against torch: what autograd saves, aliasing, the in-place form.

For every case of the op table (tests/test_ops.py) the op's torch module runs in training
mode under `torch.autograd.graph.saved_tensors_hooks`, which sees every tensor autograd
keeps for backward. Parameters and buffers are set aside; each other saved storage is an
input, the output, or an extra (mask, indices, statistics, copy), and must match
`OpDef.saved` byte for byte. In eval mode, the output shares storage with the input
exactly when `OpDef.aliases_input` says so; an op's in-place form writes into the operand
`OpDef.inplace_operand` names.
"""
from __future__ import annotations

import warnings

import pytest
import torch

from netspec.ops import lookup
from netspec.ops.base import numel
from tests.test_ops import BATCH, CASES, build, run

FLOAT = 4  # bytes of a float32 activation


def storage_of(t: torch.Tensor) -> int:
    return t.untyped_storage().data_ptr()


def saved_by_torch(module, op, attrs, xs):
    """{'inputs': set of input indices, 'output': bool, 'extra': bytes} of what autograd keeps."""
    kept: dict[int, torch.Tensor] = {}

    def pack(t):
        kept.setdefault(storage_of(t), t)
        return t

    module.train()
    with warnings.catch_warnings(), torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        warnings.simplefilter("ignore")
        y = run(op, attrs, module, xs)
    state = {storage_of(t) for t in list(module.parameters()) + list(module.buffers())}
    inputs = {storage_of(x): i for i, x in enumerate(xs)}
    found = {"inputs": set(), "output": False, "extra": 0}
    for ptr, t in kept.items():
        if ptr in state or t.numel() == 0:
            continue
        if ptr == storage_of(y):  # first: an op run in place outputs into its input
            found["output"] = True
        elif ptr in inputs:
            found["inputs"].add(inputs[ptr])
        else:
            found["extra"] += t.untyped_storage().nbytes()
    return found, y


def declared(saved):
    extra = sum(k.elements * (BATCH if k.per_sample else 1) * (k.itemsize or FLOAT) for k in saved.extra)
    return {"inputs": set(saved.inputs), "output": saved.output, "extra": extra}


def inputs_for(shapes):
    # a fresh non-leaf tensor per input, so in-place forms are allowed on it
    return [(torch.randn(BATCH, *s, requires_grad=True) * 1.0) for s in shapes]


@pytest.mark.parametrize("name, raw, shapes", CASES)
def test_saved_for_backward_matches_autograd(name, raw, shapes):
    torch.manual_seed(0)
    op = lookup(name)
    attrs = op.prepare(raw, shapes)
    out_shape = op.infer(attrs, shapes)
    found, _ = saved_by_torch(build(op, attrs, shapes), op, attrs, inputs_for(shapes))
    assert found == declared(op.saved(attrs, shapes, out_shape))


@pytest.mark.parametrize("name, raw, shapes", CASES)
def test_aliasing_matches_torch_in_eval_mode(name, raw, shapes):
    op = lookup(name)
    attrs = op.prepare(raw, shapes)
    module = build(op, attrs, shapes).eval()
    xs = inputs_for(shapes)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        y = run(op, attrs, module, xs)
    assert (storage_of(y) == storage_of(xs[0])) == op.aliases_input(attrs, shapes)


INPLACE_CASES = [c for c in CASES if lookup(c.values[0]).inplace_operand(
    lookup(c.values[0]).prepare(c.values[1], c.values[2]), c.values[2]) is not None]


def test_the_in_place_forms_are_covered():
    assert {c.values[0] for c in INPLACE_CASES} >= {"relu", "relu6", "leaky_relu", "elu", "silu", "hardswish",
                                                    "hardsigmoid", "dropout", "add"}


@pytest.mark.parametrize("name, raw, shapes", INPLACE_CASES)
def test_in_place_form_overwrites_its_operand_and_saves_what_it_declares(name, raw, shapes):
    torch.manual_seed(0)
    op = lookup(name)
    attrs = op.prepare(raw, shapes)
    out_shape = op.infer(attrs, shapes)
    operand = op.inplace_operand(attrs, shapes)
    module = eval(op.inplace_module(attrs, shapes).render(), build.__globals__["namespace"](op))
    xs = inputs_for(shapes)
    target = storage_of(xs[operand])
    found, y = saved_by_torch(module, op, attrs, xs)
    assert storage_of(y) == target
    expected = declared(op.saved(attrs, shapes, out_shape, inplace=True))
    assert found == expected
    assert numel(out_shape) == numel(shapes[operand])
