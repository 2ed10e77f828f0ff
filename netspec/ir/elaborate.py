"""AST → IR graph: expands blocks and repeats, evaluates expressions, checks every shape."""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path
from typing import Any, Callable, Mapping

from netspec.collector import collector_paused
from netspec.errors import DiagnosticSink, LimitError, NetspecError, Note, Span, SpecError, did_you_mean
from netspec.ir.graph import INPUT_OP, Frame, Graph, Node, Output
from netspec.ir.instances import InstanceCache
from netspec.ir.module_names import legal_module_names
from netspec.ir.naming import finalize_names, module_path_clashes
from netspec.ir.values import MAX_INTEGER, MISSING, Evaluator, Poisoned, Tensor, describe, undefined_name
from netspec.ops import all_ops, lookup
from netspec.ops.base import Attrs, CollapseError, OpError, Symbol, format_shape, typed_key
from netspec.syntax import ast
from netspec.ir.loader import Library, load

MAX_REPEAT = 10_000
TOO_DEEP = "the spec nests too deeply to process: an expression or a chain of block calls is too deep"
MAX_NODES = 200_000
MAX_WORK = 1_000_000  # statements run while elaborating, nested repeats and block calls included
MAX_NESTING = 100  # statements inside statements and block calls, counted together
MAX_FAN_IN = 1_000  # inputs of one merge
LITERALS = (ast.Number, ast.Dims, ast.String, ast.Bool)  # expressions whose value depends on nothing


@dataclass
class Scope:
    """Names visible while elaborating one block instance (or the network body)."""

    values: dict[str, Any]
    defined_at: dict[str, tuple[Span, tuple]]
    frames: tuple[Frame, ...]
    globals: Mapping[str, Any]
    iteration: tuple = ()
    block_stack: tuple[str, ...] = ()
    numbering: list[int] | None = None  # in a sequential scope: the next item's index (shared, mutable)

    @cached_property
    def path(self) -> str:
        """The provisional dotted path of the scope's layers ("" at the top level)."""
        return ".".join([f.name for f in self.frames])

    def lookup(self, name: str) -> Any:
        if name in self.values:
            return self.values[name]
        return self.globals.get(name, MISSING)

    def names(self) -> list[str]:
        return [*self.values, *self.globals]


