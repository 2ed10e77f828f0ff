"""Costs → what other tools would report: torchinfo, fvcore, ptflops (both backends), thop, flop_counter, torchvision.

Each tool's total is derived from our per-layer counts by that tool's own counting
convention (read from its source and confirmed against measurements of torchvision's
models: tests/reference/torch_tools_counts.json), without running anything. Our number
is the multiply-accumulates of convolutions and linear layers, bias excluded.

Conventions, per layer kind (P = our MACs, out/in = output/input elements):

| layer        | torchinfo    | fvcore       | ptflops, pytorch backend       | ptflops, aten | thop        |
|--------------|--------------|--------------|--------------------------------|---------------|-------------|
| conv, linear | P + bias out | P            | P + bias out                   | P + bias out  | P           |
| batchnorm    | 2·C (params) | 2·out        | 2·out                          | 0             | 4·out       |
| relu family  | 0            | 0            | out (count_functional: 2·out)  | 0             | 0           |
| max pooling  | 0            | 0            | in (count_functional: 2·in)    | 0             | 0           |
| avg pooling  | 0            | adaptive: in | in (count_functional: 2·in)    | 0             | (k + 1)·out |
| add, concat  | 0            | 0            | 0                              | 0             | 0           |

ptflops' pytorch backend with its default `count_functional=True` counts `nn.ReLU` and
pooling twice: the module hook, and the patched functional the module calls (ptflops
issue #139). Ops outside this table
(layer norm, upsampling, softmax, ...) are not derived: a figure for a network that has
them is marked approximate.
"""
from __future__ import annotations

from dataclasses import dataclass

from netspec.ir.graph import Graph
from netspec.ops.base import numel

TOOL_VERSIONS = "torchinfo 1.8.0, fvcore 0.1.5, ptflops 0.7.5, thop 0.1.1, torch 2.14.1, torchvision 0.29.1"

RELU_FAMILY = {"relu", "relu6", "leaky_relu", "elu", "prelu"}  # the activations ptflops hooks
MAX_POOLS = {"maxpool", "adaptive_maxpool", "global_maxpool"}
AVG_POOLS = {"avgpool", "adaptive_avgpool", "global_avgpool"}
FREE = {"add", "concat", "flatten", "reshape", "identity", "dropout", "dropout2d", "chunk", "split"}
MODELED = {"conv", "linear", "batchnorm"} | RELU_FAMILY | MAX_POOLS | AVG_POOLS | FREE


@dataclass(frozen=True)
class ToolFigure:
    """The total one tool would report for the network, and why it differs from ours."""

    tool: str
    key: str  # the field of tests/reference/torch_tools_counts.json it is checked against
    value: int
    unit: str
    reason: str
    exact: bool  # False if the network has layers whose convention for this tool is not derived

    def as_dict(self) -> dict:
        return {
            "tool": self.tool, "key": self.key, "value": self.value, "unit": self.unit,
            "reason": self.reason, "exact": self.exact,
        }


@dataclass(frozen=True)
class Tally:
    """The per-kind element counts the conventions need."""

    macs: int = 0
    bias_adds: int = 0
    bn_channels: int = 0
    bn_elements: int = 0
    relu_elements: int = 0
    maxpool_inputs: int = 0
    avgpool_inputs: int = 0
    adaptive_avgpool_inputs: int = 0
    thop_avgpool: int = 0  # (kernel elements + 1) per output element
    unmodeled: tuple[str, ...] = ()


