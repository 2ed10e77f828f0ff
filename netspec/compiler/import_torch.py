"""torch.nn.Module → spec text: trace with torch.fx, map leaf modules and functions to ops, rebuild blocks.

The traced graph is flat; the module tree gives it back its structure. Every module that
is not a leaf becomes a scope: a plain `nn.Sequential` is written in place as
`sequential NAME:`, any other class becomes a block definition (a `sequential block` for
subclasses of `nn.Sequential`) shared by all its instances of the same structure, with a
parameter for each constant that differs between them. Inside a scope the data flow must
be series-parallel (chains, and merges whose inputs fork from one value): merges become
`add:`/`concat:`/`mul:` with inline branches, or `residual:` when one input is the fork.
Layers are named after their attributes, so the spec's state_dict keys are the module's.
"""
from __future__ import annotations

import operator
import os
import re
from dataclasses import dataclass, field
from typing import Any, Callable

import networkx as nx
import torch
import torch.fx as fx
import torch.nn as nn
import torch.nn.functional as F

from netspec.errors import NetspecError
from netspec.ops import lookup


class TorchImportError(NetspecError):
    """The traced module uses something the spec language cannot express (named with its source line)."""


# ---- one statement with its constants lifted out --------------------------------------------


@dataclass(frozen=True)
class Slot:
    """A constant in a statement: `keyword=value` (or positional when keyword is None)."""

    label: str  # names a block parameter if instances differ: conv1_channels
    value: str  # spec text: 64, 3x3, true
    keyword: str | None = None
    default: str | None = None  # a keyword slot equal to this in every instance is left out


Piece = "str | Slot"


@dataclass
class Line:
    indent: int
    pieces: list  # str | Slot


def _dims(values) -> str:
    values = tuple(values) if isinstance(values, (tuple, list)) else (values,)
    return "x".join(str(int(v)) for v in values)


def _axes(values) -> str:
    """Per-axis numbers as a spec writes them: one number when every axis has it (stride=2), else 1x2."""
    values = tuple(values) if isinstance(values, (tuple, list)) else (values,)
    return str(int(values[0])) if len(set(values)) == 1 else _dims(values)


def _number(value: float) -> str:
    return repr(float(value)) if not float(value).is_integer() else str(int(value)) if abs(value) >= 1 else repr(float(value))


def _bool(value: bool) -> str:
    return "true" if value else "false"


def _op(name: str, label: str, *slots: Slot) -> list:
    pieces: list = [name]
    for slot in slots:
        pieces.append(" ")
        if slot.keyword:
            pieces.append(Slot(f"{label}_{slot.label}", slot.value, slot.keyword, slot.default))
        else:
            pieces.append(Slot(f"{label}_{slot.label}", slot.value))
    return pieces


def _pos(label: str, value: str) -> Slot:
    return Slot(label, value)


def _kw(keyword: str, value: str, default: str) -> Slot:
    return Slot(keyword, value, keyword, default)


# ---- leaf modules and functions → op statements ---------------------------------------------


def _conv(m: nn.Module, label: str) -> list:
    if getattr(m, "padding_mode", "zeros") != "zeros":
        raise ValueError(f"padding_mode='{m.padding_mode}' has no op")
    transposed = isinstance(m, nn.modules.conv._ConvTransposeNd)
    pad = m.padding if not isinstance(m.padding, str) else m.padding
    slots = [_pos("channels", str(m.out_channels)), _pos("kernel", _dims(m.kernel_size)),
             _kw("stride", _axes(m.stride), "1"), _kw("pad", pad if isinstance(pad, str) else _axes(pad), "0")]
    if transposed:
        slots.append(_kw("output_pad", _axes(m.output_padding), "0"))
    slots += [_kw("dilation", _axes(m.dilation), "1"), _kw("groups", str(m.groups), "1"),
              _kw("bias", _bool(m.bias is not None), "true")]
    return _op("deconv" if transposed else "conv", label, *slots)


def _batchnorm(m: nn.Module, label: str) -> list:
    if not m.track_running_stats:
        raise ValueError("batchnorm without running statistics has no op")
    return _op("batchnorm", label, _kw("eps", _number(m.eps), "1e-05"), _kw("momentum", _number(m.momentum), "0.1"),
               _kw("affine", _bool(m.affine), "true"))


