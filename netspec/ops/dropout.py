"""Dropout: element-wise, or whole channels (dropout2d, 1d/2d/3d by the input's rank)."""
from __future__ import annotations

from typing import Any, Sequence

from netspec.ops.base import Attr, Attrs, Constructor, OpDef, Shape, need_spatial
from netspec.ops.registry import register


class Dropout(OpDef):
    name = "dropout"
    family = "dropout"
    summary = "Zero elements with probability p while training: `dropout [p=0.5]`."
    attrs = (Attr("p", "prob", 0.5, positional=True), Attr("inplace", "bool", False))

    def module(self, a: Attrs, inputs: Sequence[Shape]) -> Constructor:
        return Constructor.of("nn.Dropout", p=a["p"], inplace=a["inplace"], defaults={"inplace": False})


class ChannelDropout(OpDef):
    name = "dropout2d"
    family = "dropout"
    summary = "Zero whole channels with probability p while training: `dropout2d [p=0.5]`."
    attrs = (Attr("p", "prob", 0.5, positional=True),)

    def validate(self, v: dict[str, Any], inputs: Sequence[Shape]) -> None:
        need_spatial(inputs, self.name)

    def module(self, a: Attrs, inputs: Sequence[Shape]) -> Constructor:
        return Constructor.of(f"nn.Dropout{len(inputs[0]) - 1}d", p=a["p"])


register(Dropout())
register(ChannelDropout())
