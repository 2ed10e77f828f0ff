"""torch.nn.Module → fully convolutional torch.nn.Module, through torch.fx (`netspec.convolutionize`).

The module is traced with `torch.fx` (in its current train/eval mode) and its shapes at the
reference input are propagated with fake tensors (nothing is computed). Then every node is
copied into a new graph, in order, carrying what the original value *was* next to what the
converted value *is*:

- ``map``: an ordinary tensor, unchanged by the conversion;
- ``flat``: the original flattened a C×H×W map here; the converted value is still that map,
  so the next linear layer becomes a conv with an H×W kernel (and the flatten goes);
- ``vector``: the original held N×F features; the converted value is an N×F×h×w map of them
  (one vector per output cell), so later linear layers become 1×1 convs;
- ``pooled``: with ``dense=True``, a global average pool was dropped here; the converted
  value is the un-pooled map, and only layers that commute with averaging may follow.

The rules are those of `netspec.compiler.convolutionize` (the spec-level pass) and are
stated once there in prose; parameters of converted layers are the original tensors viewed
in their new shape (no values change, storage is shared), unchanged layers share their
parameters and buffers with the input module, which is never modified.
"""
from __future__ import annotations

import copy
import operator
from dataclasses import dataclass, field
from typing import Any, Sequence

import torch
import torch.fx as fx
import torch.nn as nn
import torch.nn.functional as F

from netspec.compiler.convolutionize import Change, ConvolutionizeError

CONVS = {1: nn.Conv1d, 2: nn.Conv2d, 3: nn.Conv3d}
BATCHNORMS = {1: nn.BatchNorm1d, 2: nn.BatchNorm2d, 3: nn.BatchNorm3d}
AVG_POOLS = {1: nn.AvgPool1d, 2: nn.AvgPool2d, 3: nn.AvgPool3d}
MAX_POOLS = {1: nn.MaxPool1d, 2: nn.MaxPool2d, 3: nn.MaxPool3d}

ELEMENTWISE_MODULES = (
    nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.ELU, nn.GELU, nn.SiLU, nn.Sigmoid, nn.Tanh, nn.Hardswish,
    nn.Hardsigmoid, nn.PReLU, nn.Identity, nn.Dropout, nn.AlphaDropout, nn.Mish, nn.Softplus,
)
ELEMENTWISE_FUNCTIONS = {
    F.relu, F.relu6, F.leaky_relu, F.elu, F.gelu, F.silu, F.sigmoid, F.tanh, F.hardswish, F.hardsigmoid,
    F.dropout, torch.relu, torch.sigmoid, torch.tanh, torch.nn.functional.mish,
}
ELEMENTWISE_METHODS = {"relu", "relu_", "sigmoid", "tanh", "contiguous", "clone"}
ARITHMETIC = {operator.add, operator.sub, operator.mul, operator.truediv, operator.iadd, operator.imul, torch.add, torch.mul, torch.sub}
DROPOUTS = (nn.Dropout, nn.AlphaDropout)
LINEAR_SAFE = (nn.Dropout, nn.Identity)  # commute with spatial averaging (dropout: at inference)
ADAPTIVE_MODULES = {
    nn.AdaptiveAvgPool1d: "avg", nn.AdaptiveAvgPool2d: "avg", nn.AdaptiveAvgPool3d: "avg",
    nn.AdaptiveMaxPool1d: "max", nn.AdaptiveMaxPool2d: "max", nn.AdaptiveMaxPool3d: "max",
}
ADAPTIVE_FUNCTIONS = {
    F.adaptive_avg_pool1d: "avg", F.adaptive_avg_pool2d: "avg", F.adaptive_avg_pool3d: "avg",
    F.adaptive_max_pool1d: "max", F.adaptive_max_pool2d: "max", F.adaptive_max_pool3d: "max",
}


@dataclass(frozen=True)
class _Value:
    """A converted value: its node in the new graph and what the original value was."""

    node: Any  # fx.Node, or a constant
    kind: str = "map"  # map | flat | vector | pooled
    grid: tuple[int, ...] = ()  # flat: the C×H×W the original flattened; vector/pooled: () with rank below
    rank: int = 0  # spatial rank of the converted map (vector, pooled)


