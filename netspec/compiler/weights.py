"""Weights in and out of compiled modules: checkpoints, fine-tuning, transfer between two modules by execution order."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Union

import torch
from torch import nn

Weights = Union[str, Path, Mapping[str, torch.Tensor], nn.Module]
CONTAINER_KEYS = ("state_dict", "model", "model_state_dict")  # where training scripts usually put the weights


class WeightsError(ValueError):
    """A checkpoint does not fit a module; the message names the tensors or layers that differ."""


@dataclass(frozen=True)
class WeightsReport:
    """What `load_weights` did: the tensors loaded and those left out because their shapes differ."""

    loaded: tuple[str, ...]
    left_out: tuple[tuple[str, tuple[int, ...], tuple[int, ...]], ...]  # key, checkpoint shape, module shape

    def __str__(self) -> str:
        text = f"loaded {len(self.loaded)} of {len(self.loaded) + len(self.left_out)} tensors"
        if not self.left_out:
            return text
        shown = "; ".join(f"{key} ({_shape(theirs)} in the checkpoint, {_shape(ours)} here)" for key, theirs, ours in self.left_out)
        return f"{text}; left out, with their initial values, because their shapes differ: {shown}"


def read_state_dict(weights: Weights) -> dict[str, torch.Tensor]:
    """A state_dict from a file written by torch.save (read with weights_only=True), a mapping or a module.

    A checkpoint that wraps the weights (`{"state_dict": ...}`, `{"model": ...}`) is unwrapped, and the
    `module.` prefix that DistributedDataParallel adds to every key is removed."""
    if isinstance(weights, nn.Module):
        return dict(weights.state_dict())
    if isinstance(weights, (str, Path)):
        path = Path(weights)
        if not path.is_file():
            raise WeightsError(f"cannot read weights from '{path}': no such file")
        try:
            weights = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as error:  # a truncated file, a pickle with code in it, not a torch file
            raise WeightsError(f"cannot read weights from '{path}': {error}") from None
    if not isinstance(weights, Mapping):
        raise WeightsError(f"weights must be a state_dict (a mapping of names to tensors), got {type(weights).__name__}")
    for key in CONTAINER_KEYS:
        inner = weights.get(key)
        if isinstance(inner, Mapping) and inner and all(isinstance(v, torch.Tensor) for v in inner.values()):
            weights = inner
            break
    state = {k: v for k, v in weights.items() if isinstance(v, torch.Tensor)}
    if state and all(k.startswith("module.") for k in state):
        state = {k.removeprefix("module."): v for k, v in state.items()}
    return state


def check_fits(model: nn.Module, state: Mapping[str, torch.Tensor], fine_tune: bool = False) -> WeightsReport:
    """Compare a state_dict with a module's; raise WeightsError naming what differs."""
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    left_out = tuple((k, tuple(state[k].shape), tuple(own[k].shape)) for k in own if k in state and state[k].shape != own[k].shape)
    problems = []
    if missing:
        problems.append(f"missing from the checkpoint: {_some(missing)}")
    if unexpected:
        problems.append(f"not in the module: {_some(unexpected)}")
    if left_out and not fine_tune:
        shown = ", ".join(f"{k} ({_shape(a)} in the checkpoint, {_shape(b)} here)" for k, a, b in left_out[:3])
        more = f" and {len(left_out) - 3} more" if len(left_out) > 3 else ""
        problems.append(f"shapes differ: {shown}{more}; to fine-tune with other classes, pass fine_tune=True")
    if problems:
        raise WeightsError("the weights do not fit the module: " + "; ".join(problems))
    skipped = {k for k, _, _ in left_out}
    return WeightsReport(tuple(k for k in own if k not in skipped), left_out)


def load_weights(model: nn.Module, weights: Weights, fine_tune: bool = False) -> WeightsReport:
    """Load a checkpoint into `model` with torch's own `load_state_dict`.

    Strict by default: every key must be present and every shape equal. With `fine_tune=True`
    the keys must still correspond, but tensors whose shapes differ (the classifier of a network
    compiled with other `classes`) keep their initial values; the report lists them."""
    state = read_state_dict(weights)
    report = check_fits(model, state, fine_tune)
    if report.left_out:
        skipped = {k for k, _, _ in report.left_out}
        model.load_state_dict({k: v for k, v in state.items() if k not in skipped}, strict=False)
    else:
        model.load_state_dict(state, strict=True)
    return report