class Elaborator:
    def __init__(self, spec: ast.Spec, library: Library, sink: DiagnosticSink, input_override=None,
                 reuse_instances: bool = True):
        self.spec = spec
        self.library = library
        self.sink = sink
        self.nodes: list[Node] = []
        self.counters: dict[tuple[str, str], int] = {}
        self.issued: list[tuple[str, str]] = []  # every placeholder key `_auto` issued, in order (for instances)
        self.input_override = input_override
        self.collapses: set[tuple[str, Span]] = set()  # (message, span) of inputs found too small
        self.work = 0  # statements run so far
        self.repeats = 1  # how many times the statements being run will run: the product of enclosing repeats
        self.nesting = 0
        # (op, input shapes, typed raw attributes) → (Attrs, output shape): a repeat, a long chain or
        # a block called again prepares equal layers; their checks and shape rules are pure functions
        self.prepared: dict[Any, tuple[Attrs, tuple[int, ...]]] = {}
        self.instances = InstanceCache() if reuse_instances else None
        # id(call) → (call, op, attributes, their spans) for calls whose arguments are all literals:
        # the lines of a repeat body bind the same attributes on every iteration
        self.literal_calls: dict[int, tuple[ast.Call, Any, dict[str, Any], dict[str, Span]]] = {}

    # ---- entry
    def run(self, overrides: Mapping[str, Any]) -> Graph | None:
        spec = self.spec
        for extra in spec.networks[1:]:
            self.sink.error("a spec declares one network; this is a second", extra.span, [Note(spec.networks[0].span, "the first is here")], code="structure")
        for extra in spec.inputs[1:]:
            self.sink.error("a spec declares one input; this is a second", extra.span, [Note(spec.inputs[0].span, "the first is here")], code="structure")
        if not spec.networks:
            self.sink.error("no 'network NAME(...)' line: a spec that only holds blocks can be imported but not built", spec.span, code="structure")
            return None
        network = spec.networks[0]
        params = self._network_params(network, overrides)
        if not spec.inputs:
            self.sink.error("no 'input' line: declare the input shape, e.g. 'input 3x224x224'", network.span, code="structure")
            return None
        scope = Scope({}, {}, (), params)
        current = self._input(spec.inputs[0], scope) or Tensor(None, None, spec.inputs[0].span)  # unknown after an error
        outputs: list[Output] = []
        current = self._run_body(spec.body, scope, current, outputs)
        if not outputs and current is not None and current.known:
            outputs.append(Output(current.node.split(".")[0], current.node, spec.span))
        if outputs and all(o.training_only for o in outputs):
            self.sink.error(
                "every output is `when training`, so in eval the network would return nothing; "
                "declare the main output too, e.g. `output NAME`",
                outputs[0].span,
            )
        if self.sink.errors:
            return None
        nodes, outputs = legal_module_names(*finalize_names(self.nodes, outputs, self.counters))
        for first, second in module_path_clashes(nodes):
            if first.name == second.name:
                message = f"two layers are named '{second.name}'; name one of them differently"
            elif first.name.startswith(second.name + "."):
                message = f"'{second.name}' names this layer and also the scope holding '{first.name}'; name one of them differently"
            else:
                message = f"'{first.name}' names a layer and also the scope holding '{second.name}'; name one of them differently"
            self.sink.error(message, second.span, [Note(first.span, f"'{first.name}' comes from here")], code="duplicate-name")
        if self.sink.errors:
            return None
        return Graph(network.name, tuple(params.items()), tuple(nodes), tuple(outputs), network.span)

    def _network_params(self, network: ast.NetworkDecl, overrides: Mapping[str, Any]) -> dict[str, Any]:
        known = {p.name for p in network.params}
        for name in overrides:
            if name not in known:
                hint = did_you_mean(name, known) or (f"; it has: {', '.join(sorted(known))}" if known else "; it has none")
                self.sink.error(f"--set {name}: network '{network.name}' has no parameter '{name}'{hint}", network.span, code="parameter")
        values: dict[str, Any] = {}
        evaluator = Evaluator(lambda n: values.get(n, MISSING), lambda: list(values), self._no_layers)
        for param in network.params:
            if param.name in overrides:
                values[param.name] = overrides[param.name]
            elif param.default is None:
                self.sink.error(f"network parameter '{param.name}' has no default; set it (--set {param.name}=...)", param.span, code="parameter")
            else:
                try:
                    values[param.name] = evaluator.eval(param.default)
                except NetspecError as error:
                    self.sink.add(error)
        return values

    def _no_layers(self, call: ast.Call) -> Any:
        raise SpecError(f"'{call.callee}' is not a function that can be used here", call.callee_span, code="value")

    def _input(self, decl: ast.InputDecl, scope: Scope) -> Tensor | None:
        if self.input_override is not None:
            shape = self.input_override
        else:
            try:
                shape = self._evaluator(scope, None).eval(decl.shape)
            except NetspecError as error:
                self.sink.add(error)
                return None
            if isinstance(shape, int) and not isinstance(shape, bool):
                shape = (shape,)
            if not isinstance(shape, tuple) or not all(isinstance(d, int) and not isinstance(d, bool) and d > 0 for d in shape):
                shown = format_shape(shape) if isinstance(shape, tuple) and all(isinstance(d, (int, float)) for d in shape) else describe(shape)
                self.sink.error(f"the input shape must be positive integers such as 3x224x224, got {shown}", decl.shape.span, code="input-shape")
                return None
            if not 1 <= len(shape) <= 4:
                self.sink.error(f"inputs have 1 to 4 axes (C, CxL, CxHxW, CxDxHxW), got {len(shape)}", decl.shape.span, code="input-shape")
                return None
        node = Node("input", INPUT_OP, Attrs(()), (), tuple(shape), decl.span)
        self.nodes.append(node)
        return Tensor("input", node.shape, decl.span)

    # ---- statements
    def _run_body(self, body, scope: Scope, current: Tensor | None, outputs: list[Output]) -> Tensor | None:
        if self.nesting >= MAX_NESTING and body:
            raise LimitError(
                f"statements and block calls nest more than {MAX_NESTING} levels deep here", body[0].span
            )
        self.nesting += 1
        try:
            for stmt in body:
                self.work += 1
                if self.work > MAX_WORK:
                    raise LimitError(
                        f"elaborating the spec runs more than {MAX_WORK:,} statements (repeats and block calls "
                        "included); is a repeat count too large?",
                        stmt.span,
                    )
                try:
                    current = self._statement(stmt, scope, current, outputs)
                except Poisoned:
                    current = self._poison(stmt, scope, current)
                except LimitError:
                    raise  # a limit stops elaboration at once: going on would only hit it again
                except NetspecError as error:
                    self.sink.add(error)
                    current = self._poison(stmt, scope, current)
            return current
        finally:
            self.nesting -= 1

    def _poison(self, stmt, scope: Scope, current: Tensor | None) -> Tensor | None:
        """After a failed statement: its name (if any) and the current value become unknown, so
        later statements that read them are skipped instead of reporting follow-on errors."""
        poisoned = Tensor(None, None, stmt.span)
        name = getattr(stmt, "name", None) if isinstance(stmt, (ast.Chain, ast.Assign)) else None
        reserved = name == "in" or lookup(name) is not None or name in self.library.blocks or name in scope.globals
        if name and name not in scope.values and not reserved:
            scope.values[name] = poisoned
            scope.defined_at[name] = (stmt.name_span, scope.iteration)
        return current if isinstance(stmt, ast.Assign) else poisoned

    def _statement(self, stmt, scope: Scope, current: Tensor | None, outputs: list[Output]) -> Tensor | None:
        if isinstance(stmt, ast.Chain):
            result = self._chain(stmt, scope, current, stmt.name)
            if stmt.name and not self._names_an_op(stmt.name):  # `relu as relu` names the layer only
                self._bind(scope, stmt.name, result, stmt.name_span)
            return result
        if isinstance(stmt, ast.Assign):
            result = self._chain(stmt.chain, scope, current, stmt.name)
            self._bind(scope, stmt.name, result, stmt.name_span)
            return current
        if isinstance(stmt, ast.Output):
            self._output(stmt, scope, current, outputs)
            return current
        if isinstance(stmt, ast.Repeat):
            return self._repeat(stmt, scope, current, outputs)
        if isinstance(stmt, ast.If):
            taken = stmt.then if self._condition(stmt.condition, scope, current) else stmt.otherwise
            return self._run_body(taken, scope, current, outputs)
        if isinstance(stmt, ast.Residual):
            return self._residual(stmt, scope, current, outputs)
        if isinstance(stmt, ast.Merge):
            return self._merge(stmt, scope, current, outputs)
        if isinstance(stmt, ast.Sequential):
            return self._sequential(stmt, scope, current, outputs)
        raise AssertionError(stmt)

    def _sequential(self, stmt: ast.Sequential, scope: Scope, current, outputs) -> Tensor | None:
        """`sequential NAME:` opens a scope whose unnamed items are named 0, 1, 2, ..."""
        local = self._local(scope, stmt.name, "sequential", stmt.span)
        frame = Frame(local, None, stmt.span)
        inner = replace(scope, frames=scope.frames + (frame,), numbering=[0])
        return self._run_body(stmt.body, inner, current, outputs)

    def _condition(self, expr: ast.Expr, scope: Scope, current: Tensor | None) -> bool:
        value = self._evaluator(scope, current).eval(expr)
        if not isinstance(value, bool):
            raise SpecError(f"a condition must be true or false, got {describe(value)}", expr.span, code="value")
        return value

    def _output(self, stmt: ast.Output, scope: Scope, current: Tensor | None, outputs: list[Output] | None) -> None:
        if outputs is None:
            raise SpecError("'output' belongs at the top level of the network, not inside a block", stmt.span, code="structure")
        if stmt.when is not None and stmt.when != "training":
            raise SpecError(
                f"'output ... when {stmt.when}': the only condition an output takes is `when training`"
                + did_you_mean(stmt.when, ["training"]),
                stmt.when_span,
            )
        training = stmt.when == "training"
        if not stmt.values:
            tensor = self._need_current(current, stmt.span, "output")
            if tensor.known:
                outputs.append(Output(tensor.node.split(".")[0], tensor.node, stmt.span, training))
            return
        for expr in stmt.values:
            value = self._evaluator(scope, current).eval(expr)
            if not isinstance(value, Tensor):
                raise SpecError(f"'output' takes values, got {describe(value)}", expr.span, code="value")
            if value.known:
                name = expr.id if isinstance(expr, ast.Name) else value.node.split(".")[0]
                outputs.append(Output(name, value.node, expr.span, training))

    def _repeat(self, stmt: ast.Repeat, scope: Scope, current, outputs) -> Tensor | None:
        count = self._evaluator(scope, current).eval(stmt.count)
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise SpecError(f"repeat needs a count ≥ 0, got {describe(count)}", stmt.count.span, code="value")
        if count > MAX_REPEAT:
            raise LimitError(f"repeat count {count:,} is over the limit of {MAX_REPEAT:,}", stmt.count.span)
        if self.repeats * count * len(stmt.body) > MAX_WORK:  # checked before looping, not after the work
            raise LimitError(
                f"this repeat runs its body {self.repeats * count:,} times in all, counting the repeats it is "
                f"nested in; elaboration is limited to {MAX_WORK:,} statements",
                stmt.count.span,
            )
        outer = self.repeats
        self.repeats = outer * max(count, 1)
        try:
            for i in range(count):
                inner = replace(scope, iteration=scope.iteration + ((id(stmt), i),))
                inner.values = scope.values
                inner.defined_at = scope.defined_at
                if stmt.index:
                    scope.values[stmt.index] = i
                current = self._run_body(stmt.body, inner, current, outputs)
        finally:
            self.repeats = outer
        return current

    def _residual(self, stmt: ast.Residual, scope: Scope, current, outputs) -> Tensor | None:
        start = self._need_current(current, stmt.span, "residual", poisoned_ok=True)
        if stmt.when is not None and not self._condition(stmt.when, scope, start):
            return self._run_body(stmt.body, scope, start, outputs)
        body = self._run_body(stmt.body, scope, start, outputs)
        skip = start
        if stmt.shortcut is not None:
            projects = stmt.shortcut_when is None or self._condition(stmt.shortcut_when, scope, start)
            if projects:
                local = self._auto(scope, "shortcut")
                if _names_itself(stmt.shortcut):  # `shortcut: sequential downsample: ...` is `downsample`
                    skip = self._run_body(stmt.shortcut, scope, start, outputs)
                else:
                    frame = Frame(local, None, stmt.shortcut_span)
                    inner = replace(scope, frames=scope.frames + (frame,), numbering=None)
                    skip = self._run_body(stmt.shortcut, inner, start, outputs)
        if body is not None and body.known and skip.known and body.shape != skip.shape:
            kind = "projection shortcut" if skip is not start else "identity shortcut"
            notes = [Note(body.span, f"the body's output ({format_shape(body.shape)}) comes from here")]
            if skip is start:
                hint = "; project it with `shortcut when <condition>:` followed by a conv (and batchnorm)"
                notes.append(Note(stmt.span, f"the identity shortcut carries the residual's input ({format_shape(start.shape)})"))
            else:
                hint = ""
                notes.append(Note(skip.span, f"the shortcut's output ({format_shape(skip.shape)}) comes from here"))
            raise SpecError(
                f"residual shapes differ: the body gives {format_shape(body.shape)} but the {kind} gives {format_shape(skip.shape)}{hint}",
                stmt.span,
                notes, code="shape",
            )
        return self._apply("add", [body, skip], {}, {}, scope, stmt.span, None, stmt.span)

    def _merge(self, stmt: ast.Merge, scope: Scope, current, outputs) -> Tensor | None:
        start = self._need_current(current, stmt.span, stmt.merger.callee, poisoned_ok=True)
        if len(stmt.branches) > MAX_FAN_IN:
            raise LimitError(
                f"'{stmt.merger.callee}:' has {len(stmt.branches):,} branches; a merge takes at most {MAX_FAN_IN:,} inputs",
                stmt.merger.span,
            )
        results = []
        inline = stmt.inline or (False,) * len(stmt.branches)
        for branch, span, flat in zip(stmt.branches, stmt.branch_spans, inline):
            local = self._auto(scope, "branch")
            if flat or _names_itself(branch):  # `branch: sequential branch2: ...` is `branch2`
                results.append(self._run_body(branch, scope, start, outputs))
                continue
            single = branch[0] if len(branch) == 1 else None
            if isinstance(single, ast.Chain) and len(single.stages) == 1 and single.name is None:
                # a one-layer branch is that layer, named after the branch: no wrapper scope
                try:
                    results.append(self._chain(single, scope, start, local))
                except Poisoned:
                    results.append(Tensor(None, None, span))
                except NetspecError as error:
                    self.sink.add(error)
                    results.append(Tensor(None, None, span))
                continue
            frame = Frame(local, None, span)
            inner = replace(scope, frames=scope.frames + (frame,), numbering=None)
            results.append(self._run_body(branch, inner, start, outputs))
        call = stmt.merger
        op = lookup(call.callee)
        if op is None or op.arity is not None:
            merging = sorted(name for name, o in all_ops().items() if o.arity is None)
            raise SpecError(
                f"'{call.callee}' cannot merge branches; use one of {', '.join(merging)}"
                + did_you_mean(call.callee, merging),
                call.callee_span, code="merge",
            )
        if any(isinstance(self._evaluator(scope, start).eval(a), Tensor) for a in call.args):
            raise SpecError(f"'{call.callee}:' merges its branches; it takes no value arguments", call.span, code="merge")
        return self._invoke_op(op, call, results, scope, start, None)

    # ---- chains and calls
    def _chain(self, chain: ast.Chain, scope: Scope, current: Tensor | None, name: str | None) -> Tensor | None:
        stages = list(chain.stages)
        head = self._reference(stages[0], scope)
        if head is not None:
            current = head
            stages.pop(0)
        if name and len(stages) > 1:  # a named pipeline of several layers is a scope of its own
            frame = Frame(self._local(scope, name, "", chain.span), None, chain.span)
            scope = replace(scope, frames=scope.frames + (frame,), numbering=None)
            name = None
        for index, call in enumerate(stages):
            if self._reference(call, scope) is not None:
                raise SpecError(f"'{call.callee}' is a value; only the first stage of a pipeline can be a value", call.span, code="value")
            current = self._invoke(call, scope, current, name if index == len(stages) - 1 else None)
        return current

    def _reference(self, call: ast.Call, scope: Scope) -> Tensor | None:
        if call.parenthesized or call.args or call.kwargs:
            return None
        value = scope.lookup(call.callee)
        if value is MISSING:
            return None
        if not isinstance(value, Tensor):
            raise SpecError(f"'{call.callee}' is {describe(value)}, not a layer or a value", call.span, code="value")
        return value

    def _invoke(self, call: ast.Call, scope: Scope, current: Tensor | None, name: str | None) -> Tensor | None:
        block = self.library.blocks.get(call.callee)
        if block is not None:
            return self._invoke_block(block, call, scope, current, name)
        op = lookup(call.callee)
        if op is None:
            if call.callee == INPUT_OP:
                raise SpecError("'input' is declared once at the top, e.g. 'input 3x224x224'", call.callee_span, code="structure")
            if call.callee == "in":
                raise SpecError(
                    "a pipeline starts from the current value already; drop 'in', or name a value with "
                    "`as NAME` and start the pipeline from that name",
                    call.callee_span, code="unknown-name",
                )
            candidates = [*all_ops(), *self.library.blocks, *scope.names()]
            raise SpecError(f"unknown op or block '{call.callee}'{did_you_mean(call.callee, candidates)}", call.callee_span, code="unknown-name")
        return self._invoke_op(op, call, None, scope, current, name)

    def _invoke_op(self, op, call: ast.Call, inputs, scope: Scope, current, name) -> Tensor:
        bound = self.literal_calls.get(id(call))
        if bound is not None and bound[0] is call and bound[1] is op:  # run before: the same attributes
            raw, spans, explicit = bound[2], bound[3], []
        else:
            raw, spans, explicit = self._bind_call(op, call, scope, current)
            runs_again = self.repeats > 1 or scope.block_stack  # a top-level statement outside repeats runs once
            if runs_again and all(a.__class__ in LITERALS for a in call.args) and all(k.value.__class__ in LITERALS for k in call.kwargs):
                self.literal_calls[id(call)] = (call, op, raw, spans)
        if inputs is None:
            inputs = explicit or [self._need_current(current, call.span, op.name, poisoned_ok=True)]
        elif explicit:
            raise SpecError(f"'{op.name}' already has its inputs", call.span, code="arguments")
        if op.arity == 1 and len(inputs) != 1:
            raise SpecError(f"'{op.name}' takes one input, got {len(inputs)}", call.span, code="arguments")
        if op.arity is None and len(inputs) > MAX_FAN_IN:
            raise LimitError(f"'{op.name}' has {len(inputs):,} inputs; a merge takes at most {MAX_FAN_IN:,}", call.span)
        if op.arity is None and len(inputs) < 2:
            raise SpecError(
                f"'{op.name}' needs two or more inputs: write {op.name}(a, b), or merge branches with '{op.name}:'",
                call.span, code="arguments",
            )
        return self._apply(op.name, inputs, raw, spans, scope, call.span, name, call.callee_span)

    def _bind_call(self, op, call: ast.Call, scope: Scope, current) -> tuple[dict, dict, list[Tensor]]:
        """A call's attribute values with their spans, and the values it names as its inputs."""
        if not call.args and not call.kwargs:  # `relu`: nothing to evaluate or bind
            return {}, {}, []
        evaluator = self._evaluator(scope, current)
        values = [evaluator.eval(a, symbols_ok=True) for a in call.args]
        explicit = []
        while values and isinstance(values[0], Tensor):
            explicit.append(values.pop(0))
        arg_exprs = list(call.args[len(explicit):])
        if any(isinstance(v, Tensor) for v in values):
            for expr, value in zip(arg_exprs, values):
                if isinstance(value, Symbol):  # add(typo, b): an undefined value, not an attribute
                    raise self._undefined(value, expr.span, evaluator)
                if isinstance(value, Tensor):
                    raise SpecError(
                        f"value arguments come first, before the attributes of '{op.name}'", expr.span, code="arguments",
                    )
        raw, spans = self._bind_attrs(op, call, values, arg_exprs, evaluator)
        return raw, spans, explicit

    def _bind_attrs(self, op, call: ast.Call, values, exprs, evaluator):
        positional, kinds, names = _attribute_tables(op)
        if len(values) > len(positional):
            extra = exprs[len(positional)]
            if isinstance(values[len(positional)], Symbol):
                word = values[len(positional)].name
                if word in kinds:
                    raise SpecError(f"attribute '{word}' of '{op.name}' needs a value, as in {word}=...", extra.span, code="attribute")
                raise self._undefined(values[len(positional)], extra.span, evaluator)
            if positional:
                given = f"{len(values)} were given"
                takes = f"takes {len(positional)} positional argument{'s' * (len(positional) != 1)}"
                raise SpecError(
                    f"'{op.name}' {takes} ({', '.join(a.name for a in positional)}) but {given}", extra.span, code="arguments",
                )
            named = ", ".join(f"{a.name}=" for a in op.attrs)
            raise SpecError(
                f"'{op.name}' takes no positional arguments" + (f"; name its attributes ({named})" if named else ""),
                extra.span, code="arguments",
            )
        raw: dict[str, Any] = {}
        spans: dict[str, Span] = {}
        for attr, value, expr in zip(positional, values, exprs):
            raw[attr.name], spans[attr.name] = value, expr.span
        for kw in call.kwargs:
            if kw.name not in names:
                hint = did_you_mean(kw.name, names) or (f"; it has: {', '.join(names)}" if names else "; it has none")
                if not hint.startswith("; did you mean"):  # relu slope=0.1: a sibling op may have it
                    siblings = [o.name for o in all_ops().values() if o.family == op.family and kw.name in {a.name for a in o.attrs}]
                    if siblings:
                        hint += f" ({' and '.join(siblings[:2])} {'has' if len(siblings) == 1 else 'have'} '{kw.name}')"
                raise SpecError(f"'{op.name}' has no attribute '{kw.name}'{hint}", kw.span, code="attribute")
            if kw.name in raw:
                raise SpecError(f"'{kw.name}' is given twice", kw.span, code="attribute")
            raw[kw.name], spans[kw.name] = evaluator.eval(kw.value, symbols_ok=True), kw.value.span
        for attr_name, value in raw.items():
            if not isinstance(value, Symbol) or kinds[attr_name] == "choice" or kinds[attr_name].startswith("padding"):
                continue
            if kinds[attr_name] == "bool":  # inplace=yes
                raise SpecError(
                    f"{attr_name} must be true or false, got '{value.name}'"
                    + did_you_mean(value.name, [*evaluator.names(), "true", "false"]),
                    spans[attr_name], code="attribute",
                )
            raise self._undefined(value, spans[attr_name], evaluator)
        return raw, spans

    @staticmethod
    def _undefined(symbol: Symbol, span: Span, evaluator: Evaluator) -> SpecError:
        return undefined_name(symbol.name, span, evaluator.names())

    def _apply(self, op_name: str, inputs, raw, spans, scope: Scope, span: Span, name, callee_span) -> Tensor:
        op = lookup(op_name)
        if any([t is None or t.node is None for t in inputs]):
            try:  # the inputs are unknown, but the attributes can still be checked on their own
                op.check_values(raw)
            except OpError as error:
                raise _op_error(error, raw, spans, callee_span) from None
            raise Poisoned()
        shapes = [t.shape for t in inputs]
        try:
            key = (op_name, tuple(shapes), typed_key(tuple(raw.items())))
            known = self.prepared.get(key)
        except TypeError:  # an unhashable value: prepared every time
            key = known = None
        try:
            if known is None:
                attrs = op.prepare(raw, shapes)
                shape = op.infer(attrs, shapes)
            else:
                attrs, shape = known
        except OpError as error:
            notes = [Note(inputs[i].span, f"the {_ordinal(i)} input ({format_shape(shapes[i])}) comes from here") for i in error.inputs]
            reported = _op_error(error, raw, spans, callee_span, notes)
            if isinstance(error, CollapseError):
                self.collapses.add((reported.diagnostics[0].message, reported.diagnostics[0].span))
            raise reported from None
        if known is None:
            if any(d > MAX_INTEGER for d in shape):
                raise LimitError(f"the output of '{op_name}' ({format_shape(shape)}) is too large: sizes are limited to 64 bits", callee_span)
            if key is not None:
                self.prepared[key] = attrs, shape
        if len(self.nodes) >= MAX_NODES:
            raise LimitError(f"the network grows past {MAX_NODES:,} layers; is a repeat count too large?", span)
        local = self._local(scope, name, op_name, span)
        node_name = f"{scope.path}.{local}" if scope.frames else local
        self.nodes.append(Node(node_name, op_name, attrs, tuple([t.node for t in inputs]), shape, span, scope.frames))
        return Tensor(node_name, shape, span)

    def _invoke_block(self, block: ast.BlockDef, call: ast.Call, scope: Scope, current, name) -> Tensor | None:
        if block.name in scope.block_stack:
            chain = " → ".join([*scope.block_stack[scope.block_stack.index(block.name):], block.name])
            raise SpecError(f"block '{block.name}' calls itself ({chain}); blocks cannot be recursive", call.callee_span,
                            [Note(block.span, f"'{block.name}' is defined here")], code="recursion")
        evaluator = self._evaluator(scope, current)
        args = self._bind_block_args(block, call, evaluator)
        key = mark = None
        start = self._need_current(current, call.span, block.name, poisoned_ok=True)
        stack = scope.block_stack + (block.name,)
        if block.kind == "inline":  # no scope of its own: its layers join the caller's
            inner = Scope(dict(args), {}, scope.frames, scope.globals, scope.iteration, stack, scope.numbering)
        else:
            local = self._local(scope, name, block.name, call.span)
            frame = Frame(local, block.name, call.span, tuple(args.items()), block.span)
            numbering = [0] if block.kind == "sequential" else None
            inner = Scope(dict(args), {}, scope.frames + (frame,), scope.globals, (), stack, numbering)
            if self.instances is not None and start.known and not self.sink.diagnostics and not self.sink.more:
                key = self.instances.key(block, args, start, stack, self)
                if key is not None:
                    found = self.instances.replay(key, self, inner.frames, start)
                    if isinstance(found, Tensor):
                        return found
                    mark = found
                    if mark is None:  # not to be recorded
                        key = None
        reported = len(self.sink.diagnostics)
        result = self._run_body(block.body, inner, start, None)
        if key is not None and result is not None and result.known and not self.sink.diagnostics and not self.sink.more:
            self.instances.record(key, mark, self, inner.frames, start, result)
        if len(self.sink.diagnostics) > reported:
            shown = ", ".join(f"{k}={describe(v)}" for k, v in args.items())
            note = Note(call.span, f"in {block.name}({shown}), called here")
            self.sink.diagnostics[reported:] = [
                replace(d, notes=d.notes + (note,)) for d in self.sink.diagnostics[reported:]
            ]
        if result is None:
            raise SpecError(f"block '{block.name}' produces no value", call.span, code="structure")
        return result

    def _bind_block_args(self, block: ast.BlockDef, call: ast.Call, evaluator: Evaluator) -> dict[str, Any]:
        params = [p.name for p in block.params]
        if len(call.args) > len(params):
            raise SpecError(
                f"block '{block.name}' takes {len(params)} argument{'s' * (len(params) != 1)} "
                f"({', '.join(params)}) but {len(call.args)} were given",
                call.span, [Note(block.span, f"'{block.name}' is defined here")], code="arguments",
            )
        args = {p: evaluator.eval(e) for p, e in zip(params, call.args)}
        for kw in call.kwargs:
            if kw.name not in params:
                hint = did_you_mean(kw.name, params) or (f"; it has: {', '.join(params)}" if params else "; it has none")
                raise SpecError(f"block '{block.name}' has no parameter '{kw.name}'{hint}", kw.span,
                                [Note(block.span, f"'{block.name}' is defined here")], code="arguments")
            if kw.name in args:
                raise SpecError(f"'{kw.name}' is given twice", kw.span, code="arguments")
            args[kw.name] = evaluator.eval(kw.value)
        missing = [p.name for p in block.params if p.name not in args and p.default is None]
        if missing:
            given = len(call.args) + len(call.kwargs)
            raise SpecError(
                f"block '{block.name}' is missing argument{'s' * (len(missing) != 1)} "
                + ", ".join(f"'{m}'" for m in missing)
                + f" (it takes {', '.join(params)}; {given} {'was' if given == 1 else 'were'} given)",
                call.span, [Note(block.span, f"'{block.name}' is defined here")], code="arguments",
            )
        for param in block.params:
            if param.name not in args:
                defaults = Evaluator(lambda n: args.get(n, evaluator.lookup(n)), lambda: list(args), self._no_layers)
                args[param.name] = defaults.eval(param.default)
        for value, param in zip(args.values(), block.params):
            if isinstance(value, Tensor):
                raise SpecError(f"block parameters are numbers or flags; '{param.name}' got {describe(value)}", call.span, code="arguments")
        return args

    # ---- names
    def _evaluator(self, scope: Scope, current: Tensor | None) -> Evaluator:
        def lookup_name(name: str) -> Any:
            if name == "in":
                if current is None:
                    return MISSING
                if not current.known:
                    raise Poisoned()
                return current
            value = scope.lookup(name)
            return value

        return Evaluator(lookup_name, scope.names, lambda call: self._invoke(call, scope, current, None))

    def _names_an_op(self, name: str) -> bool:
        return lookup(name) is not None or name in self.library.blocks

    def _bind(self, scope: Scope, name: str, value: Tensor | None, span: Span) -> None:
        if name == "in":
            raise SpecError("'in' is reserved for the current value; choose another name for this value", span, code="reserved-name")
        if name == INPUT_OP:
            raise SpecError(
                "'input' names the network's input; choose another name for this value", span, code="reserved-name"
            )
        if lookup(name) is not None or name in self.library.blocks:
            raise SpecError(f"'{name}' is the name of an op or block; choose another name for this value", span, code="reserved-name")
        previous = scope.defined_at.get(name)
        if previous is not None and previous[1] == scope.iteration:
            raise SpecError(f"duplicate name '{name}'", span, [Note(previous[0], f"'{name}' is first defined here")], code="duplicate-name")
        if name in scope.globals and name not in scope.values:
            raise SpecError(f"'{name}' is a network parameter; choose another name for this value", span, code="reserved-name")
        scope.values[name] = value
        scope.defined_at[name] = (span, scope.iteration)

    def _auto(self, scope: Scope, base: str) -> str:
        key = (scope.path, base)
        self.counters[key] = self.counters.get(key, 0) + 1
        self.issued.append(key)
        return f"{base}#{self.counters[key]}"

    def _local(self, scope: Scope, name: str | None, base: str, span: Span) -> str:
        """The local name of a new layer or scope: its `as` name, its index in a sequential
        scope, or a `base#k` placeholder that finalize_names turns into `base` or `basek`."""
        index = None
        if scope.numbering is not None:
            index = scope.numbering[0]
            scope.numbering[0] += 1
        if name:
            return self._explicit(scope, name, span)
        return str(index) if index is not None else self._auto(scope, base)

    def _explicit(self, scope: Scope, name: str, span: Span) -> str:
        if "#" in name:
            return name  # already a numbered placeholder (a one-layer branch)
        if scope.iteration:
            return self._auto(scope, name)  # a name inside a repeat is numbered per iteration
        return name

    @staticmethod
    def _need_current(current: Tensor | None, span: Span, what: str, poisoned_ok: bool = False) -> Tensor:
        if current is None:
            raise SpecError(f"'{what}' has no input here", span, code="structure")
        if not current.known and not poisoned_ok:
            raise Poisoned()
        return current