def _pool(name: str) -> Callable:
    def make(m: nn.Module, label: str) -> list:
        if name == "maxpool" and _dims(m.dilation) not in ("1", "1x1", "1x1x1"):
            raise ValueError("a dilated max pool has no op")
        stride = m.stride if m.stride is not None else m.kernel_size
        slots = [_pos("kernel", _dims(m.kernel_size)), _kw("stride", _axes(stride), _axes(m.kernel_size)),
                 _kw("pad", _axes(m.padding), "0"), _kw("ceil", _bool(m.ceil_mode), "false")]
        if name == "avgpool":
            if getattr(m, "divisor_override", None):
                raise ValueError("divisor_override has no op")
            slots.append(_kw("count_pad", _bool(m.count_include_pad), "true"))
        return _op(name, label, *slots)

    return make


def _simple(name: str, **attributes: tuple[str, Callable[[nn.Module], str], str]) -> Callable:
    """An op whose keyword attributes are read off the module: keyword → (attribute, format, default)."""

    def make(m: nn.Module, label: str) -> list:
        return _op(name, label, *(_kw(k, fmt(getattr(m, attr)), default) for k, (attr, fmt, default) in attributes.items()))

    return make


_INPLACE = ("inplace", _bool, "false")

LEAF_MODULES: dict[type, Callable[[nn.Module, str], list]] = {
    nn.Conv1d: _conv, nn.Conv2d: _conv, nn.Conv3d: _conv,
    nn.ConvTranspose1d: _conv, nn.ConvTranspose2d: _conv, nn.ConvTranspose3d: _conv,
    nn.BatchNorm1d: _batchnorm, nn.BatchNorm2d: _batchnorm, nn.BatchNorm3d: _batchnorm,
    nn.Linear: lambda m, label: _op("linear", label, _pos("features", str(m.out_features)),
                                    _kw("bias", _bool(m.bias is not None), "true")),
    nn.ReLU: _simple("relu", inplace=_INPLACE),
    nn.ReLU6: _simple("relu6", inplace=_INPLACE),
    nn.SiLU: _simple("silu", inplace=_INPLACE),
    nn.Hardswish: _simple("hardswish", inplace=_INPLACE),
    nn.Hardsigmoid: _simple("hardsigmoid", inplace=_INPLACE),
    nn.LeakyReLU: _simple("leaky_relu", slope=("negative_slope", _number, "0.01"), inplace=_INPLACE),
    nn.Sigmoid: _simple("sigmoid"), nn.Tanh: _simple("tanh"), nn.Identity: _simple("identity"),
    nn.GELU: _simple("gelu", approximate=("approximate", str, "none")),
    nn.Dropout: lambda m, label: _op("dropout", label, _pos("p", _number(m.p)), _kw("inplace", _bool(m.inplace), "false")),
    nn.Dropout2d: lambda m, label: _op("dropout2d", label, _pos("p", _number(m.p))),
    nn.MaxPool1d: _pool("maxpool"), nn.MaxPool2d: _pool("maxpool"), nn.MaxPool3d: _pool("maxpool"),
    nn.AvgPool1d: _pool("avgpool"), nn.AvgPool2d: _pool("avgpool"), nn.AvgPool3d: _pool("avgpool"),
    nn.AdaptiveAvgPool1d: lambda m, label: _op("adaptive_avgpool", label, _pos("size", _dims(m.output_size))),
    nn.AdaptiveAvgPool2d: lambda m, label: _op("adaptive_avgpool", label, _pos("size", _dims(m.output_size))),
    nn.AdaptiveMaxPool2d: lambda m, label: _op("adaptive_maxpool", label, _pos("size", _dims(m.output_size))),
    nn.LocalResponseNorm: lambda m, label: _op("lrn", label, _pos("size", str(m.size)), _kw("alpha", _number(m.alpha), "0.0001"),
                                               _kw("beta", _number(m.beta), "0.75"), _kw("k", _number(m.k), "1.0")),
}


