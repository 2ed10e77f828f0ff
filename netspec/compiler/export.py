"""Compiled module → deployable artefacts: ONNX and TorchScript files, as bytes for the build's writer."""
from __future__ import annotations

import contextlib
import io
import warnings
from typing import Sequence

import torch
from torch import nn

ONNX_OPSET = 17


class ExportError(RuntimeError):
    """torch could not export the module; the message is torch's first line."""


def export_onnx(
    model: nn.Module, input_shape: Sequence[int], output_names: Sequence[str] | None = None, exporter: str = "auto"
) -> tuple[bytes, str]:
    """The eval-mode module as an ONNX model with a dynamic batch axis (input `input`), and which
    exporter made it.

    "auto" tries torch's TorchScript-based exporter first: it exports the zoo in a second or two
    where the torch.export-based one takes ten times longer. It cannot export some ops (an
    adaptive pooling whose output size does not divide its input, as GoogLeNet's auxiliary
    heads at 224x224); then the torch.export-based one does."""
    model = _eval_copy(model)
    example = torch.randn(2, *input_shape)
    with torch.no_grad():
        produced = model(example)
    count = len(produced) if isinstance(produced, tuple) else 1
    names = list(output_names) if output_names and len(output_names) == count else [f"output{i}" for i in range(count)]
    kinds = {"auto": ("torchscript", "dynamo"), "torchscript": ("torchscript",), "dynamo": ("dynamo",)}[exporter]
    failure = None
    for kind in kinds:
        buffer = io.BytesIO()
        try:
            with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
                warnings.simplefilter("ignore")  # notices about the exporters themselves
                if kind == "torchscript":
                    torch.onnx.export(
                        model, (example,), buffer, dynamo=False, opset_version=ONNX_OPSET,
                        input_names=["input"], output_names=names,
                        dynamic_axes={name: {0: "batch"} for name in ["input", *names]},
                    )
                else:
                    program = torch.onnx.export(
                        model, (example,), dynamo=True, input_names=["input"], output_names=names,
                        dynamic_shapes=({0: torch.export.Dim("batch")},), verbose=False,
                    )
                    program.save(buffer)
            return buffer.getvalue(), f"torch.onnx {kind}-based exporter"
        except Exception as error:  # noqa: BLE001 - try the next exporter, report the last failure
            failure = error
    message = str(failure).strip().splitlines()[0] if str(failure).strip() else type(failure).__name__
    raise ExportError(f"torch cannot export this module to ONNX: {message[:300]}")


def export_torchscript(model: nn.Module, input_shape: Sequence[int]) -> tuple[bytes, str]:
    """The module as a TorchScript archive (load it with torch.jit.load, no Python class needed),
    and how it was made: scripted, which keeps training-only branches, or else traced in eval mode."""
    model = _eval_copy(model)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.jit's deprecation notices
        return _torchscript(model, input_shape)


def _torchscript(model: nn.Module, input_shape: Sequence[int]) -> tuple[bytes, str]:
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


__all__ = ["ExportError", "export_onnx", "export_torchscript"]