@functools.cache
def _attribute_tables(op) -> tuple[tuple, dict[str, str], tuple[str, ...]]:
    """An op's positional attributes, the kind of each attribute by name, and their names:
    made once per op rather than for every call (read only)."""
    return tuple(a for a in op.attrs if a.positional), {a.name: a.kind for a in op.attrs}, tuple(a.name for a in op.attrs)


def _names_itself(body: tuple) -> bool:
    """Is a branch or shortcut body one named `sequential NAME:` scope (so needs no wrapper)?"""
    return len(body) == 1 and isinstance(body[0], ast.Sequential) and body[0].name is not None


def _ordinal(index: int) -> str:
    words = ("first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth")
    return words[index] if index < len(words) else f"#{index + 1}"


def _op_error(error: OpError, raw: Mapping[str, Any], spans: Mapping[str, Span], callee_span: Span, notes=()) -> SpecError:
    """An op's complaint as a diagnostic at the attribute to blame; when that attribute was
    computed (`conv c/3 ...`), show the expression with its value: "but c/3 = 21.3333"."""
    where = spans.get(error.attr, callee_span) if error.attr else callee_span
    message = error.message
    text = _span_text(where) if error.attr in spans else ""
    head, sep, got = message.rpartition(", got ")
    if sep and text and _is_expression(text) and ";" not in got and not isinstance(raw.get(error.attr), tuple):
        message = f"{head}, but {text} = {got}"
        if "must be an integer" in head and "/" in text and "//" not in text:
            message += "; use '//' to divide and round down"
    code = "collapse" if isinstance(error, CollapseError) else "shape" if error.inputs else "attribute"
    return SpecError(message, where, notes, code=code)