def _flatten_start(args: tuple, kwargs: dict) -> int:
    start = args[1] if len(args) > 1 else kwargs.get("start_dim", 0)
    end = args[2] if len(args) > 2 else kwargs.get("end_dim", -1)
    if start != 1 or end != -1:
        raise ValueError(f"only flatten(x, 1) keeps the batch axis apart; got start_dim={start}, end_dim={end}")
    return start


def _function_statement(target: Any, args: tuple, kwargs: dict, label: str) -> tuple[list, str | None]:
    """(statement pieces, merge kind or None) for a mapped function or method call; ValueError if none."""
    if target in (operator.add, operator.iadd, torch.add, "add", "add_", "__add__", "__iadd__"):
        return ["add"], "add"
    if target in (operator.mul, operator.imul, torch.mul, "mul", "mul_"):
        return ["mul"], "mul"
    if target is torch.cat:
        dim = args[1] if len(args) > 1 else kwargs.get("dim", 0)
        if dim < 1:
            raise ValueError("torch.cat along the batch axis has no op")
        return (["concat"] if dim == 1 else _op("concat", label, _kw("axis", str(dim - 1), "0"))), "concat"
    if target in (F.relu, torch.relu, "relu", "relu_"):
        inplace = kwargs.get("inplace", args[1] if len(args) > 1 else False) or target == "relu_"
        return _op("relu", label, _kw("inplace", _bool(inplace), "false")), None
    if target in (torch.sigmoid, F.sigmoid, "sigmoid"):
        return ["sigmoid"], None
    if target in (torch.tanh, F.tanh, "tanh"):
        return ["tanh"], None
    if target in (torch.flatten, "flatten"):
        _flatten_start(args, kwargs)
        return ["flatten"], None
    if target is F.adaptive_avg_pool2d:
        size = args[1] if len(args) > 1 else kwargs["output_size"]
        return _op("adaptive_avgpool", label, _pos("size", _dims(size))), None
    if target is F.dropout:
        p = args[1] if len(args) > 1 else kwargs.get("p", 0.5)
        return _op("dropout", label, _pos("p", _number(p))), None
    raise ValueError("no op")


# ---- the traced network ------------------------------------------------------------------------


@dataclass
class Call:
    """One traced call that becomes a layer: its statement, inputs (value keys) and enclosing module path."""

    key: str
    pieces: list
    inputs: list[str]
    scope: tuple[str, ...]
    attr: str | None  # the leaf module's attribute name; None for a function
    merge: str | None


@dataclass
class Traced:
    calls: dict[str, Call]
    output: str
    input_key: str
    modules: dict[str, nn.Module]
    notes: list[str] = field(default_factory=list)


def _code_line(node: fx.Node) -> str:
    """`file.py:123: code` for the user frame that made a traced node (torch's own frames skipped)."""
    trace = node.stack_trace or ""
    frames = re.findall(r'File "([^"]+)", line (\d+), in \w+\n\s+(.*)', trace)
    user = [f for f in frames if "/torch/fx/" not in f[0] and "/torch/nn/modules/module.py" not in f[0]]
    if not user:
        return "an unknown line"
    path, line, code = user[-1]
    try:
        path = os.path.relpath(path) if not os.path.relpath(path).startswith("..") else path
    except ValueError:  # another drive (Windows)
        pass
    return f"{path}:{line}: {code.strip()}"


def _describe_target(node: fx.Node) -> str:
    if node.op == "call_method":
        return f"the method .{node.target}()"
    name = getattr(node.target, "__name__", str(node.target))
    module = getattr(node.target, "__module__", None) or ""
    return f"{module + '.' if module and module != 'builtins' else ''}{name}"


