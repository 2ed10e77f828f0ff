"""torch.nn.Module → spec text (`netspec import-torch`): trace with torch.fx, map layers to ops, rebuild blocks.

Three steps, a module each: `import_trace` (torch.fx calls with their module scopes),
`import_statements` (one layer as an op statement, from the op's own `from_module`), and
`import_writer` (scopes, blocks and their parameters as spec text).
"""
from __future__ import annotations

import torch.nn as nn

from netspec.compiler.import_trace import TorchImportError, flatten_concats, hoist_merges, trace
from netspec.compiler.import_writer import Writer

__all__ = ["TorchImportError", "import_module"]


def import_module(model: nn.Module, name: str, input_shape: tuple[int, ...], origin: str) -> tuple[str, list[str]]:
    """The spec text of `model` (traced in eval mode) and notes for the user (parts left out)."""
    model = model.eval()
    traced = trace(model)
    flatten_concats(traced)
    hoist_merges(traced)
    writer = Writer(traced, name, input_shape, origin)
    root = writer.body((), traced.input_key, traced.output, 0)
    return writer.finish(root), traced.notes