def _span_text(span: Span) -> str:
    if span.end_line != span.line:
        return ""
    return span.source.line(span.line)[span.column - 1 : span.end_column - 1].strip()


def _is_expression(text: str) -> bool:
    """True for `c/3` or `width * 2`, false for a literal such as `1.5`, `3x3` or `1e-3`."""
    literal = r'\(?-?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?\)?|\d+(x\d+)+|true|false|"[^"]*"'
    return re.fullmatch(literal, text) is None


def elaborate(
    source: str | Path,
    overrides: Mapping[str, Any] | None = None,
    allow_outside: bool = False,
    input_shape: tuple[int, ...] | None = None,
    shown_as: str = "<spec>",
) -> Graph:
    """Parse, load imports, elaborate and check; raise a NetspecError listing every problem found.

    `source` is a path or the text itself (then named `shown_as` in messages); `input_shape`
    replaces the spec's declared input (as `--input` does)."""
    return resizable(source, overrides, allow_outside, shown_as)(input_shape)


def resizable(
    source: str | Path, overrides: Mapping[str, Any] | None = None, allow_outside: bool = False, shown_as: str = "<spec>"
) -> Callable[[tuple[int, ...] | None], Graph]:
    """Load a spec once; the result elaborates it at its declared input (None) or at another input shape."""
    with collector_paused():
        spec, library = load(source, allow_outside, shown_as)

    def at(input_shape: tuple[int, ...] | None = None) -> Graph:
        with collector_paused():
            try:
                return elaborate_spec(spec, library, dict(overrides or {}), input_shape)
            except RecursionError:
                raise SpecError(TOO_DEEP, replace(spec.span, end_line=1, end_column=2), code="limit") from None

    return at


def elaborate_spec(spec: ast.Spec, library: Library, overrides: dict[str, Any], input_override=None,
                   reuse_instances: bool = True) -> Graph:
    """`reuse_instances=False` elaborates every block instance from its body (see netspec.ir.instances)."""
    sink = DiagnosticSink()
    elaborator = Elaborator(spec, library, sink, input_override, reuse_instances)
    try:
        graph = elaborator.run(overrides)
    except LimitError as limit:  # reported after the errors found before it, then nothing more
        raise LimitError.collected([*sink.errors, *limit.diagnostics], more=len(sink.more)) from None
    if sink.errors:
        if elaborator.collapses and input_override is None:
            from netspec.ir.min_input import smallest_working_input

            hint = smallest_working_input(spec, library, overrides)
            if hint:
                sink.diagnostics = [
                    replace(d, message=d.message + f"; the smallest input that works is {hint}")
                    if (d.message, d.span) in elaborator.collapses else d
                    for d in sink.diagnostics
                ]
        sink.raise_if_errors()
    assert graph is not None
    from netspec.ir.checks import without_unreachable

    return without_unreachable(graph)


__all__ = ["elaborate", "elaborate_spec", "Elaborator", "Scope"]