def trace(model: nn.Module) -> Traced:
    tracer = fx.Tracer()
    tracer.record_stack_traces = True
    try:
        graph = tracer.trace(model)
    except Exception as error:  # data-dependent control flow, unsupported Python: torch.fx's own words
        raise TorchImportError(f"torch.fx cannot trace {type(model).__name__}: {type(error).__name__}: {error}") from None
    modules = dict(model.named_modules())
    calls: dict[str, Call] = {}
    alias: dict[str, str] = {}
    input_key = output = None

    def value(arg: Any) -> str:
        return alias.get(arg.name, arg.name)

    for node in graph.nodes:
        where = _code_line(node)
        if node.op == "placeholder":
            if input_key is not None:
                raise TorchImportError(f"the traced forward takes more than one input ({where})")
            input_key = node.name
            continue
        if node.op == "output":
            if not isinstance(node.args[0], fx.Node):
                raise TorchImportError(f"the traced forward returns several values; netspec imports one output ({where})")
            output = value(node.args[0])
            continue
        if node.op == "get_attr":
            raise TorchImportError(f"the traced forward reads the tensor '{node.target}' directly ({where}); only layers can be imported")
        tensors = [a for a in node.all_input_nodes]
        if node.op == "call_module":
            module = modules[node.target]
            make = LEAF_MODULES.get(type(module))
            if make is None:
                raise TorchImportError(f"no op for the module {type(module).__name__} at '{node.target}' ({where})")
            attr = node.target.rsplit(".", 1)[-1]
            try:
                pieces = make(module, attr)
                if attr.isdigit():  # an nn.Sequential item: its constants are named after its op
                    pieces = make(module, pieces[0])
            except ValueError as error:
                raise TorchImportError(f"cannot import {type(module).__name__} at '{node.target}': {error} ({where})") from None
            scope = tuple(node.target.split(".")[:-1])
            merge = None
        else:
            if node.target is torch.cat:
                listed = node.args[0]
                tensors = list(listed)
                if len(tensors) == 1:  # concatenating one value is that value
                    alias[node.name] = value(tensors[0])
                    continue
            stack = node.meta.get("nn_module_stack") or {}
            scope_path = list(stack.values())[-1][0] if stack else ""
            scope = tuple(re.sub(r"@\d+$", "", scope_path).split(".")) if scope_path else ()
            try:
                pieces, merge = _function_statement(node.target, node.args, node.kwargs, "op")
            except ValueError as error:
                detail = "" if str(error) == "no op" else f": {error}"
                raise TorchImportError(f"no op for the call to {_describe_target(node)}{detail} ({where})") from None
            attr = None
            if any(not isinstance(a, fx.Node) for a in (node.args[0] if node.target is torch.cat else node.args[:1])):
                raise TorchImportError(f"the call to {_describe_target(node)} does not take a layer's output ({where})")
            if merge is None and len(tensors) != 1 or merge is not None and node.target is not torch.cat and len(tensors) != 2:
                raise TorchImportError(f"the call to {_describe_target(node)} mixes tensors and constants ({where})")
        calls[node.name] = Call(node.name, pieces, [value(t) for t in tensors], scope, attr, merge)
    used = {c.attr and ".".join(c.scope + (c.attr,)) for c in calls.values()}
    unused = [
        name for name, m in model.named_children()
        if sum(p.numel() for p in m.parameters()) and not any(u and (u == name or u.startswith(name + ".")) for u in used)
    ]
    notes = [f"'{name}' is not called by forward() in eval mode and is left out" for name in unused]
    assert input_key is not None and output is not None
    return Traced(calls, output, input_key, modules, notes)


def _flatten_concats(traced: Traced) -> None:
    """cat(a, b, c) after cat(a, b) becomes cat(cat(a, b), c): DenseNet's growing lists as nested merges."""
    original: dict[str, list[str]] = {}  # each earlier concat's inputs as traced
    for call in traced.calls.values():
        if call.merge != "concat":
            continue
        inputs = list(call.inputs)
        best = max(
            (key for key, earlier in original.items()
             if len(earlier) < len(inputs) and inputs[: len(earlier)] == earlier
             and traced.calls[key].pieces == call.pieces),
            key=lambda key: len(original[key]), default=None,
        )
        if best is not None:
            call.inputs = [best] + inputs[len(original[best]):]
        original[call.key] = inputs


def _hoist_merges(traced: Traced) -> None:
    """A merge of values that all come from outside its module belongs to the module that holds them."""
    changed = True
    while changed:
        changed = False
        for call in traced.calls.values():
            if call.merge is None or not call.scope:
                continue
            inside = [c for c in call.inputs if c in traced.calls and traced.calls[c].scope[: len(call.scope)] == call.scope]
            if not inside:
                call.scope = call.scope[:-1]
                changed = True


# ---- scopes: the module tree over the traced calls ----------------------------------------------


