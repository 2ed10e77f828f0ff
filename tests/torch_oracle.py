"""What torch itself says about a module: per-module output shapes, parameter count, MACs."""
from __future__ import annotations

import torch
from torch.utils.flop_counter import FlopCounterMode


def run_on_meta(module: torch.nn.Module, input_shape: tuple[int, ...], batch: int = 2):
    """Forward a batch on the meta device; return ({module path: per-sample output shape}, MACs per sample)."""
    shapes: dict[str, tuple[int, ...]] = {}
    hooks = []
    for name, child in module.named_modules():
        if name:
            hooks.append(child.register_forward_hook(_recorder(name, shapes)))
    module.eval()
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        module(torch.empty(batch, *input_shape, device="meta"))
    for hook in hooks:
        hook.remove()
    total = counter.get_total_flops()
    assert total % (2 * batch) == 0
    return shapes, total // (2 * batch)


def _recorder(name: str, shapes: dict):
    def hook(module, inputs, output):
        if isinstance(output, torch.Tensor):
            shapes[name] = tuple(output.shape[1:])

    return hook


def meta_module(build):
    with torch.device("meta"):
        return build()


def param_count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def buffer_count(module: torch.nn.Module) -> int:
    return sum(b.numel() for b in module.buffers())
