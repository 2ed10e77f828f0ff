"""Compiled module → deployable artefacts: ONNX and TorchScript files, as bytes for the build's writer."""
from __future__ import annotations

import io
import warnings
from typing import Sequence

import torch
from torch import nn

ONNX_OPSET = 17


def export_onnx(model: nn.Module, input_shape: Sequence[int], output_names: Sequence[str] | None = None) -> bytes:
    """The eval-mode module as an ONNX model with a dynamic batch axis; its input is called `input`.

    Uses torch's TorchScript-based exporter (`dynamo=False`): it exports the zoo in about a second
    where the torch.export-based one takes ten times longer, and the generated code needs nothing
    the older exporter lacks."""
    model = _eval_copy(model)
    example = torch.randn(2, *input_shape)
    with torch.no_grad():
        produced = model(example)
    count = len(produced) if isinstance(produced, tuple) else 1
    names = list(output_names) if output_names and len(output_names) == count else [f"output{i}" for i in range(count)]
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the exporter's notice that a newer one exists
        torch.onnx.export(
            model, (example,), buffer, dynamo=False, opset_version=ONNX_OPSET,
            input_names=["input"], output_names=names,
            dynamic_axes={name: {0: "batch"} for name in ["input", *names]},
        )
    return buffer.getvalue()


def export_torchscript(model: nn.Module, input_shape: Sequence[int]) -> tuple[bytes, str]:
    """The module as a TorchScript archive (load it with torch.jit.load, no Python class needed),
    and how it was made: scripted, which keeps training-only branches, or else traced in eval mode."""
    model = _eval_copy(model)
    try:
        program = torch.jit.script(model)
        how = "scripted"
    except Exception as error:  # noqa: BLE001 - any scripting failure falls back to tracing
        with torch.no_grad():
            program = torch.jit.trace(model, torch.randn(2, *input_shape), check_trace=False)
        how = f"traced in eval mode (scripting failed: {str(error).splitlines()[0]})"
    buffer = io.BytesIO()
    torch.jit.save(program, buffer)
    return buffer.getvalue(), how


def _eval_copy(model: nn.Module) -> nn.Module:
    import copy

    return copy.deepcopy(model).eval()


__all__ = ["export_onnx", "export_torchscript"]