@dataclass
class ScopeItem:
    """A submodule that is not a leaf, seen from its parent: one input value, one output value."""

    path: tuple[str, ...]
    input: str
    output: str


_KEYWORDS = {"in", "true", "false", "and", "or", "not", "if", "else", "elif", "as", "block", "repeat", "residual",
             "shortcut", "branch", "output", "input", "network", "import", "when", "sequential", "inline"}


def _snake(name: str) -> str:
    name = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name.strip("_")).lower()
    return re.sub(r"\W+", "_", name) or "block"


def _identifier(name: str) -> str:
    name = re.sub(r"\W", "_", name)
    if name[:1].isdigit():
        name = "p" + name
    return name + "_" if name in _KEYWORDS or lookup(name) is not None else name


class Writer:
    """Writes the spec text of a traced module: block definitions first, then the network body."""

    def __init__(self, traced: Traced, name: str, input_shape: tuple[int, ...], origin: str):
        self.t = traced
        self.name = name
        self.input_shape = input_shape
        self.origin = origin
        self.subtree: dict[tuple[str, ...], list[Call]] = {}
        for call in traced.calls.values():
            for depth in range(len(call.scope) + 1):
                self.subtree.setdefault(call.scope[:depth], []).append(call)
        self.instances: dict[tuple[str, ...], list[Line]] = {}  # block instance → its body
        self.blocks: dict[tuple, tuple[str, str]] = {}  # structure → (block name, class name)
        self.structure_of: dict[tuple[str, ...], tuple] = {}
        self.param_cache: dict[str, tuple] = {}

    # ---- facts about scopes
    def module(self, path: tuple[str, ...]) -> nn.Module:
        return self.t.modules[".".join(path)]

    def plain_sequential(self, path: tuple[str, ...]) -> bool:
        return type(self.module(path)) is nn.Sequential

    def scope_item(self, path: tuple[str, ...]) -> ScopeItem:
        calls = self.subtree[path]
        keys = {c.key for c in calls}
        inputs = list(dict.fromkeys(i for c in calls for i in c.inputs if i not in keys))
        outside = [c for c in self.t.calls.values() if c.key not in keys]
        outputs = list(dict.fromkeys(
            i for c in outside for i in c.inputs if i in keys
        ))
        if self.t.output in keys and self.t.output not in outputs:
            outputs.append(self.t.output)
        where = ".".join(path)
        if len(inputs) != 1 or len(outputs) != 1:
            raise TorchImportError(
                f"'{where}' ({type(self.module(path)).__name__}) takes {len(inputs)} values and gives {len(outputs)}; "
                "a block reads one value and gives one"
            )
        return ScopeItem(path, inputs[0], outputs[0])

    def items(self, path: tuple[str, ...]) -> list:
        found: list = []
        seen: set[tuple[str, ...]] = set()
        for call in self.subtree.get(path, []):
            if call.scope == path:
                found.append(call)
            else:
                child = call.scope[: len(path) + 1]
                if child not in seen:
                    seen.add(child)
                    found.append(self.scope_item(child))
        return found

    # ---- one scope's statements
    def body(self, path: tuple[str, ...], source: str, target: str, indent: int) -> list[Line]:
        items = self.items(path)
        producer = {(i.key if isinstance(i, Call) else i.output): i for i in items}
        graph = nx.DiGraph()
        graph.add_node(source)
        where = ".".join(path) or self.name
        for key, item in producer.items():
            for value in self._inputs(item):
                if value != source and value not in producer:
                    raise TorchImportError(f"in '{where}', a layer reads a value from outside the module besides its input")
                graph.add_edge(value, key)
        if target not in graph or not nx.has_path(graph, source, target):
            raise TorchImportError(f"'{where}': its output does not depend on its input")
        dominators = nx.immediate_dominators(graph, source)
        emitted: set[str] = set()
        lines = self.region(path, source, target, indent, producer, dominators, emitted)
        if len(emitted) != len(producer):
            raise TorchImportError(
                f"the data flow inside '{where}' is not a nest of chains and merges (a value is used in two "
                "places that do not merge together); netspec cannot write it as a spec"
            )
        return lines

    @staticmethod
    def _inputs(item) -> list[str]:
        return item.inputs if isinstance(item, Call) else [item.input]

    def region(self, path, fork: str, target: str, indent: int, producer, dominators, emitted: set[str]) -> list[Line]:
        chain = []
        value = target
        while value != fork:
            chain.append(value)
            if value not in dominators or dominators[value] == value:
                raise TorchImportError(f"the data flow inside '{'.'.join(path) or self.name}' cannot be written as merges of chains")
            value = dominators[value]
        lines: list[Line] = []
        previous = fork
        for value in reversed(chain):
            item = producer[value]
            if value in emitted:
                raise TorchImportError(f"a value inside '{'.'.join(path) or self.name}' is used by two branches")
            emitted.add(value)
            if isinstance(item, Call) and item.merge:
                branches = [self.region(path, previous, u, indent + 2, producer, dominators, emitted) for u in item.inputs]
                lines += self.merge(item, branches, indent)
            else:
                if self._inputs(item) != [previous]:
                    raise TorchImportError(f"the data flow inside '{'.'.join(path) or self.name}' cannot be written as merges of chains")
                lines += self.statement(path, item, indent)
            previous = value
        return lines

    def merge(self, call: Call, branches: list[list[Line]], indent: int) -> list[Line]:
        def shifted(lines: list[Line]) -> list[Line]:
            return [Line(line.indent - 1, line.pieces) for line in lines]

        if call.merge == "add" and len(branches) == 2 and [] in branches:
            body = next(b for b in branches if b)
            return [Line(indent, ["residual:"])] + shifted(body)
        if call.merge == "add" and len(branches) == 2 and branches[1][0].pieces[0].startswith("sequential "):
            if all(line.indent > branches[1][0].indent for line in branches[1][1:]):  # the shortcut is one scope
                return [Line(indent, ["residual:"]), *shifted(branches[0]), Line(indent, ["shortcut:"]), *shifted(branches[1])]
        lines = [Line(indent, list(call.pieces) + [":"])]
        for branch in branches:
            lines.append(Line(indent + 1, ["inline branch:"]))
            lines += branch or [Line(indent + 2, ["identity"])]
        return lines

    def statement(self, path, item, indent: int) -> list[Line]:
        if isinstance(item, Call):
            named = item.attr is not None and not item.attr.isdigit() and not self._named(path, item.attr)
            return [Line(indent, list(item.pieces) + ([f" as {item.attr}"] if named else []))]
        attr = item.path[-1]
        if self.plain_sequential(item.path):
            header = "sequential:" if attr.isdigit() else f"sequential {attr}:"
            return [Line(indent, [header])] + self.body(item.path, item.input, item.output, indent + 1)
        name, slots = self.block_call(item)
        pieces: list = [f"{name}("]
        for k, slot in enumerate(slots):
            pieces += ([", "] if k else []) + [slot]
        pieces.append(")")
        if not attr.isdigit():
            pieces.append(f" as {attr}")
        return [Line(indent, pieces)]

    def _named(self, path, attr: str) -> bool:
        key = (path, attr)
        if key in getattr(self, "_names", set()):
            return True
        self._names = getattr(self, "_names", set()) | {key}
        return False

    # ---- blocks
    def block_call(self, item: ScopeItem) -> tuple[str, list[Slot]]:
        """Record the instance's body; its arguments are decided in `finish`, once every instance is known."""
        body = self.body(item.path, item.input, item.output, 1)
        self.instances[item.path] = body
        cls = type(self.module(item.path)).__name__
        structure = (cls, _template(body))
        if structure not in self.blocks:
            twin = next((s for s in self.blocks if s[0] == cls and _shortcut_variants(s[1], structure[1])), None)
            if twin is not None and sum(1 for s in self.blocks if self.blocks[s][0] == self.blocks[twin][0]) == 1:
                self.blocks[structure] = self.blocks[twin]  # the same block, its shortcut under a flag
            else:
                base = _identifier(_snake(cls))
                taken = {n for n, _ in self.blocks.values()}
                name, k = base, 2
                while name in taken:
                    name, k = f"{base}_{k}", k + 1
                self.blocks[structure] = (name, cls)
        self.structure_of[item.path] = structure
        attr = item.path[-1]
        label = attr if not attr.isdigit() else "_".join(item.path[-2:])
        return self.blocks[structure][0], [Slot(label, "", "@call", repr(item.path))]

    def members(self, name: str) -> list[tuple[str, ...]]:
        return [p for p, s in self.structure_of.items() if self.blocks[s][0] == name]

    def layout(self, name: str) -> tuple[list[Line], int | None]:
        """The lines a block is written from, and the index of its `shortcut:` line if some instances lack it."""
        structures = list(dict.fromkeys(self.structure_of[p] for p in self.members(name)))
        full = max(structures, key=lambda s: len(s[1]))
        lines = self.instances[next(p for p in self.members(name) if self.structure_of[p] == full)]
        if len(structures) == 1:
            return lines, None
        return lines, next(i for i, line in enumerate(lines) if line.pieces == ["shortcut:"])

    def slots_of(self, path) -> list[tuple[str, str | None, str | None, str | None]]:
        """(label, keyword, value, default) of each constant of an instance, nested calls expanded to their
        arguments; in a block whose shortcut is optional, a flag first, and None for an absent shortcut's constants."""
        name = self.blocks[self.structure_of[path]][0]
        template, at = self.layout(name)
        lines = self.instances[path]
        out = []
        for index, line in enumerate(lines):
            if at is not None and index == at:
                out.append((f"has_{self._shortcut_name(template, at)}", None, "true", None))
            for piece in line.pieces:
                if isinstance(piece, str):
                    continue
                if piece.keyword == "@call":
                    out += [(f"{piece.label}_{n}", None, v, None) for n, v in self.call_args(eval(piece.default))]  # noqa: S307
                else:
                    out.append((piece.label, piece.keyword, piece.value, piece.default))
        if at is not None and len(lines) < len(template):  # no shortcut in this instance
            before = sum(1 for line in template[:at] for p in line.pieces if not isinstance(p, str))
            absent = [(p.label, p.keyword, None, p.default) for line in template[at:] if line.indent > template[at].indent
                      for p in line.pieces if not isinstance(p, str)]
            out[before:before] = [(f"has_{self._shortcut_name(template, at)}", None, "false", None), *absent]
        return out

    @staticmethod
    def _shortcut_name(template: list[Line], at: int) -> str:
        first = template[at + 1].pieces[0]
        return first.split()[1].rstrip(":") if first.startswith("sequential ") else "shortcut"

    def call_args(self, path) -> list[tuple[str, str]]:
        name = self.blocks[self.structure_of[path]][0]
        return [(pname, values[path]) for pname, _, values in self.params(name)[0]]

    def params(self, name: str):
        """([(parameter, columns, value per instance)], constant per column) of a block: a parameter per
        distinct column of constants that differs between instances (None = unused in that instance)."""
        if name in self.param_cache:
            return self.param_cache[name]
        members = self.members(name)
        columns = list(zip(*(self.slots_of(p) for p in members)))
        chosen: list[tuple[str, list[int], dict]] = []
        constants: dict[int, str | None] = {}
        for k, column in enumerate(columns):
            values = [v for _, _, v, _ in column]
            known = {v for v in values if v is not None}
            if len(known) <= 1:
                constants[k] = next(iter(known), None)
                continue
            match = next((c for c in chosen if all(
                c[2][m] is None or v is None or c[2][m] == v for m, v in zip(members, values))), None)
            if match is not None:
                match[1].append(k)
                for m, v in zip(members, values):
                    if match[2][m] is None:
                        match[2][m] = v
                continue
            base = pname = _identifier(column[0][0])
            n = 2
            while pname in {c[0] for c in chosen}:
                pname, n = f"{base}_{n}", n + 1
            chosen.append((pname, [k], dict(zip(members, values))))
        for _, _, values in chosen:  # an absent shortcut's value is never read; any known one will do
            fallback = next(v for v in values.values() if v is not None)
            for m in values:
                values[m] = values[m] if values[m] is not None else fallback
        self.param_cache[name] = (chosen, constants)
        return self.param_cache[name]

    def finish(self, root: list[Line]) -> str:
        out = []
        for name, cls in dict.fromkeys(self.blocks.values()):
            members = self.members(name)
            chosen, constants = self.params(name)
            slot_param = {k: pname for pname, ks, _ in chosen for k in ks}
            kind = "sequential block" if isinstance(self.module(members[0]), nn.Sequential) else "block"
            used = ", ".join(".".join(p) for p in members[:3]) + (f" and {len(members) - 3} more" if len(members) > 3 else "")
            out.append(f"# {cls}, used as {used}")
            out.append(f"{kind} {name}({', '.join(p for p, _, _ in chosen)}):")
            template, at = self.layout(name)
            slots = self.slots_of(next(p for p in members if len(self.instances[p]) == len(template)))
            k = 0
            for index, line in enumerate(template):
                if index == at:
                    line = Line(line.indent, ["shortcut when ", Slot("flag", "", None, None), ":"])
                text, k = self._render(line, slots, slot_param, constants, k)
                out.append(text)
            out.append("")
        header = [
            f"# {self.name}, imported from {self.origin} by `netspec import-torch` (traced with torch.fx in eval mode).",
            "# Blocks are the module's classes; layer names are its attribute names, so state_dict keys match.",
            f"network {self.name}",
            f"input {_dims(self.input_shape)}",
            "",
        ]
        body = [self._render_root(line) for line in root]
        return "\n".join(header + out + body) + "\n"

    def _render(self, line: Line, slots, slot_param: dict[int, str], constants, k: int) -> tuple[str, int]:
        text = []
        for piece in line.pieces:
            if isinstance(piece, str):
                text.append(piece)
            elif piece.keyword == "@call":
                args = []
                for _ in self.call_args(eval(piece.default)):  # noqa: S307
                    args.append(slot_param.get(k) or constants[k])
                    k += 1
                text.append(", ".join(args))
            else:
                label, keyword, _, default = slots[k]
                if k in slot_param:
                    text.append(f"{keyword}={slot_param[k]}" if keyword else slot_param[k])
                elif not (keyword and constants[k] == default):
                    text.append(f"{keyword}={constants[k]}" if keyword else constants[k])
                k += 1
        rendered = re.sub(r" {2,}", " ", "".join(text)).rstrip().replace(" :", ":")
        return "    " * line.indent + rendered, k

    def _render_root(self, line: Line) -> str:
        text = []
        for piece in line.pieces:
            if isinstance(piece, str):
                text.append(piece)
            elif piece.keyword == "@call":
                text.append(", ".join(v for _, v in self.call_args(eval(piece.default))))  # noqa: S307
            elif not (piece.keyword and piece.value == piece.default):
                text.append(f"{piece.keyword}={piece.value}" if piece.keyword else piece.value)
        rendered = re.sub(r" {2,}", " ", "".join(text)).rstrip().replace(" :", ":")
        return "    " * line.indent + rendered