def load_into_meta(model: nn.Module, weights: Weights) -> None:
    """Give a module built on the meta device its weights (strict), without ever initializing it."""
    state = read_state_dict(weights)
    check_fits(model, state)
    own = model.state_dict()
    owned = not isinstance(weights, (str, Path))  # tensors the caller still holds are copied, not shared
    state = {
        k: (v.to(own[k].dtype) if v.dtype != own[k].dtype else (v.detach().clone() if owned else v))
        for k, v in state.items()
    }
    model.load_state_dict(state, strict=True, assign=True)
    left = [name for name, t in [*model.named_parameters(), *model.named_buffers()] if t.is_meta]
    if left:
        raise WeightsError(f"the module has tensors outside its state_dict that no checkpoint can give: {_some(left)}")


# ---- transfer between two modules of the same structure, whatever their names


@dataclass(frozen=True)
class Layer:
    """A module that holds tensors itself (a conv, a batchnorm), in the order it runs."""

    name: str
    module: nn.Module

    @property
    def tensors(self) -> list[tuple[str, torch.Tensor]]:
        return [*self.module.named_parameters(recurse=False), *self.module.named_buffers(recurse=False)]

    def describe(self) -> str:
        shapes = ", ".join(f"{n} {_shape(tuple(t.shape))}" for n, t in self.tensors)
        return f"`{self.name or '(the module itself)'}` ({type(self.module).__name__}: {shapes})"


def execution_order(model: nn.Module, example: torch.Tensor | None) -> list[Layer]:
    """The modules that hold tensors, in the order an eval-mode forward on `example` first calls them
    (run on the meta device: no arithmetic, no memory). Those the forward does not call (heads used
    only in training) follow in registration order; without an example, registration order is used."""
    holders = [(name, m) for name, m in model.named_modules() if Layer(name, m).tensors]
    if example is None:
        return [Layer(n, m) for n, m in holders]
    order: list[str] = []
    names = {id(m): n for n, m in holders}

    def record(module, _inputs):
        name = names.get(id(module))
        if name is not None and name not in order:
            order.append(name)

    hooks = [m.register_forward_pre_hook(record) for _, m in holders]
    was_training = model.training
    meta = {k: torch.empty_like(v, device="meta") for k, v in [*model.named_parameters(), *model.named_buffers()]}
    try:
        model.eval()
        with torch.no_grad():
            torch.func.functional_call(model, meta, (example.to("meta"),))
    finally:
        model.train(was_training)
        for hook in hooks:
            hook.remove()
    by_name = dict(holders)
    rest = [n for n, _ in holders if n not in order]
    return [Layer(n, by_name[n]) for n in [*order, *rest]]


def transfer_weights(source: nn.Module, target: nn.Module, example: torch.Tensor | tuple[int, ...] | None = None) -> list[tuple[str, str]]:
    """Copy every weight and buffer of `source` into `target`, pairing layers by execution order and
    checking shapes; names may differ entirely. Returns the (source layer, target layer) pairs.

    `example` is an input batch, or a per-sample shape such as (3, 224, 224); a module compiled by
    netspec knows its own. On a mismatch nothing is copied and WeightsError names the first layers
    that differ, on both sides."""
    example = _example(example, source, target)
    ours, theirs = execution_order(source, example), execution_order(target, example)
    for index, (s, t) in enumerate(zip(ours, theirs)):
        if [tuple(x.shape) for _, x in s.tensors] != [tuple(x.shape) for _, x in t.tensors]:
            raise WeightsError(
                f"layer {index + 1} in execution order differs: source {s.describe()} but target {t.describe()}"
            )
    if len(ours) != len(theirs):
        longer, side = (ours, "source") if len(ours) > len(theirs) else (theirs, "target")
        extra = longer[min(len(ours), len(theirs))]
        raise WeightsError(
            f"the source has {len(ours)} layers with weights and the target {len(theirs)}; "
            f"the first without a partner is {side} {extra.describe()}"
        )
    with torch.no_grad():
        for s, t in zip(ours, theirs):
            for (_, a), (_, b) in zip(s.tensors, t.tensors):
                b.copy_(a)
    return [(s.name, t.name) for s, t in zip(ours, theirs)]


def _example(example, *modules: nn.Module) -> torch.Tensor | None:
    if isinstance(example, torch.Tensor):
        return example
    shape = example
    for module in modules:
        shape = shape or getattr(module, "netspec_input_shape", None)
    return torch.empty(2, *shape) if shape else None


def _shape(shape: tuple[int, ...]) -> str:
    return "x".join(map(str, shape)) if shape else "scalar"


def _some(names: list[str], limit: int = 4) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


__all__ = ["WeightsError", "WeightsReport", "load_weights", "read_state_dict", "transfer_weights", "execution_order"]
