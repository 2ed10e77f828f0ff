"""torch → spec, one layer: a leaf module or a function call as an op statement with its constants lifted out.

What a module's fields mean is each op's own knowledge (`OpDef.imports_from` and
`from_module`, next to its `module` constructor); the attribute order, keywords and defaults
come from the op's `Attr` declarations. This module only turns values into spec text.
"""
from __future__ import annotations

import functools
import operator
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F

from netspec.ops.base import REQUIRED, OpDef
from netspec.ops.registry import all_ops, lookup


@dataclass(frozen=True)
class Slot:
    """A constant in a statement: `keyword=value` (or positional when keyword is None)."""

    label: str  # names a block parameter if instances differ: conv1_channels
    value: str  # spec text: 64, 3x3, true
    keyword: str | None = None
    default: str | None = None  # a keyword slot equal to this in every instance is left out


@dataclass(frozen=True)
class BlockCall:
    """The arguments of a call to the block made for the submodule at `path`, decided once every
    instance of that block is known."""

    label: str
    path: tuple[str, ...]


def piece_shape(piece: "str | Slot | BlockCall") -> Any:
    """A piece with its values left out: instances of one block have equal shapes."""
    if isinstance(piece, Slot):
        return ("slot", piece.label, piece.keyword)
    if isinstance(piece, BlockCall):
        return ("call", piece.label)
    return piece


@dataclass
class Line:
    indent: int
    pieces: list  # str | Slot | BlockCall


def dims(values) -> str:
    """Every axis written out: a kernel `3x3`."""
    values = tuple(values) if isinstance(values, (tuple, list)) else (values,)
    return "x".join(str(int(v)) for v in values)


def spec_value(value: Any, every_axis: bool = False) -> str:
    """A Python value as spec text; per-axis numbers as one number when every axis has it
    (`stride=2`), unless `every_axis` (positional sizes: `3x3`)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, (tuple, list)):
        return dims(value) if every_axis or len(set(value)) > 1 else spec_value(value[0])
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) >= 1 else repr(value)
    try:
        return str(operator.index(value))
    except TypeError:
        raise ValueError(f"the value {value!r} has no spelling in a spec") from None


def op_statement(op: OpDef, values: dict[str, Any], label: str) -> list:
    """`name slot slot ...` for the op with these attribute values; a keyword attribute whose
    value is its default is written only where instances of one block differ."""
    pieces: list = [op.name]
    for attr in op.attrs:
        if attr.name not in values:
            continue
        if attr.positional:
            pieces += [" ", Slot(f"{label}_{attr.name}", spec_value(values[attr.name], every_axis=True))]
            continue
        if attr.default_from is not None:
            default = spec_value(values[attr.default_from])
        else:
            default = None if attr.default is REQUIRED or attr.default is None else spec_value(attr.default)
        pieces += [" ", Slot(f"{label}_{attr.name}", spec_value(values[attr.name]), attr.name, default)]
    return pieces


@functools.cache
def _ops_by_torch_class() -> dict[type, OpDef]:
    return {getattr(nn, name): op for op in all_ops().values() for name in op.imports_from}


def module_statement(module: nn.Module, label: str) -> list | None:
    """The statement for a leaf module, None if no op builds its class; ValueError if its op
    cannot express these settings."""
    op = _ops_by_torch_class().get(type(module))
    return None if op is None else op_statement(op, op.from_module(module), label)


def _flatten_start(args: tuple, kwargs: dict) -> int:
    start = args[1] if len(args) > 1 else kwargs.get("start_dim", 0)
    end = args[2] if len(args) > 2 else kwargs.get("end_dim", -1)
    if start != 1 or end != -1:
        raise ValueError(f"only flatten(x, 1) keeps the batch axis apart; got start_dim={start}, end_dim={end}")
    return start


def _argument(args: tuple, kwargs: dict, position: int, keyword: str, default: Any = REQUIRED) -> Any:
    if len(args) > position:
        return args[position]
    if default is REQUIRED:
        return kwargs[keyword]
    return kwargs.get(keyword, default)


def function_statement(target: Any, args: tuple, kwargs: dict, label: str) -> tuple[list, str | None]:
    """(statement pieces, merge kind or None) for a mapped function or method call; ValueError if none."""
    if target in (operator.add, operator.iadd, torch.add, "add", "add_", "__add__", "__iadd__"):
        return ["add"], "add"
    if target in (operator.mul, operator.imul, torch.mul, "mul", "mul_"):
        return ["mul"], "mul"
    if target is torch.cat:
        dim = _argument(args, kwargs, 1, "dim", 0)
        if dim < 0:
            raise ValueError(f"torch.cat with a negative dim ({dim}) has no op; count the axis from the front")
        if dim == 0:
            raise ValueError("torch.cat along the batch axis has no op")
        return op_statement(lookup("concat"), {"axis": dim - 1}, label), "concat"
    if target in (F.relu, torch.relu, "relu", "relu_"):
        inplace = _argument(args, kwargs, 1, "inplace", False) or target == "relu_"
        return op_statement(lookup("relu"), {"inplace": inplace}, label), None
    if target in (torch.sigmoid, F.sigmoid, "sigmoid"):
        return ["sigmoid"], None
    if target in (torch.tanh, F.tanh, "tanh"):
        return ["tanh"], None
    if target in (torch.flatten, "flatten"):
        _flatten_start(args, kwargs)
        return ["flatten"], None
    if target is F.adaptive_avg_pool2d:
        return op_statement(lookup("adaptive_avgpool"), {"size": _argument(args, kwargs, 1, "output_size")}, label), None
    if target in (F.max_pool2d, F.avg_pool2d):
        kernel = _argument(args, kwargs, 1, "kernel_size")
        stride = _argument(args, kwargs, 2, "stride", None) or kernel
        values = {"kernel": kernel, "stride": stride, "pad": _argument(args, kwargs, 3, "padding", 0)}
        if target is F.max_pool2d:
            if _argument(args, kwargs, 4, "dilation", 1) not in (1, (1, 1)) or _argument(args, kwargs, 6, "return_indices", False):
                raise ValueError("a dilated max pool, or one that returns indices, has no op")
            values["ceil"] = _argument(args, kwargs, 5, "ceil_mode", False)
            return op_statement(lookup("maxpool"), values, label), None
        if _argument(args, kwargs, 6, "divisor_override", None):
            raise ValueError("divisor_override has no op")
        values["ceil"] = _argument(args, kwargs, 4, "ceil_mode", False)
        values["count_pad"] = _argument(args, kwargs, 5, "count_include_pad", True)
        return op_statement(lookup("avgpool"), values, label), None
    if target is F.dropout:
        return op_statement(lookup("dropout"), {"p": _argument(args, kwargs, 1, "p", 0.5)}, label), None
    raise ValueError("no op")
