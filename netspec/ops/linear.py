"""Fully connected layers."""
from __future__ import annotations

from typing import Any, Sequence

from netspec.ops.base import Attr, Attrs, Constructor, OpDef, OpError, Shape, format_shape
from netspec.ops.registry import register


class Linear(OpDef):
    name = "linear"
    family = "linear"
    summary = "Fully connected layer on a flat input: `linear features [bias=]`."
    attrs = (Attr("features", "pos_int", positional=True), Attr("bias", "bool", True))
    imports_from = ("Linear",)

    def from_module(self, m: Any) -> dict[str, Any]:
        return {"features": m.out_features, "bias": m.bias is not None}

    def validate(self, v: dict[str, Any], inputs: Sequence[Shape]) -> None:
        if len(inputs[0]) != 1:
            raise OpError(f"'linear' needs a flat input but gets {format_shape(inputs[0])}; add 'flatten' before it")

    def infer(self, a: Attrs, inputs: Sequence[Shape]) -> Shape:
        return (a["features"],)

    def params(self, a: Attrs, inputs: Sequence[Shape]) -> int:
        return inputs[0][0] * a["features"] + (a["features"] if a["bias"] else 0)

    def macs(self, a: Attrs, inputs: Sequence[Shape], output: Shape) -> int:
        return inputs[0][0] * a["features"]

    def elementwise(self, a: Attrs, inputs: Sequence[Shape], output: Shape) -> int:
        return a["features"] if a["bias"] else 0

    def module(self, a: Attrs, inputs: Sequence[Shape]) -> Constructor:
        return Constructor.of("nn.Linear", inputs[0][0], a["features"], bias=a["bias"], defaults={"bias": True})


register(Linear())
