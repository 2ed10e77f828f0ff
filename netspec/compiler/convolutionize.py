"""Convolutionize, the rules and the IR pass: a classifier's graph → its fully convolutional graph.

The rules, shared by the spec-level pass here and the module-level one in
`convolutionize_module` (torch.fx):

- the first linear layer after a flatten of a C×H×W map becomes a conv with an H×W kernel
  (the flatten goes); later linear layers become 1×1 convs; their weights are the same
  numbers, reshaped;
- batchnorm after a converted linear normalizes channels (batchnorm1d → batchnorm2d);
  dropout and activations are element-wise and stay; softmax / log_softmax act on channels;
- an adaptive pool that is the identity at the reference input is removed (and reported);
  any other is an error unless kept on request;
- a global pool over an h×w map becomes the fixed pool it is at the reference input (h×w,
  stride 1), so that each output cell is the original network on one window; with `dense`,
  a global *average* pool is dropped instead and the layers after it (which must be linear)
  apply at every position: a class map whose spatial mean is the original output;
- everything else that reads flattened features (a reshape other than flatten, a linear on
  a 1-d input that never was a map, ...) is an error naming the layer and the reason.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

from netspec.errors import NetspecError
from netspec.ir.graph import Graph, Node
from netspec.ops import lookup
from netspec.ops.base import OpError, format_shape


class ConvolutionizeError(NetspecError):
    """A layer that cannot be made convolutional, with the reason."""


@dataclass(frozen=True)
class Change:
    """One layer the conversion changed: how it was, how it is, and why when not obvious."""

    layer: str
    before: str
    after: str
    reason: str = ""

    def describe(self) -> str:
        return f"{self.layer}: {self.before} → {self.after}" + (f" ({self.reason})" if self.reason else "")


@dataclass(frozen=True)
class Rewrite:
    """What happens to one node in the spec: removed, or called as another op (`conv`, `avgpool`)."""

    node: str
    action: str  # "remove" | "conv" | "avgpool" | "maxpool"
    kernel: tuple[int, ...] = ()

    def same_text_as(self, other: "Rewrite | None") -> bool:
        return other is not None and (self.action, self.kernel) == (other.action, other.kernel)


@dataclass(frozen=True)
class Plan:
    """The result of the IR pass: the converted graph, what changed, and how each changed node is rewritten."""

    original: Graph
    graph: Graph
    changes: tuple[Change, ...]
    rewrites: tuple[Rewrite, ...]
    dense: bool
    keep_adaptive: bool


@dataclass(frozen=True)
class _Form:
    """What a value of the original graph has become (see convolutionize_module for the four kinds)."""

    kind: str = "map"  # map | flat | vector | pooled
    grid: tuple[int, ...] = ()  # flat: the flattened C×H×W


ELEMENTWISE_FAMILIES = ("activation", "dropout")
ELEMENTWISE_OPS = ("identity", "add", "mul", "concat")
LINEAR_OPS = ("linear", "dropout", "dropout2d", "identity", "batchnorm", "flatten")  # commute with averaging
ADAPTIVE_POOLS = {"adaptive_avgpool": "avg", "adaptive_maxpool": "max", "global_avgpool": "avg", "global_maxpool": "max"}


def convolutionize_graph(graph: Graph, dense: bool = False, keep_adaptive: bool = False) -> Plan:
    """The IR pass: `graph` (a classifier) → a fully convolutional graph and the rewrites that produce it."""
    return _Pass(graph, dense, keep_adaptive).run()


class _Pass:
    def __init__(self, graph: Graph, dense: bool, keep_adaptive: bool):
        self.graph = graph
        self.dense = dense
        self.keep_adaptive = keep_adaptive
        self.forms: dict[str, _Form] = {}
        self.alias: dict[str, str] = {}  # removed node → the node that now stands for it
        self.nodes: dict[str, Node] = {}
        self.changes: list[Change] = []
        self.rewrites: list[Rewrite] = []

    def run(self) -> Plan:
        for node in self.graph.nodes:
            self.visit(node)
        outputs = tuple(replace(o, node=self.alias.get(o.node, o.node)) for o in self.graph.outputs)
        converted = replace(self.graph, nodes=tuple(self.nodes.values()), outputs=outputs, warnings=())
        return Plan(self.graph, converted, tuple(self.changes), tuple(self.rewrites), self.dense, self.keep_adaptive)

    # ---- helpers
    def fail(self, node: Node, reason: str) -> ConvolutionizeError:
        return ConvolutionizeError(f"cannot convolutionize '{node.name}' ({node.op}): {reason}", node.span)

    def keep(self, node: Node, form: _Form = _Form(), op: str | None = None, raw: dict | None = None) -> None:
        """Add `node` to the converted graph, re-checked against its converted inputs."""
        inputs = tuple(self.alias.get(i, i) for i in node.inputs)
        shapes = [self.nodes[i].shape for i in inputs]
        opdef = lookup(op or node.op)
        assert opdef is not None
        if op is None and shapes == list(self.graph.input_shapes(node)):
            attrs, shape = node.attrs, node.shape
        else:
            try:
                attrs = opdef.prepare(raw if raw is not None else dict(node.attrs), shapes)
                shape = opdef.infer(attrs, shapes)
            except OpError as error:
                raise self.fail(node, f"on the converted input ({format_shape(shapes[0])}): {error.message}") from None
        self.nodes[node.name] = replace(node, op=opdef.name, attrs=attrs, inputs=inputs, shape=shape)
        self.forms[node.name] = form

    def remove(self, node: Node, form: _Form, change: Change | None) -> None:
        self.alias[node.name] = self.alias.get(node.inputs[0], node.inputs[0])
        self.forms[node.name] = form
        self.rewrites.append(Rewrite(node.name, "remove"))
        if change:
            self.changes.append(change)

    # ---- one node
    def visit(self, node: Node) -> None:
        if not node.inputs:
            self.nodes[node.name] = node
            self.forms[node.name] = _Form()
            return
        forms = [self.forms[i] for i in node.inputs]
        kinds = {f.kind for f in forms}
        source = self.graph.input_shapes(node)[0]
        if node.op == "flatten" or (node.op == "reshape" and len(node.shape) == 1 and len(source) > 1):
            return self.flatten(node, forms[0], source)
        if node.op in ADAPTIVE_POOLS and kinds == {"map"}:
            return self.adaptive_pool(node, source)
        if node.op == "linear":
            return self.linear(node, forms[0], source)
        if kinds == {"map"}:
            return self.keep(node)
        return self.on_features(node, forms, kinds)

    def flatten(self, node: Node, form: _Form, source: tuple[int, ...]) -> None:
        if form.kind == "pooled":
            return self.remove(node, form, Change(node.name, f"{node.op} {format_shape(source)}", "removed", "the class map stays a map"))
        if form.kind != "map":
            return self.remove(node, form, None)
        if len(source) == 1:
            return self.keep(node)
        change = Change(node.name, f"{node.op} {format_shape(source)}", "removed", "the map stays a map")
        self.remove(node, _Form("flat", source), change)

    def adaptive_pool(self, node: Node, source: tuple[int, ...]) -> None:
        kind = ADAPTIVE_POOLS[node.op]
        before = f"{node.op} {format_shape(source[1:])} → {format_shape(node.shape[1:])}"
        if source[1:] == node.shape[1:]:
            return self.remove(node, _Form(), Change(node.name, before, "removed", "the identity at the reference input"))
        if all(o == 1 for o in node.shape[1:]):
            window = tuple(source[1:])
            if kind == "avg" and self.dense:
                change = Change(node.name, before, "removed (--dense)", "the layers after it apply at every position")
                return self.remove(node, _Form("pooled"), change)
            op = f"{kind}pool"
            self.rewrites.append(Rewrite(node.name, op, window))
            self.changes.append(Change(node.name, before, f"{op} {format_shape(window)} stride=1", "the global pool's window at the reference input"))
            return self.keep(node, op=op, raw={"kernel": window, "stride": 1})
        if self.keep_adaptive:
            self.changes.append(Change(node.name, before, "kept (--keep-adaptive)", "not the identity at the reference input"))
            return self.keep(node)
        raise self.fail(
            node,
            f"it pools {format_shape(source[1:])} to {format_shape(node.shape[1:])} at the reference input, so it is not the "
            "identity and a larger input would be pooled back to the same size; keep it (--keep-adaptive) or change the input size",
        )

    def linear(self, node: Node, form: _Form, source: tuple[int, ...]) -> None:
        features = node.attrs["features"]
        if form.kind == "flat":
            channels, *grid = form.grid
            kernel, kind = tuple(grid), "vector"
        elif form.kind in ("vector", "pooled"):
            kernel, kind = (1,) * (len(self.nodes[self.alias.get(node.inputs[0], node.inputs[0])].shape) - 1), form.kind
        else:
            raise self.fail(node, f"its input ({format_shape(source)}) does not come from a flattened map, so there is no grid to slide over")
        self.rewrites.append(Rewrite(node.name, "conv", kernel))
        self.changes.append(Change(node.name, f"linear {source[0]} → {features}", f"conv {features} {format_shape(kernel)}"))
        self.keep(node, _Form(kind), op="conv", raw={"channels": features, "kernel": kernel, "bias": node.attrs["bias"]})

    def on_features(self, node: Node, forms: list[_Form], kinds: set[str]) -> None:
        if len(kinds) > 1:
            raise self.fail(node, "it combines values that convert differently (a flattened map with a map or a vector)")
        form = forms[0]
        if form.kind == "pooled" and node.op not in LINEAR_OPS:
            raise self.fail(node, "--dense drops the global average pool, which is exact only when every layer after it is linear (linear, dropout, batchnorm); this one is not")
        family = node.opdef.family
        if node.op == "batchnorm":
            if form.kind == "flat":
                raise self.fail(node, "a batchnorm over flattened features has one statistic per position; it has no convolutional form")
            self.changes.append(Change(node.name, "batchnorm (1-d)", "batchnorm (2-d)", "the same statistics, per channel"))
        elif node.op in ("softmax", "log_softmax"):
            if form.kind == "flat":
                raise self.fail(node, "a softmax over flattened map positions has no convolutional form")
            self.changes.append(Change(node.name, f"{node.op} over features", f"{node.op} over channels"))
        elif node.op == "prelu" and form.kind == "flat" and node.attrs["per_channel"]:
            raise self.fail(node, "a per-feature PReLU on flattened features has no convolutional form")
        elif family not in ELEMENTWISE_FAMILIES and node.op not in ELEMENTWISE_OPS:
            what = {"flat": "flattened features", "vector": "the features of a converted linear layer", "pooled": "the map of a dropped pool"}[form.kind]
            raise self.fail(node, f"it reads {what} and is not element-wise, a linear layer, a batchnorm or a softmax")
        if form.kind == "flat" and node.op in ELEMENTWISE_OPS[1:]:
            raise self.fail(node, "merging flattened features has no convolutional form before the first linear layer")
        self.keep(node, form)