def _template(lines: list[Line]) -> tuple:
    """A body's structure: its text with the constants left out (instances of one block share it)."""
    return tuple((l.indent, tuple(p if isinstance(p, str) else (p.label, p.keyword) for p in l.pieces)) for l in lines)


def _without_shortcut(template: tuple) -> tuple | None:
    at = next((i for i, (_, pieces) in enumerate(template) if pieces == ("shortcut:",)), None)
    if at is None:
        return None
    end = at + 1
    while end < len(template) and template[end][0] > template[at][0]:
        end += 1
    section = template[at + 1 : end]
    if any(isinstance(p, tuple) and p[1] == "@call" for _, pieces in section for p in pieces):
        return None  # a shortcut that calls blocks keeps its own block
    return template[:at] + template[end:]


def _shortcut_variants(a: tuple, b: tuple) -> bool:
    """True when one body is the other plus a `shortcut:` (ResNet's first block of a stage)."""
    return _without_shortcut(a) == b or _without_shortcut(b) == a


def import_module(model: nn.Module, name: str, input_shape: tuple[int, ...], origin: str) -> tuple[str, list[str]]:
    """The spec text of `model` (traced in eval mode) and notes for the user (parts left out)."""
    model = model.eval()
    traced = trace(model)
    _flatten_concats(traced)
    _hoist_merges(traced)
    writer = Writer(traced, name, input_shape, origin)
    root = writer.body((), traced.input_key, traced.output, 0)
    return writer.finish(root), traced.notes
