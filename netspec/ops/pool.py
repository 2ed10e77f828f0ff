"""Pooling: max/avg with a window, adaptive max/avg to a fixed size, and global pooling."""
from __future__ import annotations

import math
from typing import Any, Sequence

from netspec.ops.base import (
    SAVES_INPUT,
    SAVES_NOTHING,
    Attr,
    Attrs,
    CollapseError,
    Constructor,
    Kept,
    OpDef,
    OpError,
    Saved,
    Shape,
    Window,
    compact,
    need_spatial,
    numel,
    per_axis,
)
from netspec.ops.conv import axis_names, collapse_message
from netspec.ops.registry import register


def pooled_size(size: int, kernel: int, stride: int, pad: int, dilation: int, ceil: bool, axis: str) -> int:
    """PyTorch's pooling output length, including its ceil_mode rule."""
    span = size + 2 * pad - dilation * (kernel - 1) - 1
    out = (math.ceil(span / stride) if ceil else span // stride) + 1
    if ceil and (out - 1) * stride >= size + pad:
        out -= 1  # the last window must start inside the input or its left padding
    if out <= 0:
        raise CollapseError(collapse_message(axis, out, size, pad, dilation * (kernel - 1) + 1))
    return out


class _WindowPool(OpDef):
    family = "pooling"
    kind: str
    attrs = (
        Attr("kernel", "any", positional=True),
        Attr("stride", "any", None, doc="defaults to the kernel size", default_from="kernel"),
        Attr("pad", "any", 0),
        Attr("ceil", "bool", False, doc="ceil_mode"),
    )

    def from_module(self, m: Any) -> dict[str, Any]:
        stride = m.stride if m.stride is not None else m.kernel_size  # torch's default, as ours
        return {"kernel": m.kernel_size, "stride": stride, "pad": m.padding, "ceil": m.ceil_mode}

    def validate(self, v: dict[str, Any], inputs: Sequence[Shape]) -> None:
        rank = need_spatial(inputs, self.name)
        v["kernel"] = per_axis(v["kernel"], rank, "kernel", 1)
        v["stride"] = v["kernel"] if v["stride"] is None else per_axis(v["stride"], rank, "stride", 1)
        v["pad"] = per_axis(v["pad"], rank, "pad", 0)
        if any(2 * p > k for p, k in zip(v["pad"], v["kernel"])):
            raise OpError("pad must be at most half the kernel size (a PyTorch rule for pooling)", "pad")

    def dilation(self, a: Attrs) -> tuple[int, ...]:
        return (1,) * len(a["kernel"])

    def infer(self, a: Attrs, inputs: Sequence[Shape]) -> Shape:
        spatial = inputs[0][1:]
        out = tuple(
            pooled_size(n, k, s, p, d, a["ceil"], axis)
            for n, k, s, p, d, axis in zip(
                spatial, a["kernel"], a["stride"], a["pad"], self.dilation(a), axis_names(len(spatial))
            )
        )
        return (inputs[0][0], *out)

    def window(self, a: Attrs, inputs: Sequence[Shape]) -> Window:
        return Window(a["kernel"], a["stride"], a["pad"], self.dilation(a))

    def torch_kwargs(self, a: Attrs) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"kernel_size": compact(a["kernel"])}
        if a["stride"] != a["kernel"]:
            kwargs["stride"] = compact(a["stride"])
        kwargs["padding"] = compact(a["pad"])
        kwargs["ceil_mode"] = a["ceil"]
        return kwargs


class MaxPool(_WindowPool):
    name = "maxpool"
    summary = "Max pooling: `maxpool kernel [stride=kernel] [pad=] [ceil=]`."
    imports_from = ("MaxPool1d", "MaxPool2d", "MaxPool3d")

    def from_module(self, m: Any) -> dict[str, Any]:
        if set(m.dilation if isinstance(m.dilation, tuple) else (m.dilation,)) != {1}:
            raise ValueError("a dilated max pool has no op")
        if m.return_indices:
            raise ValueError("a max pool that returns its indices has no op")
        return super().from_module(m)

    def saved(self, a: Attrs, inputs: Sequence[Shape], output: Shape, inplace: bool = False) -> Saved:
        return Saved(inputs=(0,), extra=(Kept("indices", numel(output), itemsize=8),))  # int64 argmax

    def scratch(self, a: Attrs, inputs: Sequence[Shape], output: Shape) -> tuple[Kept, ...]:
        return (Kept("indices", numel(output), itemsize=8),)  # computed even without autograd on CPU

    def module(self, a: Attrs, inputs: Sequence[Shape]) -> Constructor:
        return Constructor.of(f"nn.MaxPool{len(inputs[0]) - 1}d", **self.torch_kwargs(a), defaults={"padding": 0, "ceil_mode": False})


