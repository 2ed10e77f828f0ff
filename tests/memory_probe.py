"""Measure what torch really holds: bytes of live tensor storages during a forward or a training step.

A TorchDispatchMode sees every tensor an aten op returns (in the forward, and in the
backward, which autograd runs on the calling thread on CPU); each new storage is counted
from that moment until a weakref finalizer on the storage says torch freed it. Kernel
workspaces that never become tensors (oneDNN scratchpads) are not counted — nor predicted.
"""
from __future__ import annotations

import weakref

import torch
import torch.nn.functional as F
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves


class LiveStorages(TorchDispatchMode):
    """Running total and peak of live tensor-storage bytes, with the aten op at the peak."""

    def __init__(self, ignore: set[int] = frozenset()):
        super().__init__()
        self.ignore = set(ignore)
        self.live: dict[int, int] = {}
        self.current = 0
        self.peak = 0
        self.peak_op = ""

    def track(self, tensor: torch.Tensor, label: str) -> None:
        storage = tensor.untyped_storage()
        key, size = storage.data_ptr(), storage.nbytes()
        if size == 0 or key in self.live or key in self.ignore:
            return
        self.live[key] = size
        self.current += size
        if self.current > self.peak:
            self.peak, self.peak_op = self.current, label
        weakref.finalize(storage, self._free, key)

    def _free(self, key: int) -> None:
        self.current -= self.live.pop(key, 0)

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for leaf in tree_leaves(out):
            if isinstance(leaf, torch.Tensor):
                self.track(leaf, str(func))
        return out


def _storages(tensors) -> set[int]:
    return {t.untyped_storage().data_ptr() for t in tensors}


def inference_peak(model: torch.nn.Module, x: torch.Tensor) -> int:
    """Peak live activation bytes of one eval-mode forward; the input counts, weights do not."""
    model.eval()
    probe = LiveStorages(ignore=_storages(list(model.parameters()) + list(model.buffers())))
    with torch.no_grad(), probe:
        probe.track(x, "input")
        y = model(x)
        del y
    return probe.peak


def flat_inference_peak(model: torch.nn.Module, graph, x: torch.Tensor) -> int:
    """Peak of a flat forward over the compiled module's own layers, in execution order, that drops
    each value right after its last reader (no block calls holding arguments)."""
    from netspec.ir.liveness import liveness

    live = liveness(graph)
    last_use = live.last_use
    model.eval()
    probe = LiveStorages(ignore=_storages(list(model.parameters()) + list(model.buffers())))
    with torch.no_grad(), probe:
        probe.track(x, "input")
        values = {graph.input.name: x}
        for step, node in enumerate((graph.node(name) for name in live.order[1:]), start=1):
            layer = model.get_submodule(node.name)
            args = [values[i] for i in node.inputs]
            values[node.name] = layer(args) if node.opdef.arity is None else layer(*args)  # merges take a list
            del args
            for name in [v for v in values if last_use[v] <= step and v != graph.input.name]:
                del values[name]
        values.clear()
    return probe.peak


OPTIMIZERS = {
    "sgd": lambda p: torch.optim.SGD(p, lr=1e-3),
    "sgd-momentum": lambda p: torch.optim.SGD(p, lr=1e-3, momentum=0.9),
    "adam": lambda p: torch.optim.Adam(p, lr=1e-4),
    "adamw": lambda p: torch.optim.AdamW(p, lr=1e-4),
}


def training_peak(model: torch.nn.Module, x: torch.Tensor, optimizer: str) -> int:
    """Peak live bytes of one steady-state step: forward, cross-entropy, backward, optimizer step.

    A first step creates the optimizer state; the measured one starts from zeroed
    (None) gradients, with weights, buffers, state and the batch already alive.
    """
    model.train()
    opt = OPTIMIZERS[optimizer](model.parameters())
    target = torch.zeros(x.shape[0], dtype=torch.long)

    def step():
        opt.zero_grad(set_to_none=True)
        out = model(x)
        out = out[0] if isinstance(out, (tuple, list)) else out
        F.cross_entropy(out, target).backward()
        opt.step()

    step()
    opt.zero_grad(set_to_none=True)
    probe = LiveStorages()
    persistent = list(model.parameters()) + list(model.buffers()) + [x]
    persistent += [t for s in opt.state.values() for t in s.values() if isinstance(t, torch.Tensor) and t.numel() > 1]
    for t in persistent:
        probe.track(t, "persistent")
    with probe:
        step()
    return probe.peak