@dataclass
class Conversion:
    """The converted module and what changed, layer by layer."""

    module: fx.GraphModule
    changes: list[Change] = field(default_factory=list)

    @property
    def notes(self) -> list[str]:
        return [f"{c.layer}: {c.before} → {c.after}" + (f" ({c.reason})" if c.reason else "") for c in self.changes]


def convolutionize(module: nn.Module, input_shape: Sequence[int], dense: bool = False, keep_adaptive: bool = False) -> fx.GraphModule:
    """A fully convolutional copy of `module`, for per-sample `input_shape` (C×H×W, no batch).

    Linear layers become convolutions whose weights are views of the original ones; the
    input module is not modified. `dense=True` drops a global average pool that precedes the
    classifier (the output is then a class map whose spatial mean is the original output);
    `keep_adaptive=True` keeps adaptive pools that are not the identity at `input_shape`
    instead of refusing them. What changed is in `result.netspec_changes`.
    """
    conversion = convert_module(module, input_shape, dense=dense, keep_adaptive=keep_adaptive)
    conversion.module.netspec_changes = conversion.changes
    return conversion.module


def convert_module(module: nn.Module, input_shape: Sequence[int], dense: bool = False, keep_adaptive: bool = False) -> Conversion:
    root = _structural_copy(module)
    try:
        tracer = _ScopeTracer()
        traced = fx.GraphModule(root, tracer.trace(root), class_name=type(module).__name__)
    except Exception as error:  # fx reports untraceable Python control flow this way
        raise ConvolutionizeError(
            f"cannot convolutionize {type(module).__name__}: torch.fx cannot trace it ({type(error).__name__}: {error})"
        ) from None
    shapes = _reference_shapes(traced, input_shape)
    converter = _Converter(traced, shapes, dense, keep_adaptive)
    graph = converter.run()
    result = fx.GraphModule(converter.root, graph, class_name=f"{type(module).__name__}FullyConvolutional")
    result.train(module.training)
    return Conversion(result, converter.changes)


# ---- preparation


class _ScopeTracer(fx.Tracer):
    """symbolic_trace, also recording in each node's meta the path of the module whose forward made it."""

    def __init__(self) -> None:
        super().__init__()
        self.scopes: list[str] = []

    def call_module(self, m: nn.Module, forward, args, kwargs):
        self.scopes.append(self.path_of_module(m))
        try:
            return super().call_module(m, forward, args, kwargs)
        finally:
            self.scopes.pop()

    def create_node(self, *args, **kwargs):
        node = super().create_node(*args, **kwargs)
        node.meta["netspec_scope"] = self.scopes[-1] if self.scopes else ""
        return node


def _structural_copy(module: nn.Module) -> nn.Module:
    """New module objects, the same parameter and buffer tensors (so nothing is copied or changed)."""
    memo: dict[int, Any] = {id(t): t for t in module.parameters()}
    memo.update({id(t): t for t in module.buffers()})
    return copy.deepcopy(module, memo)


def _reference_shapes(traced: fx.GraphModule, input_shape: Sequence[int]) -> dict[fx.Node, tuple[int, ...] | None]:
    """Every node's output shape for a batch of 1 at `input_shape`, from fake tensors (no computation)."""
    from torch._subclasses.fake_tensor import FakeTensorMode
    from torch.fx.passes.shape_prop import ShapeProp

    reference = next(iter(traced.parameters()), None)
    dtype = reference.dtype if reference is not None else torch.float32
    modes = {name: m.training for name, m in traced.named_modules()}
    traced.eval()  # batchnorm in training mode would update the (shared) running statistics
    try:
        with torch.no_grad():
            ShapeProp(traced, fake_mode=FakeTensorMode(allow_non_fake_inputs=True)).propagate(
                torch.empty(1, *input_shape, dtype=dtype)
            )
    except Exception as error:
        raise ConvolutionizeError(
            f"the module does not accept an input of shape {'x'.join(map(str, input_shape))}: {type(error).__name__}: {error}"
        ) from None
    finally:
        for name, m in traced.named_modules():
            m.training = modes[name]
    shapes = {}
    for node in traced.graph.nodes:
        meta = node.meta.get("tensor_meta")
        shapes[node] = tuple(meta.shape) if hasattr(meta, "shape") else None
    return shapes


# ---- the conversion