class AvgPool(_WindowPool):
    name = "avgpool"
    summary = "Average pooling: `avgpool kernel [stride=kernel] [pad=] [ceil=] [count_pad=true]`."
    attrs = _WindowPool.attrs + (Attr("count_pad", "bool", True, doc="count_include_pad"),)
    imports_from = ("AvgPool1d", "AvgPool2d", "AvgPool3d")

    def from_module(self, m: Any) -> dict[str, Any]:
        if getattr(m, "divisor_override", None):
            raise ValueError("divisor_override has no op")
        return {**super().from_module(m), "count_pad": m.count_include_pad}

    def validate(self, v: dict[str, Any], inputs: Sequence[Shape]) -> None:
        super().validate(v, inputs)
        # PyTorch's avg_pool3d also needs every unpadded input axis to hold the kernel.
        if len(inputs[0]) == 4 and any(n < k for n, k in zip(inputs[0][1:], v["kernel"])):
            raise OpError("a 3-d average pool needs an input at least as large as the kernel on every axis (a PyTorch rule)", "kernel")

    def module(self, a: Attrs, inputs: Sequence[Shape]) -> Constructor:
        kwargs = {**self.torch_kwargs(a), "count_include_pad": a["count_pad"]}
        return Constructor.of(f"nn.AvgPool{len(inputs[0]) - 1}d", **kwargs, defaults={"padding": 0, "ceil_mode": False, "count_include_pad": True})


class _AdaptivePool(OpDef):
    family = "pooling"
    kind: str
    attrs = (Attr("size", "any", positional=True, doc="output size per spatial axis"),)

    def from_module(self, m: Any) -> dict[str, Any]:
        if m.output_size is None or None in (m.output_size if isinstance(m.output_size, tuple) else ()):
            raise ValueError("an output size of None (keep that axis) has no op")
        if getattr(m, "return_indices", False):
            raise ValueError("a max pool that returns its indices has no op")
        return {"size": m.output_size}

    def validate(self, v: dict[str, Any], inputs: Sequence[Shape]) -> None:
        v["size"] = per_axis(v["size"], need_spatial(inputs, self.name), "size", 1)

    def infer(self, a: Attrs, inputs: Sequence[Shape]) -> Shape:
        return (inputs[0][0], *a["size"])

    def window(self, a: Attrs, inputs: Sequence[Shape]) -> Window:
        # Output cell i reads [floor(i·n/o), ceil((i+1)·n/o)), which is ceil((r + n)/o) wide for
        # r = i·n mod o; r ranges over the multiples of gcd(n, o) below o, so the widest window,
        # in closed form (no loop over a huge output), is ceil((n + o - gcd(n, o))/o).
        # The stride is exact when o divides n (always so for global pooling).
        def widest(n: int, o: int) -> int:
            return -(-(n + o - math.gcd(n, o)) // o)

        spatial = inputs[0][1:]
        kernels = tuple(widest(n, o) for n, o in zip(spatial, a["size"]))
        strides = tuple(max(1, n // o) for n, o in zip(spatial, a["size"]))
        return Window(kernels, strides, (0,) * len(kernels), (1,) * len(kernels))

    def saved(self, a: Attrs, inputs: Sequence[Shape], output: Shape, inplace: bool = False) -> Saved:
        if self.kind == "Max":
            return Saved(inputs=(0,), extra=(Kept("indices", numel(output), itemsize=8),))  # int64 argmax
        # torch computes one cell per axis as a mean, whose backward needs only the sizes
        return SAVES_NOTHING if set(a["size"]) == {1} else SAVES_INPUT

    def scratch(self, a: Attrs, inputs: Sequence[Shape], output: Shape) -> tuple[Kept, ...]:
        return (Kept("indices", numel(output), itemsize=8),) if self.kind == "Max" else ()

    def module(self, a: Attrs, inputs: Sequence[Shape]) -> Constructor:
        return Constructor.of(f"nn.Adaptive{self.kind}Pool{len(inputs[0]) - 1}d", compact(a["size"]))


class AdaptiveAvgPool(_AdaptivePool):
    name = "adaptive_avgpool"
    kind = "Avg"
    summary = "Adaptive average pooling to a fixed output size: `adaptive_avgpool 7x7`."
    imports_from = ("AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "AdaptiveAvgPool3d")


class AdaptiveMaxPool(_AdaptivePool):
    name = "adaptive_maxpool"
    kind = "Max"
    summary = "Adaptive max pooling to a fixed output size: `adaptive_maxpool 7x7`."
    imports_from = ("AdaptiveMaxPool1d", "AdaptiveMaxPool2d", "AdaptiveMaxPool3d")


class _GlobalPool(_AdaptivePool):
    attrs = ()

    def validate(self, v: dict[str, Any], inputs: Sequence[Shape]) -> None:
        v["size"] = (1,) * need_spatial(inputs, self.name)


class GlobalAvgPool(_GlobalPool):
    name = "global_avgpool"
    kind = "Avg"
    summary = "Global average pooling to 1 per spatial axis (C×1×1), as before a classifier."


class GlobalMaxPool(_GlobalPool):
    name = "global_maxpool"
    kind = "Max"
    summary = "Global max pooling to 1 per spatial axis (C×1×1)."


for _op in (MaxPool(), AvgPool(), AdaptiveAvgPool(), AdaptiveMaxPool(), GlobalAvgPool(), GlobalMaxPool()):
    register(_op)
