"""Normalization layers: batch, layer, group and local response normalization."""
from __future__ import annotations

from typing import Any, Sequence

from netspec.ops.base import (
    Attr,
    Attrs,
    Constructor,
    Kept,
    OpDef,
    OpError,
    Saved,
    Shape,
    numel,
)
from netspec.ops.registry import register


class BatchNorm(OpDef):
    name = "batchnorm"
    family = "normalization"
    summary = "Batch normalization over channels: `batchnorm [eps=1e-5] [momentum=0.1] [affine=true]`."
    attrs = (Attr("eps", "float", 1e-5), Attr("momentum", "float", 0.1), Attr("affine", "bool", True))
    imports_from = ("BatchNorm1d", "BatchNorm2d", "BatchNorm3d")

    def from_module(self, m: Any) -> dict[str, Any]:
        if not m.track_running_stats:
            raise ValueError("batchnorm without running statistics has no op")
        if m.momentum is None:
            raise ValueError("batchnorm with momentum=None (a cumulative average) has no op")
        return {"eps": m.eps, "momentum": m.momentum, "affine": m.affine}

    def validate(self, v: dict[str, Any], inputs: Sequence[Shape]) -> None:
        if len(inputs[0]) > 4:
            raise OpError("'batchnorm' supports inputs of rank 1 to 4 (C, C×L, C×H×W, C×D×H×W)")

    def params(self, a: Attrs, inputs: Sequence[Shape]) -> int:
        return 2 * inputs[0][0] if a["affine"] else 0

    def buffers(self, a: Attrs, inputs: Sequence[Shape]) -> int:
        return 2 * inputs[0][0] + 1  # running mean, running var, num_batches_tracked

    def elementwise(self, a: Attrs, inputs: Sequence[Shape], output: Shape) -> int:
        return 2 * numel(output)  # one multiply and one add per element once folded

    def saved(self, a: Attrs, inputs: Sequence[Shape], output: Shape, inplace: bool = False) -> Saved:
        # the batch mean and inverse std per channel, kept in float32
        return Saved(inputs=(0,), extra=(Kept("statistics", 2 * inputs[0][0], itemsize=4, per_sample=False),))

    def module(self, a: Attrs, inputs: Sequence[Shape]) -> Constructor:
        rank = max(1, len(inputs[0]) - 1)
        return Constructor.of(
            f"nn.BatchNorm{rank}d", inputs[0][0], eps=a["eps"], momentum=a["momentum"], affine=a["affine"],
            defaults={"eps": 1e-5, "momentum": 0.1, "affine": True},
        )


class LayerNorm(OpDef):
    name = "layernorm"
    family = "normalization"
    summary = "Layer normalization over every per-sample axis: `layernorm [eps=1e-5] [affine=true]`."
    attrs = (Attr("eps", "float", 1e-5), Attr("affine", "bool", True))

    def params(self, a: Attrs, inputs: Sequence[Shape]) -> int:
        return 2 * numel(inputs[0]) if a["affine"] else 0

    def elementwise(self, a: Attrs, inputs: Sequence[Shape], output: Shape) -> int:
        return 2 * numel(output)

    def saved(self, a: Attrs, inputs: Sequence[Shape], output: Shape, inplace: bool = False) -> Saved:
        return Saved(inputs=(0,), extra=self.scratch(a, inputs, output))

    def scratch(self, a: Attrs, inputs: Sequence[Shape], output: Shape) -> tuple[Kept, ...]:
        return (Kept("statistics", 2),)  # mean and 1/std of each sample

    def module(self, a: Attrs, inputs: Sequence[Shape]) -> Constructor:
        kwargs: dict[str, Any] = {} if a["eps"] == 1e-5 else {"eps": a["eps"]}
        if not a["affine"]:
            kwargs["elementwise_affine"] = False
        return Constructor.of("nn.LayerNorm", tuple(inputs[0]), **kwargs)


class GroupNorm(OpDef):
    name = "groupnorm"
    family = "normalization"
    summary = "Group normalization: `groupnorm groups [eps=1e-5] [affine=true]`."
    attrs = (Attr("groups", "pos_int", positional=True), Attr("eps", "float", 1e-5), Attr("affine", "bool", True))

    def validate(self, v: dict[str, Any], inputs: Sequence[Shape]) -> None:
        if inputs[0][0] % v["groups"]:
            raise OpError(f"groups={v['groups']} does not divide the {inputs[0][0]} channels", "groups")

    def params(self, a: Attrs, inputs: Sequence[Shape]) -> int:
        return 2 * inputs[0][0] if a["affine"] else 0

    def elementwise(self, a: Attrs, inputs: Sequence[Shape], output: Shape) -> int:
        return 2 * numel(output)

    def saved(self, a: Attrs, inputs: Sequence[Shape], output: Shape, inplace: bool = False) -> Saved:
        return Saved(inputs=(0,), extra=self.scratch(a, inputs, output))

    def scratch(self, a: Attrs, inputs: Sequence[Shape], output: Shape) -> tuple[Kept, ...]:
        return (Kept("statistics", 2 * a["groups"]),)  # mean and 1/std per group

    def module(self, a: Attrs, inputs: Sequence[Shape]) -> Constructor:
        kwargs: dict[str, Any] = {} if a["eps"] == 1e-5 else {"eps": a["eps"]}
        if not a["affine"]:
            kwargs["affine"] = False
        return Constructor.of("nn.GroupNorm", a["groups"], inputs[0][0], **kwargs)


class LocalResponseNorm(OpDef):
    name = "lrn"
    family = "normalization"
    summary = "Local response normalization across channels (AlexNet): `lrn size [alpha=1e-4] [beta=0.75] [k=1]`."
    attrs = (
        Attr("size", "pos_int", positional=True),
        Attr("alpha", "float", 1e-4),
        Attr("beta", "float", 0.75),
        Attr("k", "float", 1.0),
    )
    imports_from = ("LocalResponseNorm",)

    def from_module(self, m: Any) -> dict[str, Any]:
        return {"size": m.size, "alpha": m.alpha, "beta": m.beta, "k": m.k}

    def validate(self, v: dict[str, Any], inputs: Sequence[Shape]) -> None:
        if len(inputs[0]) < 2:
            raise OpError("'lrn' needs a spatial input (C×L, C×H×W or C×D×H×W), as in PyTorch")

    def elementwise(self, a: Attrs, inputs: Sequence[Shape], output: Shape) -> int:
        return numel(output) * (a["size"] + 3)

    def saved(self, a: Attrs, inputs: Sequence[Shape], output: Shape, inplace: bool = False) -> Saved:
        # torch composes it: x², zero-padded across channels and averaged (keeps the padded
        # squares), ·alpha + k (kept by pow), ^beta (kept by the division), x / that (keeps x).
        c, spatial = inputs[0][0], numel(inputs[0][1:])
        return Saved(
            inputs=(0,),
            extra=(
                Kept("padded squares", (c + a["size"] - 1) * spatial),
                Kept("scaled sum", c * spatial),
                Kept("divisor", c * spatial),
            ),
        )

    def scratch(self, a: Attrs, inputs: Sequence[Shape], output: Shape) -> tuple[Kept, ...]:
        return (Kept("two intermediates of the composition", 2 * numel(inputs[0])),)

    def module(self, a: Attrs, inputs: Sequence[Shape]) -> Constructor:
        return Constructor.of("nn.LocalResponseNorm", a["size"], alpha=a["alpha"], beta=a["beta"], k=a["k"])


for _op in (BatchNorm(), LayerNorm(), GroupNorm(), LocalResponseNorm()):
    register(_op)
