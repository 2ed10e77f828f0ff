"""Analyses of an elaborated graph; none of them imports torch."""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from netspec.analysis.cost import LayerCost, Totals, costs
from netspec.analysis.receptive import ReceptiveField, receptive_fields
from netspec.collector import collector_paused
from netspec.ir.graph import Graph


@dataclass(frozen=True)
class Analysis:
    """The result of `netspec.analyze`: the checked graph, per-layer costs and totals."""

    graph: Graph

    @cached_property
    def _costs(self) -> tuple[list[LayerCost], Totals]:
        with collector_paused():
            return costs(self.graph)

    @property
    def layers(self) -> list[LayerCost]:
        return self._costs[0]

    @property
    def totals(self) -> Totals:
        return self._costs[1]

    @cached_property
    def receptive_fields(self) -> dict[str, ReceptiveField]:
        with collector_paused():
            return receptive_fields(self.graph)

    @property
    def name(self) -> str:
        return self.graph.name

    @property
    def input_shape(self) -> tuple[int, ...]:
        return self.graph.input.shape

    @property
    def outputs(self) -> dict[str, tuple[int, ...]]:
        return {o.name: self.graph.node(o.node).shape for o in self.graph.outputs}

    def as_dict(self) -> dict:
        """The JSON form of `netspec summary --format json`; fields are only ever added."""
        return {
            "network": self.name,
            "params_set": {k: v for k, v in self.graph.params},
            "input": list(self.input_shape),
            "outputs": {name: list(shape) for name, shape in self.outputs.items()},
            "output_receptive_fields": {
                o.name: self.receptive_fields[o.node].describe() for o in self.graph.outputs
            },
            "conventions": {
                "macs": "multiply-accumulates of conv and linear layers (bias adds excluded); FLOPs = 2 x MACs",
                "shapes": "per sample, channels first; the batch dimension is not counted",
                "bytes": "float32",
            },
            "totals": self.totals.as_dict(),
            "layers": [
                {**c.as_dict(), "receptive_field": self.receptive_fields[c.name].as_dict()} for c in self.layers
            ],
        }


__all__ = ["Analysis"]
