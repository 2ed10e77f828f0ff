"""Dropout: element-wise, or whole channels (dropout2d, 1d/2d/3d by the input's rank)."""
from __future__ import annotations

from typing import Any, Sequence

from netspec.ops.base import (
    SAVES_NOTHING,
    Attr,
    Attrs,
    Constructor,
    Kept,
    OpDef,
    Saved,
    Shape,
    need_spatial,
    numel,
)
from netspec.ops.registry import register


def _kept_mask(p: float, elements: int) -> Saved:
    """torch multiplies by a scaled random mask of the input's dtype and keeps the mask;
    p = 0 returns the input untouched, p = 1 multiplies by a zero scalar."""
    if p == 0:
        return SAVES_NOTHING
    if p == 1:
        return Saved(extra=(Kept("zero", 1, per_sample=False),))
    return Saved(extra=(Kept("mask", elements),))


class Dropout(OpDef):
    name = "dropout"
    family = "dropout"
    summary = "Zero elements with probability p while training: `dropout [p=0.5]`."
    attrs = (Attr("p", "prob", 0.5, positional=True), Attr("inplace", "bool", False))
    imports_from = ("Dropout",)

    def from_module(self, m: Any) -> dict[str, Any]:
        return {"p": m.p, "inplace": m.inplace}

    def saved(self, a: Attrs, inputs: Sequence[Shape], output: Shape, inplace: bool = False) -> Saved:
        return _kept_mask(a["p"], numel(inputs[0]))

    def aliases_input(self, a: Attrs, inputs: Sequence[Shape]) -> bool:
        return True  # in eval mode the module returns its input tensor itself

    def aliases_in_training(self, a: Attrs, inputs: Sequence[Shape]) -> bool:
        return a["p"] == 0  # torch returns the input itself only when nothing is dropped

    def inplace_operand(self, a: Attrs, inputs: Sequence[Shape]) -> int | None:
        return 0

    def inplace_module(self, a: Attrs, inputs: Sequence[Shape]) -> Constructor:
        return Constructor.of("nn.Dropout", p=a["p"], inplace=True, defaults={"inplace": False})

    def module(self, a: Attrs, inputs: Sequence[Shape]) -> Constructor:
        return Constructor.of("nn.Dropout", p=a["p"], inplace=a["inplace"], defaults={"inplace": False})


class ChannelDropout(OpDef):
    name = "dropout2d"
    family = "dropout"
    summary = "Zero whole channels with probability p while training: `dropout2d [p=0.5]`."
    attrs = (Attr("p", "prob", 0.5, positional=True),)
    imports_from = ("Dropout1d", "Dropout2d", "Dropout3d")

    def from_module(self, m: Any) -> dict[str, Any]:
        return {"p": m.p}

    def validate(self, v: dict[str, Any], inputs: Sequence[Shape]) -> None:
        need_spatial(inputs, self.name)

    def saved(self, a: Attrs, inputs: Sequence[Shape], output: Shape, inplace: bool = False) -> Saved:
        return _kept_mask(a["p"], inputs[0][0])  # one scaled keep-or-drop per channel

    def aliases_input(self, a: Attrs, inputs: Sequence[Shape]) -> bool:
        return True  # in eval mode the module returns its input tensor itself

    def aliases_in_training(self, a: Attrs, inputs: Sequence[Shape]) -> bool:
        return a["p"] == 0  # torch returns the input itself only when nothing is dropped

    def module(self, a: Attrs, inputs: Sequence[Shape]) -> Constructor:
        return Constructor.of(f"nn.Dropout{len(inputs[0]) - 1}d", p=a["p"])


register(Dropout())
register(ChannelDropout())
