"""Analyses of an elaborated graph; none of them imports torch."""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any, Callable

from netspec.analysis.cost import LayerCost, Totals, costs
from netspec.collector import collector_paused
from netspec.ir.graph import Graph
from netspec.ops.base import Symbol

if TYPE_CHECKING:  # the other analyses are imported when first asked for: `netspec check` needs none of them
    from netspec.analysis.borders import BorderLoss
    from netspec.analysis.explain import ToolFigure
    from netspec.analysis.inputs import InputSizes
    from netspec.analysis.memory import InferenceMemory, TrainingMemory
    from netspec.analysis.receptive import ReceptiveField
    from netspec.errors import Diagnostic


@dataclass(frozen=True)
class Analysis:
    """The result of `netspec.analyze`: the checked graph, per-layer costs, totals, memory, tool figures.

    `resize`, when given, elaborates the same spec at another input shape (None if that
    shape is invalid); it is what finds the input sizes a global-pooling network accepts.
    """

    graph: Graph
    resize: Callable[[tuple[int, ...]], Graph | None] | None = field(default=None, compare=False, repr=False)

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
        from netspec.analysis.receptive import receptive_fields

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

    # ---- memory, other tools, input sizes
    @cached_property
    def _memo(self) -> dict[tuple, Any]:
        return {}

    def inference_memory(self, batch: int = 1, dtype: str = "float32") -> InferenceMemory:
        """Peak of live tensors during one eval-mode forward of the generated module."""
        from netspec.analysis.memory import inference_memory

        key = ("inference", batch, dtype)
        if key not in self._memo:
            self._memo[key] = inference_memory(self.graph, batch, dtype)
        return self._memo[key]

    def training_memory(self, batch: int = 1, dtype: str = "float32", optimizer: str = "sgd") -> TrainingMemory:
        """Estimated peak of one training step (forward, backward, optimizer step)."""
        from netspec.analysis.memory import training_memory, training_pass

        key = ("training", batch, dtype, optimizer)
        if key not in self._memo:
            simulated = self._memo.get(("training pass", batch, dtype))
            if simulated is None:
                simulated = self._memo[("training pass", batch, dtype)] = training_pass(self.graph, batch, dtype)
            self._memo[key] = training_memory(self.graph, batch, dtype, optimizer, simulated=simulated)
        return self._memo[key]

    def explain(self) -> tuple[ToolFigure, ...]:
        """What torchinfo, fvcore, ptflops, thop, flop_counter and torchvision would report, and why."""
        from netspec.analysis.explain import explain

        return explain(self.graph)

    @cached_property
    def warnings(self) -> list[Diagnostic]:
        """Every warning about the spec: elaboration's (unreachable values) and the analyses' (lost border
        pixels, unsafe in-place requests), in source order."""
        from netspec.analysis.diagnostics import analysis_warnings, in_source_order

        with collector_paused():
            return in_source_order([*self.graph.warnings, *analysis_warnings(self.graph)])

    @cached_property
    def border_losses(self) -> list[BorderLoss]:
        """Layers whose windows never read the last rows/columns of their input (floor division)."""
        from netspec.analysis.borders import border_losses

        return border_losses(self.graph)

    @cached_property
    def input_sizes(self) -> InputSizes | None:
        """For networks whose outputs do not depend on the input size: the smallest size and the step."""
        from netspec.analysis.inputs import accepted_input_sizes

        return accepted_input_sizes(self.graph, self.resize) if self.resize else None

    def as_dict(self, batch: int = 1, dtype: str = "float32") -> dict:
        """The JSON form of `netspec summary --format json`; fields are only ever added (docs/json.md)."""
        inference = self.inference_memory(batch, dtype)
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
                "memory_bytes": f"{dtype}, batch {batch}: live tensor storages, kernel workspaces excluded",
            },
            "batch": batch,
            "dtype": dtype,
            "totals": {
                **self.totals.as_dict(),
                "memory": {
                    "inference": inference.as_dict(),
                    "training": {
                        name: self.training_memory(batch, dtype, name).as_dict()
                        for name in ("sgd", "sgd-momentum", "adam", "adamw")
                    },
                },
            },
            "other_tools": [figure.as_dict() for figure in self.explain()],
            "input_sizes": self.input_sizes.as_dict() if self.input_sizes else None,
            "warnings": [d.as_dict() for d in self.warnings],
            "border_losses": [
                {"layer": b.node, "lost": list(b.lost), "axes": list(b.axes), "input_shape": list(b.input_shape)}
                for b in self.border_losses
            ],
            "layers": [self._layer_dict(cost, node, inference) for cost, node in zip(self.layers, self.graph.layers())],
        }

    def _layer_dict(self, cost: LayerCost, node, inference: InferenceMemory) -> dict:
        field_ = self.receptive_fields[cost.name]
        receptive = field_.as_dict()
        receptive["padding"] = [_json_number(-s) for s in field_.start]
        return {
            **cost.as_dict(),
            "receptive_field": receptive,
            "attrs": {k: _json_value(v) for k, v in node.attrs.items()},
            "inputs": list(node.inputs),
            "source": str(node.span),
            "peak_live_bytes": inference.live_bytes[node.name],
        }


def _json_number(value: Any) -> Any:
    return value if isinstance(value, int) else str(value)


def _json_value(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_json_value(v) for v in value]
    if isinstance(value, Symbol):
        return value.name
    return value


__all__ = ["Analysis"]
