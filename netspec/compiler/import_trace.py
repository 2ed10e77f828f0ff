"""torch → spec, step 1: trace a module with torch.fx into calls (one per layer) with their module scopes.

The traced graph is flat; each call keeps the path of the module that made it, from which
the writer (`import_writer`) rebuilds the structure.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.fx as fx
import torch.nn as nn

from netspec.compiler.import_statements import function_statement, module_statement
from netspec.errors import NetspecError


class TorchImportError(NetspecError):
    """The traced module uses something the spec language cannot express (named with its source line)."""


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
            attr = node.target.rsplit(".", 1)[-1]
            try:
                pieces = module_statement(module, attr)
                if pieces is None:
                    raise TorchImportError(f"no op for the module {type(module).__name__} at '{node.target}' ({where})")
                if attr.isdigit():  # an nn.Sequential item: its constants are named after its op
                    pieces = module_statement(module, pieces[0])
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
                pieces, merge = function_statement(node.target, node.args, node.kwargs, "op")
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


def flatten_concats(traced: Traced) -> None:
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


def hoist_merges(traced: Traced) -> None:
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
