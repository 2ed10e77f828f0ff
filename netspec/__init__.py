"""netspec: a compiler for convolutional network architectures written as text specs.

`analyze` checks a spec and counts its costs without importing torch; `compile` builds
the torch module from the same generated source that `netspec build` writes.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from netspec.errors import NetspecError

__all__ = ["analyze", "compile", "convolutionize", "NetspecError"]
__version__ = "0.1.0"


def analyze(spec: str | Path, allow_outside_imports: bool = False, **params: Any):
    """Parse, check and analyse a spec (a path ending in .net, or the text itself)."""
    from netspec.analysis import Analysis
    from netspec.ir.elaborate import elaborate

    return Analysis(elaborate(spec, params, allow_outside_imports))


def compile(spec: str | Path, allow_outside_imports: bool = False, **params: Any):  # noqa: A001 - the product's verb
    """Build a `torch.nn.Module` for a spec; network parameters may be overridden as keywords."""
    from netspec.compiler.build import build_module
    from netspec.ir.elaborate import elaborate

    return build_module(elaborate(spec, params, allow_outside_imports))


def convolutionize(module, input_shape, dense: bool = False, keep_adaptive: bool = False):
    """A fully convolutional copy of a torch module (torch.fx); see netspec.compiler.convolutionize_module."""
    from netspec.compiler.convolutionize_module import convolutionize as convert

    return convert(module, input_shape, dense=dense, keep_adaptive=keep_adaptive)
