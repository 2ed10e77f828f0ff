"""netspec: a compiler for convolutional network architectures written as text specs.

`analyze` checks a spec and counts its costs without importing torch; `compile` builds
the torch module from the same generated source that `netspec build` writes.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from netspec.errors import NetspecError

__all__ = ["analyze", "compile", "convolutionize", "load_weights", "transfer_weights", "NetspecError"]
__version__ = "0.1.0"


def analyze(spec: str | Path, allow_outside_imports: bool = False, **params: Any):
    """Parse, check and analyse a spec (a path ending in .net, or the text itself)."""
    from netspec.analysis import Analysis
    from netspec.ir.elaborate import elaborate

    return Analysis(elaborate(spec, params, allow_outside_imports))


def compile(spec: str | Path, allow_outside_imports: bool = False, weights: Any = None, **params: Any):  # noqa: A001 - the product's verb
    """Build a `torch.nn.Module` for a spec; network parameters may be overridden as keywords.

    `weights` (a file written by torch.save, a state_dict or a module) are loaded strictly: the
    module is built on the meta device and takes the checkpoint's tensors, so it is never
    initialized at random first. To fine-tune with other `classes`, see `load_weights`."""
    from netspec.compiler.build import build_module
    from netspec.ir.elaborate import elaborate

    graph = elaborate(spec, params, allow_outside_imports)
    if weights is None:
        module = build_module(graph)
    else:
        import torch

        from netspec.compiler.weights import load_into_meta

        with torch.device("meta"):
            module = build_module(graph)
        load_into_meta(module, weights)
    module.netspec_input_shape = graph.input.shape  # per sample; transfer_weights uses it
    return module


def load_weights(model, weights, fine_tune: bool = False):
    """Load a checkpoint into a module; with fine_tune=True, leave out (and report) tensors whose shapes differ."""
    from netspec.compiler.weights import load_weights as load

    return load(model, weights, fine_tune=fine_tune)


def transfer_weights(source, target, example=None):
    """Copy weights between two modules of the same structure by execution order and shape."""
    from netspec.compiler.weights import transfer_weights as transfer

    return transfer(source, target, example)


def convolutionize(module, input_shape, dense: bool = False, keep_adaptive: bool = False):
    """A fully convolutional copy of a torch module (torch.fx); see netspec.compiler.convolutionize_module."""
    from netspec.compiler.convolutionize_module import convolutionize as convert

    return convert(module, input_shape, dense=dense, keep_adaptive=keep_adaptive)