class _Converter:
    def __init__(self, traced: fx.GraphModule, shapes: dict, dense: bool, keep_adaptive: bool):
        self.traced = traced
        self.root = traced  # converted layers are put in place of the originals, at the same path
        self.shapes = shapes
        self.dense = dense
        self.keep_adaptive = keep_adaptive
        self.graph = fx.Graph()
        self.env: dict[fx.Node, _Value] = {}
        self.changes: list[Change] = []
        self.replaced: dict[str, nn.Module] = {}

    def run(self) -> fx.Graph:
        for node in self.traced.graph.nodes:
            self.env[node] = self.convert(node)
        for target, replacement in self.replaced.items():
            self.root.set_submodule(target, replacement)
        self.graph.lint()
        return self.graph

    # ---- helpers
    def copy(self, node: fx.Node, kind: str = "map", **form: Any) -> _Value:
        new = self.graph.node_copy(node, lambda n: self.env[n].node)
        return _Value(new, kind, **form)

    def tensor_inputs(self, node: fx.Node) -> list[_Value]:
        return [self.env[n] for n in node.all_input_nodes if self.shapes.get(n) is not None]

    def layer(self, node: fx.Node) -> str:
        """The module path of a layer, or of the module whose forward calls a function (`aux1.flatten`)."""
        if node.op == "call_module":
            return node.target
        scope = node.meta.get("netspec_scope", "")
        return f"{scope}.{node.name}" if scope else node.name

    def describe(self, node: fx.Node) -> str:
        if node.op == "call_module":
            return type(self.traced.get_submodule(node.target)).__name__
        if node.op == "call_method":
            return f"Tensor.{node.target}"
        return getattr(node.target, "__name__", str(node.target))

    def fail(self, node: fx.Node, reason: str) -> ConvolutionizeError:
        return ConvolutionizeError(f"cannot convolutionize layer '{self.layer(node)}' ({self.describe(node)}): {reason}")

    def emit_module(self, node: fx.Node, module: nn.Module, source: fx.Node) -> fx.Node:
        """A call of `module` at the path of `node`'s module (or a new path named after the node)."""
        if node.op == "call_module":
            target = node.target
            self.replaced[target] = module  # put in place at the end: later nodes may still call the original
        else:
            target = node.name
            self.root.add_submodule(target, module)
        return self.graph.call_module(target, (source,))

    # ---- one node
    def convert(self, node: fx.Node) -> _Value:
        if node.op in ("placeholder", "get_attr"):
            return self.copy(node)
        if node.op == "output":
            return self.copy(node)
        module = self.traced.get_submodule(node.target) if node.op == "call_module" else None
        inputs = self.tensor_inputs(node)
        kinds = {v.kind for v in inputs}
        if self.is_flatten(node, module):
            return self.flatten(node, inputs[0])
        adaptive = ADAPTIVE_MODULES.get(type(module)) if module is not None else (
            ADAPTIVE_FUNCTIONS.get(node.target) if node.op == "call_function" else None
        )
        if adaptive and inputs and inputs[0].kind == "map":
            return self.adaptive_pool(node, inputs[0], adaptive)
        if isinstance(module, nn.Linear):
            return self.linear(node, module, inputs[0])
        if node.op == "call_function" and node.target is F.linear:
            if kinds != {"map"} or len(self.shapes[node.args[0]]) > 2:
                raise self.fail(node, "a functional linear cannot be converted; use an nn.Linear module")
        if kinds <= {"map"}:
            return self.copy(node)
        return self.on_features(node, module, inputs, kinds)

    def is_flatten(self, node: fx.Node, module: nn.Module | None) -> bool:
        if not node.all_input_nodes:
            return False
        source = self.shapes.get(node.all_input_nodes[0])
        out = self.shapes.get(node)
        if source is None or out is None or len(out) != 2 or len(source) < 2:
            return False
        if isinstance(module, nn.Flatten):
            return module.start_dim == 1 and module.end_dim == -1
        if node.op == "call_function" and node.target is torch.flatten:
            return True
        if node.op == "call_method" and node.target in ("flatten", "view", "reshape"):
            return out[0] == source[0]
        if node.op == "call_function" and node.target is torch.reshape:
            return out[0] == source[0]
        return False

    def flatten(self, node: fx.Node, value: _Value) -> _Value:
        source = self.shapes[node.all_input_nodes[0]]
        if value.kind in ("vector", "pooled"):
            return value  # flattening an N×F value that is already per-cell features
        if value.kind == "flat":
            return value
        if len(source) == 2:
            return self.copy(node)  # a flatten of something already flat stays what it was
        self.changes.append(Change(self.layer(node), f"flatten {_shape(source[1:])}", "removed", "the map stays a map"))
        return _Value(value.node, "flat", tuple(source[1:]))

    def adaptive_pool(self, node: fx.Node, value: _Value, kind: str) -> _Value:
        source, out = self.shapes[node.all_input_nodes[0]], self.shapes[node]
        rank = len(source) - 2
        before = f"adaptive {kind} pool {_shape(source[2:])} → {_shape(out[2:])}"
        if source[2:] == out[2:]:
            self.changes.append(Change(self.layer(node), before, "removed", "the identity at the reference input"))
            return value
        if all(o == 1 for o in out[2:]):  # a global pool over the reference map: a fixed window
            window = tuple(source[2:])
            if kind == "avg" and self.dense:
                self.changes.append(Change(self.layer(node), before, "removed (--dense)", "the layers after it apply at every position"))
                return _Value(value.node, "pooled", rank=rank)
            pool = (AVG_POOLS if kind == "avg" else MAX_POOLS)[rank](window, stride=1)
            self.changes.append(Change(self.layer(node), before, f"{kind} pool {_shape(window)} stride 1", "the global pool's window at the reference input"))
            return _Value(self.emit_module(node, pool, value.node))
        if self.keep_adaptive:
            self.changes.append(Change(self.layer(node), before, "kept (--keep-adaptive)", "not the identity at the reference input"))
            return self.copy(node)
        raise self.fail(
            node,
            f"it pools {_shape(source[2:])} to {_shape(out[2:])} at the reference input, so it is not the identity and a "
            "larger input would be pooled back to the same size; keep it (keep_adaptive=True, --keep-adaptive) or change the input size",
        )

    def linear(self, node: fx.Node, layer: nn.Linear, value: _Value) -> _Value:
        out_features, in_features = layer.weight.shape
        if value.kind == "flat":
            channels, *grid = value.grid
            rank = len(grid)
            kernel = tuple(grid)
            kind = "vector"
        elif value.kind in ("vector", "pooled"):
            channels, rank, kernel, kind = in_features, value.rank, (1,) * value.rank, value.kind
        else:
            source = self.shapes[node.all_input_nodes[0]]
            raise self.fail(
                node,
                f"its input ({_shape(source[1:])} per sample) does not come from a flattened map, so there is no grid to slide over",
            )
        if rank not in CONVS:
            raise self.fail(node, f"a map with {rank} spatial axes has no convolution")
        with torch.device("meta"):
            conv = CONVS[rank](channels, out_features, kernel, bias=layer.bias is not None)
        conv.weight = nn.Parameter(layer.weight.detach().view(out_features, channels, *kernel), requires_grad=layer.weight.requires_grad)
        if layer.bias is not None:
            conv.bias = layer.bias
        conv.train(layer.training)
        self.changes.append(Change(self.layer(node), f"linear {in_features} → {out_features}", f"conv {out_features} {_shape(kernel)}", ""))
        return _Value(self.emit_module(node, conv, value.node), kind, rank=rank)

    def on_features(self, node: fx.Node, module: nn.Module | None, inputs: list[_Value], kinds: set[str]) -> _Value:
        """A layer reading flattened features, per-cell vectors or a dropped pool's map."""
        if len(kinds) > 1:
            raise self.fail(node, "it combines values that convert differently (a flattened map with a map or a vector)")
        value = inputs[0]
        kind = value.kind
        if kind == "pooled" and not self.commutes_with_averaging(node, module):
            raise self.fail(node, "--dense drops the global average pool, which is exact only when every layer after it is linear (linear, dropout, batchnorm); this one is not")
        if isinstance(module, nn.BatchNorm1d):
            if kind == "flat":
                raise self.fail(node, "a batchnorm over flattened features has one statistic per position; it has no convolutional form")
            return self.batchnorm(node, module, value)
        if isinstance(module, (nn.Softmax, nn.LogSoftmax)) or (node.op == "call_function" and node.target in (F.softmax, F.log_softmax, torch.softmax, torch.log_softmax)):
            return self.softmax(node, module, value)
        if isinstance(module, ELEMENTWISE_MODULES):
            if kind == "flat" and isinstance(module, nn.PReLU) and module.num_parameters > 1:
                raise self.fail(node, "a per-feature PReLU on flattened features has no convolutional form")
            return self.copy(node, kind, grid=value.grid, rank=value.rank)
        if node.op == "call_function" and (node.target in ELEMENTWISE_FUNCTIONS or node.target in ARITHMETIC):
            return self.copy(node, kind, grid=value.grid, rank=value.rank)
        if node.op == "call_method" and node.target in ELEMENTWISE_METHODS:
            return self.copy(node, kind, grid=value.grid, rank=value.rank)
        if node.op == "call_function" and node.target in (torch.cat, torch.concat) and kind != "flat":
            dim = node.kwargs.get("dim", node.args[1] if len(node.args) > 1 else 0)
            if dim not in (1, -1):
                raise self.fail(node, f"it concatenates along axis {dim}, not the features")
            new = self.graph.node_copy(node, lambda n: self.env[n].node)
            new.args = (new.args[0], 1) if len(new.args) > 1 else new.args
            if "dim" in new.kwargs:
                new.kwargs = {**new.kwargs, "dim": 1}
            return _Value(new, kind, rank=value.rank)
        if self.shapes.get(node) is None and (node.target is operator.getitem or isinstance(node.target, type)):
            return self.copy(node)  # packing outputs into a tuple or named tuple (several heads)
        what = {"flat": "flattened features", "vector": "the features of a converted linear layer", "pooled": "the map of a dropped pool"}[kind]
        raise self.fail(node, f"it reads {what} and is not element-wise, a linear layer, a batchnorm or a softmax")

    def commutes_with_averaging(self, node: fx.Node, module: nn.Module | None) -> bool:
        if isinstance(module, (nn.Linear, nn.BatchNorm1d, *LINEAR_SAFE)) or self.is_flatten(node, module):
            return True
        return node.op == "call_function" and node.target is F.dropout

    def batchnorm(self, node: fx.Node, layer: nn.BatchNorm1d, value: _Value) -> _Value:
        with torch.device("meta"):
            norm = BATCHNORMS[value.rank](layer.num_features, eps=layer.eps, momentum=layer.momentum,
                                          affine=layer.affine, track_running_stats=layer.track_running_stats)
        for name in ("weight", "bias"):
            setattr(norm, name, getattr(layer, name))
        for name in ("running_mean", "running_var", "num_batches_tracked"):
            setattr(norm, name, getattr(layer, name))
        norm.train(layer.training)
        self.changes.append(Change(self.layer(node), "batchnorm1d", f"batchnorm{value.rank}d", "the same statistics, per channel"))
        return _Value(self.emit_module(node, norm, value.node), value.kind, rank=value.rank)

    def softmax(self, node: fx.Node, module: nn.Module | None, value: _Value) -> _Value:
        if value.kind == "flat":
            raise self.fail(node, "a softmax over flattened map positions has no convolutional form")
        original = self.shapes[node.all_input_nodes[0]]
        dim = module.dim if module is not None else node.kwargs.get("dim", node.args[1] if len(node.args) > 1 else None)
        if dim not in (1, -1, None) or len(original) != 2:
            raise self.fail(node, f"it normalizes along axis {dim}, not the features")
        name = "softmax" if isinstance(module, nn.Softmax) or node.target in (F.softmax, torch.softmax) else "log_softmax"
        if module is not None:
            replacement = type(module)(dim=1)
            self.changes.append(Change(self.layer(node), f"{name} over features", f"{name} over channels (dim 1)", ""))
            return _Value(self.emit_module(node, replacement, value.node), value.kind, rank=value.rank)
        new = self.graph.node_copy(node, lambda n: self.env[n].node)
        new.args = (new.args[0],) + ((1,) if len(new.args) > 1 else ())
        if "dim" in new.kwargs:
            new.kwargs = {**new.kwargs, "dim": 1}
        self.changes.append(Change(self.layer(node), f"{name} over features", f"{name} over channels (dim 1)", ""))
        return _Value(new, value.kind, rank=value.rank)


def _shape(values: Sequence[int]) -> str:
    return "x".join(str(v) for v in values)


__all__ = ["Conversion", "convert_module", "convolutionize"]
