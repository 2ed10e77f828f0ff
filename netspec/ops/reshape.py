"""Ops that move elements without arithmetic: flatten, reshape, identity, zero-pad, upsample, channel shuffle."""
from __future__ import annotations

from typing import Any, Sequence

from netspec.ops.base import (
    SAVES_NOTHING,
    Attr,
    Attrs,
    Constructor,
    OpDef,
    OpError,
    Saved,
    Shape,
    Window,
    compact,
    format_shape,
    need_spatial,
    numel,
    per_axis,
)
from netspec.ops.registry import register


class _Rearrangement(OpDef):
    """An op that only moves elements: its backward needs no tensor, only sizes."""

    family = "reshape"

    def saved(self, a: Attrs, inputs: Sequence[Shape], output: Shape, inplace: bool = False) -> Saved:
        return SAVES_NOTHING


class _View(_Rearrangement):
    """A rearrangement torch returns as a view of its input: no storage of its own."""

    def aliases_input(self, a: Attrs, inputs: Sequence[Shape]) -> bool:
        return True


class Flatten(_View):
    name = "flatten"
    summary = "Flatten every per-sample axis into one: C×H×W → C·H·W."

    def infer(self, a: Attrs, inputs: Sequence[Shape]) -> Shape:
        return (numel(inputs[0]),)

    def module(self, a: Attrs, inputs: Sequence[Shape]) -> Constructor:
        return Constructor.of("nn.Flatten")


class Reshape(_View):
    name = "reshape"
    summary = "Reshape the per-sample tensor: `reshape (64, 7, 7)` or `reshape 64x7x7`; one axis may be -1."
    attrs = (Attr("shape", "any", positional=True),)

    def validate(self, v: dict[str, Any], inputs: Sequence[Shape]) -> None:
        target = v["shape"] if isinstance(v["shape"], tuple) else (v["shape"],)
        if any(not isinstance(t, int) or isinstance(t, bool) or (t <= 0 and t != -1) for t in target):
            raise OpError("shape must be positive integers, with at most one -1", "shape")
        total = numel(inputs[0])
        if target.count(-1) > 1:
            raise OpError("shape may contain -1 only once", "shape")
        if -1 in target:
            known = numel(t for t in target if t != -1)
            if total % known:
                raise OpError(f"cannot reshape {total} elements into {target}", "shape")
            target = tuple(total // known if t == -1 else t for t in target)
        if numel(target) != total:
            raise OpError(
                f"cannot reshape {format_shape(inputs[0])} ({total} elements) into "
                f"{format_shape(target)} ({numel(target)} elements)",
                "shape",
            )
        v["shape"] = target

    def infer(self, a: Attrs, inputs: Sequence[Shape]) -> Shape:
        return a["shape"]

    def module(self, a: Attrs, inputs: Sequence[Shape]) -> Constructor:
        shape = a["shape"] if isinstance(a["shape"], tuple) else (a["shape"],)
        unflatten = Constructor.of("nn.Unflatten", 1, shape)
        return unflatten if len(inputs[0]) == 1 else Constructor.of("nn.Sequential", Constructor.of("nn.Flatten"), unflatten)


class Identity(_View):
    name = "identity"
    summary = "Pass the input through unchanged (an empty branch)."
    imports_from = ("Identity",)

    def module(self, a: Attrs, inputs: Sequence[Shape]) -> Constructor:
        return Constructor.of("nn.Identity")


class ZeroPad(_Rearrangement):
    name = "zeropad"
    summary = "Pad with zeros: `zeropad 1` (every side), `zeropad 1x2` (per axis)."
    attrs = (Attr("pad", "any", positional=True),)

    def validate(self, v: dict[str, Any], inputs: Sequence[Shape]) -> None:
        v["pad"] = per_axis(v["pad"], need_spatial(inputs, self.name), "pad", 0)

    def infer(self, a: Attrs, inputs: Sequence[Shape]) -> Shape:
        return (inputs[0][0], *(n + 2 * p for n, p in zip(inputs[0][1:], a["pad"])))

    def window(self, a: Attrs, inputs: Sequence[Shape]) -> Window:
        ones = (1,) * len(a["pad"])
        return Window(ones, ones, a["pad"], ones)  # a 1x1 window over the padded input

    def module(self, a: Attrs, inputs: Sequence[Shape]) -> Constructor:
        # torch orders padding from the last axis: (left, right, top, bottom, front, back)
        sides = tuple(p for pad in reversed(a["pad"]) for p in (pad, pad))
        return Constructor.of(f"nn.ZeroPad{len(a['pad'])}d", compact(sides))


class Upsample(_Rearrangement):
    name = "upsample"
    summary = "Upsample by an integer factor: `upsample 2 [mode=nearest|linear]` (linear picks bi-/trilinear)."
    attrs = (Attr("scale", "any", positional=True), Attr("mode", "choice", "nearest", choices=("nearest", "linear")))

    def validate(self, v: dict[str, Any], inputs: Sequence[Shape]) -> None:
        v["scale"] = per_axis(v["scale"], need_spatial(inputs, self.name), "scale", 1)

    def infer(self, a: Attrs, inputs: Sequence[Shape]) -> Shape:
        return (inputs[0][0], *(n * s for n, s in zip(inputs[0][1:], a["scale"])))

    def elementwise(self, a: Attrs, inputs: Sequence[Shape], output: Shape) -> int:
        return numel(output) if a["mode"] == "linear" else 0

    def module(self, a: Attrs, inputs: Sequence[Shape]) -> Constructor:
        rank = len(inputs[0]) - 1
        scale = a["scale"][0] if len(set(a["scale"])) == 1 else tuple(float(s) for s in a["scale"])
        if a["mode"] == "nearest":
            return Constructor.of("nn.Upsample", scale_factor=scale, mode="nearest")
        mode = {1: "linear", 2: "bilinear", 3: "trilinear"}[rank]
        return Constructor.of("nn.Upsample", scale_factor=scale, mode=mode, align_corners=False)


class ChannelShuffle(_Rearrangement):
    name = "channel_shuffle"
    summary = "Interleave channels across groups (ShuffleNet): `channel_shuffle groups`."
    attrs = (Attr("groups", "pos_int", positional=True),)

    def validate(self, v: dict[str, Any], inputs: Sequence[Shape]) -> None:
        if len(inputs[0]) < 2:
            raise OpError("'channel_shuffle' needs a spatial input (C×...)")
        if inputs[0][0] % v["groups"]:
            raise OpError(f"groups={v['groups']} does not divide the {inputs[0][0]} channels", "groups")

    def module(self, a: Attrs, inputs: Sequence[Shape]) -> Constructor:
        return Constructor.of("nn.ChannelShuffle", a["groups"])


for _op in (Flatten(), Reshape(), Identity(), ZeroPad(), Upsample(), ChannelShuffle()):
    register(_op)

