"""Convolutions: conv and its transpose, in 1d/2d/3d by the input's rank."""
from __future__ import annotations

from typing import Any, Sequence

from netspec.ops.base import (
    SAVES_INPUT,
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
from netspec.ops.registry import register

PADDING_WORDS = ("same", "valid")
CONV_DEFAULTS = {"stride": 1, "padding": 0, "dilation": 1, "groups": 1, "bias": True}  # torch's


def spatial_out(size: int, kernel: int, stride: int, pad: int, dilation: int, axis: str) -> int:
    """The length of one output axis of a sliding window (PyTorch's formula, floor mode)."""
    out = (size + 2 * pad - dilation * (kernel - 1) - 1) // stride + 1
    if out <= 0:
        raise CollapseError(collapse_message(axis, out, size, pad, dilation * (kernel - 1) + 1))
    return out


AXIS_ADJECTIVES = {"length": "long", "height": "high", "width": "wide", "depth": "deep"}


def collapse_message(axis: str, out: int, size: int, pad: int, reach: int) -> str:
    """"output height collapses to 0: the input is only 4 high but the window spans 5"."""
    extent = f"{size} {AXIS_ADJECTIVES.get(axis, axis)}"
    if pad:
        extent += f" ({size + 2 * pad} with padding)"
    return f"output {axis} collapses to {out}: the input is only {extent} but the window spans {reach}"


def axis_names(rank: int) -> tuple[str, ...]:
    return {1: ("length",), 2: ("height", "width"), 3: ("depth", "height", "width")}[rank]


def resolve_padding(value: Any, rank: int, kernel: tuple[int, ...], dilation: tuple[int, ...], stride: tuple[int, ...]):
    """`pad=` as an int, per-axis ints, `same` or `valid` → (per-axis ints, torch spelling)."""
    word = getattr(value, "name", value)
    if word == "valid":
        return (0,) * rank, "valid"
    if word == "same":
        if any(s != 1 for s in stride):
            raise OpError("pad=same needs stride 1 (as in PyTorch); give the padding as numbers", "pad")
        totals = [d * (k - 1) for k, d in zip(kernel, dilation)]
        if any(t % 2 for t in totals):
            # PyTorch pads the extra element on the far side; the output size is unchanged.
            return tuple(t // 2 for t in totals), "same"
        return tuple(t // 2 for t in totals), compact(tuple(t // 2 for t in totals))
    if isinstance(value, str):
        raise OpError(f"pad must be a number, per-axis numbers, same or valid; got '{value}'", "pad")
    pads = per_axis(value, rank, "pad", 0)
    return pads, compact(pads)


class Conv(OpDef):
    name = "conv"
    family = "convolution"
    summary = "Convolution: `conv channels kernel [stride=] [pad=] [dilation=] [groups=] [bias=]`."
    attrs = (
        Attr("channels", "pos_int", positional=True, doc="output channels"),
        Attr("kernel", "any", positional=True, doc="kernel size: 3, 3x3 or 1x7"),
        Attr("stride", "any", 1),
        Attr("pad", "padding", 0, doc="int, per-axis (0x3), same or valid"),
        Attr("dilation", "any", 1),
        Attr("groups", "pos_int", 1),
        Attr("bias", "bool", True),
    )
    imports_from = ("Conv1d", "Conv2d", "Conv3d")

    def from_module(self, m: Any) -> dict[str, Any]:
        if m.padding_mode != "zeros":
            raise ValueError(f"padding_mode='{m.padding_mode}' has no op")
        return {"channels": m.out_channels, "kernel": m.kernel_size, "stride": m.stride, "pad": m.padding,
                "dilation": m.dilation, "groups": m.groups, "bias": m.bias is not None}

    def validate(self, v: dict[str, Any], inputs: Sequence[Shape]) -> None:
        rank = need_spatial(inputs, self.name)
        v["kernel"] = per_axis(v["kernel"], rank, "kernel", 1)
        v["stride"] = per_axis(v["stride"], rank, "stride", 1)
        v["dilation"] = per_axis(v["dilation"], rank, "dilation", 1)
        v["pad"], v["pad_torch"] = resolve_padding(v["pad"], rank, v["kernel"], v["dilation"], v["stride"])
        in_channels = inputs[0][0]
        for side, count in (("input", in_channels), ("output", v["channels"])):
            if count % v["groups"]:
                raise OpError(f"groups={v['groups']} does not divide the {count} {side} channels", "groups")

    def infer(self, a: Attrs, inputs: Sequence[Shape]) -> Shape:
        spatial = inputs[0][1:]
        names = axis_names(len(spatial))
        if a["pad_torch"] == "same":
            return (a["channels"], *spatial)
        out = tuple(
            spatial_out(n, k, s, p, d, axis)
            for n, k, s, p, d, axis in zip(spatial, a["kernel"], a["stride"], a["pad"], a["dilation"], names)
        )
        return (a["channels"], *out)

    def params(self, a: Attrs, inputs: Sequence[Shape]) -> int:
        weights = a["channels"] * (inputs[0][0] // a["groups"]) * numel(a["kernel"])
        return weights + (a["channels"] if a["bias"] else 0)

    def macs(self, a: Attrs, inputs: Sequence[Shape], output: Shape) -> int:
        # C_out · H_out · W_out · (C_in / groups) · k_h · k_w
        return numel(output) * (inputs[0][0] // a["groups"]) * numel(a["kernel"])

    def elementwise(self, a: Attrs, inputs: Sequence[Shape], output: Shape) -> int:
        return numel(output) if a["bias"] else 0

    def window(self, a: Attrs, inputs: Sequence[Shape]) -> Window:
        return Window(a["kernel"], a["stride"], a["pad"], a["dilation"])

    def _padded_copy(self, a: Attrs, inputs: Sequence[Shape]) -> Kept | None:
        # padding='same' with an odd total padding: torch pads one extra row/column first
        # and convolves (and, for backward, keeps) that padded copy instead of the input.
        odd = tuple(d * (k - 1) % 2 for k, d in zip(a["kernel"], a["dilation"]))
        if a["pad_torch"] == "same" and any(odd):
            padded = (inputs[0][0], *(n + o for n, o in zip(inputs[0][1:], odd)))
            return Kept("padded copy of the input", numel(padded))
        return None

    def saved(self, a: Attrs, inputs: Sequence[Shape], output: Shape, inplace: bool = False) -> Saved:
        padded = self._padded_copy(a, inputs)
        return Saved(extra=(padded,)) if padded else SAVES_INPUT

    def scratch(self, a: Attrs, inputs: Sequence[Shape], output: Shape) -> tuple[Kept, ...]:
        padded = self._padded_copy(a, inputs)
        return (padded,) if padded else ()

    def module(self, a: Attrs, inputs: Sequence[Shape]) -> Constructor:
        rank = len(inputs[0]) - 1
        padding = 0 if a["pad_torch"] == "valid" else a["pad_torch"]
        return Constructor.of(
            f"nn.Conv{rank}d", inputs[0][0], a["channels"], kernel_size=compact(a["kernel"]),
            stride=compact(a["stride"]), padding=padding, dilation=compact(a["dilation"]), groups=a["groups"], bias=a["bias"],
            defaults=CONV_DEFAULTS,
        )


class ConvTranspose(OpDef):
    name = "deconv"
    family = "convolution"
    summary = "Transposed convolution: `deconv channels kernel [stride=] [pad=] [output_pad=] [groups=] [bias=]`."
    attrs = (
        Attr("channels", "pos_int", positional=True),
        Attr("kernel", "any", positional=True),
        Attr("stride", "any", 1),
        Attr("pad", "any", 0),
        Attr("output_pad", "any", 0),
        Attr("dilation", "any", 1),
        Attr("groups", "pos_int", 1),
        Attr("bias", "bool", True),
    )
    imports_from = ("ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d")

    def from_module(self, m: Any) -> dict[str, Any]:
        if m.padding_mode != "zeros":
            raise ValueError(f"padding_mode='{m.padding_mode}' has no op")
        return {"channels": m.out_channels, "kernel": m.kernel_size, "stride": m.stride, "pad": m.padding,
                "output_pad": m.output_padding, "dilation": m.dilation, "groups": m.groups, "bias": m.bias is not None}

    def validate(self, v: dict[str, Any], inputs: Sequence[Shape]) -> None:
        rank = need_spatial(inputs, self.name)
        for key, minimum in (("kernel", 1), ("stride", 1), ("dilation", 1), ("pad", 0), ("output_pad", 0)):
            v[key] = per_axis(v[key], rank, key, minimum)
        for op_, s, d in zip(v["output_pad"], v["stride"], v["dilation"]):
            if op_ >= max(s, d):
                raise OpError("output_pad must be smaller than stride or dilation", "output_pad")
        for side, count in (("input", inputs[0][0]), ("output", v["channels"])):
            if count % v["groups"]:
                raise OpError(f"groups={v['groups']} does not divide the {count} {side} channels", "groups")

    def infer(self, a: Attrs, inputs: Sequence[Shape]) -> Shape:
        out = []
        for n, k, s, p, op_, d, axis in zip(
            inputs[0][1:], a["kernel"], a["stride"], a["pad"], a["output_pad"], a["dilation"], axis_names(len(inputs[0]) - 1)
        ):
            size = (n - 1) * s - 2 * p + d * (k - 1) + op_ + 1
            if size <= 0:
                raise CollapseError(f"{axis} collapses to {size}: padding {p} removes more than the layer produces", "pad")
            out.append(size)
        return (a["channels"], *out)

    def params(self, a: Attrs, inputs: Sequence[Shape]) -> int:
        weights = inputs[0][0] * (a["channels"] // a["groups"]) * numel(a["kernel"])
        return weights + (a["channels"] if a["bias"] else 0)

    def macs(self, a: Attrs, inputs: Sequence[Shape], output: Shape) -> int:
        # every input element meets a kernel of k_h·k_w·C_out/groups weights
        return numel(inputs[0]) * (a["channels"] // a["groups"]) * numel(a["kernel"])

    def elementwise(self, a: Attrs, inputs: Sequence[Shape], output: Shape) -> int:
        return numel(output) if a["bias"] else 0

    def module(self, a: Attrs, inputs: Sequence[Shape]) -> Constructor:
        rank = len(inputs[0]) - 1
        return Constructor.of(
            f"nn.ConvTranspose{rank}d", inputs[0][0], a["channels"], kernel_size=compact(a["kernel"]),
            stride=compact(a["stride"]), padding=compact(a["pad"]), output_padding=compact(a["output_pad"]),
            groups=a["groups"], bias=a["bias"], dilation=compact(a["dilation"]),
            defaults={**CONV_DEFAULTS, "output_padding": 0},
        )


register(Conv())
register(ConvTranspose())