def tally(graph: Graph) -> Tally:
    counts = dict.fromkeys(Tally.__dataclass_fields__, 0)
    unmodeled: set[str] = set()
    for node in graph.layers():
        shapes = graph.input_shapes(node)
        out, inp = numel(node.shape), numel(shapes[0])
        op = node.op
        counts["macs"] += node.opdef.macs(node.attrs, shapes, node.shape)
        if op in ("conv", "linear") and node.attrs.get("bias") is True:
            counts["bias_adds"] += out
        elif op == "batchnorm":
            counts["bn_channels"] += node.shape[0]
            counts["bn_elements"] += out
        elif op in RELU_FAMILY:
            counts["relu_elements"] += out
        elif op in MAX_POOLS:
            counts["maxpool_inputs"] += inp
        elif op in AVG_POOLS:
            counts["avgpool_inputs"] += inp
            if op != "avgpool":
                counts["adaptive_avgpool_inputs"] += inp
                kernel = numel(n // o for n, o in zip(shapes[0][1:], node.shape[1:]))
            else:
                kernel = numel(node.attrs["kernel"])
            counts["thop_avgpool"] += (kernel + 1) * out
        elif op not in MODELED:
            unmodeled.add(op)
    counts["unmodeled"] = tuple(sorted(unmodeled))
    return Tally(**counts)


def explain(graph: Graph) -> tuple[ToolFigure, ...]:
    """What each tool would report for this network, with a one-line reason for the difference."""
    t = tally(graph)
    exact = not t.unmodeled
    figures = (
        ToolFigure("torchvision _ops", "products_conv_linear", t.macs, "MACs",
                   "the same count as ours: conv and linear products, bias excluded", True),
        ToolFigure("torch.utils.flop_counter", "torch_flop_counter_flops", 2 * t.macs, "FLOPs",
                   "FLOPs = exactly 2 x our MACs", True),
        ToolFigure("torchinfo (Mult-Adds)", "torchinfo_mult_adds", t.macs + t.bias_adds + 2 * t.bn_channels, "MACs",
                   f"also one add per output of a biased conv/linear (+{t.bias_adds:,}) and, for batchnorm, "
                   f"its parameter count (+{2 * t.bn_channels:,})", exact),
        ToolFigure("fvcore", "fvcore", t.macs + 2 * t.bn_elements + t.adaptive_avgpool_inputs, "MACs",
                   f"also 2 per batchnorm element (+{2 * t.bn_elements:,}) and 1 per adaptive-avg-pool input "
                   f"(+{t.adaptive_avgpool_inputs:,}); no bias adds", exact),
        ToolFigure("ptflops (pytorch backend, count_functional=False)", "ptflops_macs_no_functional",
                   t.macs + t.bias_adds + 2 * t.bn_elements + t.relu_elements + t.maxpool_inputs + t.avgpool_inputs,
                   "MACs",
                   f"also bias adds (+{t.bias_adds:,}), 2 per batchnorm element (+{2 * t.bn_elements:,}), 1 per ReLU "
                   f"output (+{t.relu_elements:,}) and 1 per pooling input (+{t.maxpool_inputs + t.avgpool_inputs:,})",
                   exact),
        ToolFigure("ptflops (pytorch backend, default)", "ptflops_macs",
                   t.macs + t.bias_adds + 2 * t.bn_elements + 2 * (t.relu_elements + t.maxpool_inputs + t.avgpool_inputs),
                   "MACs",
                   "as count_functional=False, but ReLU and pooling counted twice, by the module hook and the patched "
                   f"functional (+{t.relu_elements + t.maxpool_inputs + t.avgpool_inputs:,}; ptflops issue #139)", exact),
        ToolFigure("ptflops (aten backend)", "ptflops_aten_macs", t.macs + t.bias_adds, "MACs",
                   f"counts only convolutions and matrix products, bias adds included (+{t.bias_adds:,})", True),
        ToolFigure("thop", "thop_macs", t.macs + 4 * t.bn_elements + t.thop_avgpool, "MACs",
                   f"also 4 per batchnorm element (+{4 * t.bn_elements:,}) and kernel size + 1 per average-pool "
                   f"output (+{t.thop_avgpool:,}); no bias adds", exact),
    )
    return figures


__all__ = ["ToolFigure", "explain", "tally", "TOOL_VERSIONS"]
