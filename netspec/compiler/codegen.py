"""IR graph → readable PyTorch source: a class per block shape, constructor arguments, straight-line forward.

Every scope of the graph (block instance, named pipeline, branch, shortcut) is rendered
as a candidate class. Instances whose code differs only in integer literals share one
class; the literals that differ become constructor arguments, named after the block
parameter they equal (`channels`, `4 * width`) or after the input channels. A scope
that is a plain chain and not a block becomes an inline `nn.Sequential`.
"""
from __future__ import annotations

import io
import keyword
import re
import tokenize
from dataclasses import dataclass, field

from netspec import __version__
from netspec.analysis.cost import costs
from netspec.ir.graph import Frame, Graph
from netspec.ir.values import describe
from netspec.ops import lookup
from netspec.ops.base import format_shape

RESERVED = {"self", "x", "out", "torch", "nn", "super", "input", "OrderedDict"}
MULTIPLES = (2, 3, 4, 6, 8)


@dataclass
class Scope:
    """A scope of the network and what it holds, in graph order."""

    frame: Frame | None
    path: str
    items: list = field(default_factory=list)  # Node | Scope
    depth: int = 0
    # filled in by the generator:
    call_template: str = ""  # how the parent constructs it, with {} slots for integers
    call_values: tuple[int, ...] = ()
    inputs: list[str] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)

    def nodes(self):
        for item in self.items:
            if isinstance(item, Scope):
                yield from item.nodes()
            else:
                yield item

    def height(self) -> int:
        return 1 + max((s.height() for s in self.items if isinstance(s, Scope)), default=-1)


@dataclass
class Rendered:
    """One scope's code with the integers lifted out: `template.format(*values)` gives the code."""

    scope: Scope
    init_templates: list[str]
    init_values: list[tuple[int, ...]]
    forward: list[str]
    arg_names: list[str]
    reads_input: list[bool]  # per init line: does the module read the scope's first input?
    attrs: list[str] = field(default_factory=list)  # per init line: the child module's name
    modules: list[str] = field(default_factory=list)  # per init line: the constructor expression

    @property
    def key(self) -> tuple:
        block = self.scope.frame.block if self.scope.frame else None
        return (block, tuple(self.init_templates), tuple(self.forward), tuple(self.arg_names))

    @property
    def values(self) -> tuple[int, ...]:
        return tuple(v for vs in self.init_values for v in vs)


def build_scopes(graph: Graph) -> Scope:
    root = Scope(None, "")
    scopes: dict[tuple[str, ...], Scope] = {(): root}
    for node in graph.layers():
        parent = root
        names: tuple[str, ...] = ()
        for frame in node.scope:
            names = names + (frame.name,)
            if names not in scopes:
                scope = Scope(frame, ".".join(names), depth=len(names))
                scopes[names] = scope
                parent.items.append(scope)
            parent = scopes[names]
        parent.items.append(node)
    return root


def camel(name: str) -> str:
    parts = re.split(r"[_\W]+", name)
    return "".join(p[:1].upper() + p[1:] for p in parts if p) or "Block"


def identifier(name: str) -> str:
    """A Python variable for a layer or scope name; `0` (an index in a sequential scope) becomes `x0`."""
    if not name.isidentifier():
        return "x" + name
    return name + "_" if keyword.iskeyword(name) or name in RESERVED else name


def submodule(name: str) -> str:
    """How a class reads its child module `name`: `self.conv1`, or `getattr(self, "0")` for an index."""
    return f"self.{identifier(name)}" if name.isidentifier() else f'getattr(self, "{name}")'


def register(name: str, module: str) -> str:
    """The __init__ line that creates child module `name`."""
    if name.isidentifier():
        return f"self.{identifier(name)} = {module}"
    return f'self.add_module("{name}", {module})'


def lift_integers(code: str) -> tuple[str, tuple[int, ...]]:
    """Replace each integer literal of a Python expression by a {} slot; floats and names stay."""
    pieces, values, last = [], [], 0
    lines = code.splitlines(keepends=True)
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line))
    for token in tokenize.generate_tokens(io.StringIO(code).readline):
        if token.type == tokenize.NUMBER and re.fullmatch(r"\d+", token.string):
            start = offsets[token.start[0] - 1] + token.start[1]
            end = offsets[token.end[0] - 1] + token.end[1]
            pieces.append(code[last:start].replace("{", "{{").replace("}", "}}"))
            pieces.append("{}")
            values.append(int(token.string))
            last = end
    pieces.append(code[last:].replace("{", "{{").replace("}", "}}"))
    return "".join(pieces), tuple(values)


class Generator:
    def __init__(self, graph: Graph):
        self.graph = graph
        self.classes: dict[str, str] = {}
        self.consumers = {n.name: graph.consumers(n.name) for n in graph.nodes}
        self.outputs = {o.node for o in graph.outputs}

    # ---- whole file
    def module_source(self) -> str:
        root = build_scopes(self.graph)
        scopes = list(self._walk(root))
        for height in sorted({s.height() for s in scopes}):
            level = [s for s in scopes if s.height() == height]
            self._render_level(level, root)
        return self._file(root)

    def _walk(self, scope: Scope):
        for item in scope.items:
            if isinstance(item, Scope):
                yield from self._walk(item)
        yield scope

    def _file(self, root: Scope) -> str:
        _, totals = costs(self.graph)
        used = sorted({n.op for n in self.graph.layers()})
        helpers = [lookup(op).helper.strip() for op in used if lookup(op).helper]
        shape = format_shape(self.graph.input.shape)
        outs = ", ".join(f"{o.name} {format_shape(self.graph.node(o.node).shape)}" for o in self.graph.outputs)
        header = [
            f'"""{self.graph.name}: generated by netspec {__version__} from {self.graph.span.source.name}.',
            "",
            f"Input per sample: {shape} (call with a batch N x {shape.replace('x', ' x ')}).",
            f"Output{'s' if len(self.graph.outputs) > 1 else ''} per sample: {outs}.",
            f"Parameters: {totals.params:,}. Multiply-accumulates per sample: {totals.macs:,}.",
            "Edit the spec and run `netspec build` again rather than editing this file.",
            '"""',
        ]
        body = "\n\n\n".join([*helpers, *self.classes.values()])
        imports = ["from collections import OrderedDict", ""] if "OrderedDict(" in body else []
        imports += ["import torch", "from torch import nn"]
        return "\n".join(header + imports) + "\n\n\n" + body + "\n"

    # ---- one level of scopes, all of the same height
    def _render_level(self, scopes: list[Scope], root: Scope) -> None:
        groups: dict[tuple, list[Rendered]] = {}
        for scope in scopes:
            rendered = self._render(scope, is_root=scope is root)
            if scope is not root and self._is_sequential(scope, rendered):
                self._inline_sequential(scope, rendered)
                continue
            groups.setdefault(rendered.key, []).append(rendered)
        for members in groups.values():
            self._emit_class(members, is_root=members[0].scope is root)

    def _render(self, scope: Scope, is_root: bool) -> Rendered:
        inside = {n.name for n in scope.nodes()}
        inputs: list[str] = ["input"] if is_root else []
        if not is_root:
            for node in scope.nodes():
                for i in node.inputs:
                    if i not in inside and i not in inputs:
                        inputs.append(i)
        if is_root:
            outputs = [o.node for o in self.graph.outputs]
        else:
            outputs = [
                n.name for n in scope.nodes()
                if n.name in self.outputs or any(c not in inside for c in self.consumers[n.name])
            ]
        scope.inputs, scope.outputs = inputs, outputs

        variables: dict[str, str] = {}
        arg_names = []
        for k, name in enumerate(inputs):
            variables[name] = "x" if k == 0 else _unique_argument(name, arg_names)
            arg_names.append(variables[name])
        order = list(scope.items)
        chain_var = "out" if self._read_later(inputs[0] if inputs else None, order, 0) else "x"

        templates, values, forward, reads_input, attrs, modules = [], [], [], [], [], []
        for index, item in enumerate(order):
            if isinstance(item, Scope):
                attr = item.frame.name
                template, literal = item.call_template, item.call_values
                call = f"{submodule(attr)}({', '.join(variables[i] for i in item.inputs)})"
                produced = item.outputs
                span = item.frame.span
            else:
                attr = item.local_name
                template, literal = lift_integers(item.opdef.module(item.attrs, self.graph.input_shapes(item)))
                call = item.opdef.forward(item.attrs, submodule(attr), [variables[i] for i in item.inputs])
                produced = [item.name]
                span = item.span
            where = f"{span.source.name.rsplit('/', 1)[-1]}:{span.line}"
            templates.append(f"{register(attr, template)}  # {where}")
            attrs.append(attr)
            modules.append(template)
            reads_input.append(bool(inputs) and inputs[0] in self._reads(item))
            values.append(literal)
            targets = []
            for name in produced:
                if self._flows_to_next(name, produced, order, index, outputs):
                    var = chain_var
                elif isinstance(item, Scope) and len(produced) == 1:
                    var = identifier(item.frame.name)
                elif isinstance(item, Scope):
                    var = identifier(f"{item.frame.name}_{name.rsplit('.', 1)[-1]}")
                else:
                    var = identifier(name.rsplit(".", 1)[-1])
                variables[name] = var
                targets.append(var)
            forward.append(f"{', '.join(targets)} = {call}")
        forward.append("return " + ", ".join(variables[o] for o in outputs))
        return Rendered(scope, templates, values, forward, arg_names, reads_input, attrs, modules)

    def _flows_to_next(self, name: str, produced: list[str], order: list, index: int, outputs: list[str]) -> bool:
        """True when a value is read only by the next item, as its first input, or is the scope's result."""
        if len(produced) != 1:
            return False
        if index + 1 == len(order):
            return outputs == [name]
        if name in self.outputs:
            return False
        following = self._names_in(order[index + 1])
        reads = self._reads(order[index + 1])
        consumers = self.consumers[name]
        return bool(reads) and reads[0] == name and all(c in following for c in consumers) and name not in outputs

    def _reads(self, item) -> list[str]:
        return item.inputs if isinstance(item, Scope) else list(item.inputs)

    def _names_in(self, item) -> set[str]:
        return {n.name for n in item.nodes()} if isinstance(item, Scope) else {item.name}

    def _read_later(self, name: str | None, order: list, index: int) -> bool:
        if name is None:
            return False
        readers = [k for k, item in enumerate(order) if name in self._reads(item)]
        return any(k > index for k in readers) or name in self.outputs

    # ---- inline nn.Sequential for plain chains that are not blocks
    def _is_sequential(self, scope: Scope, rendered: Rendered) -> bool:
        if scope.frame.block is not None or len(scope.inputs) != 1 or len(scope.outputs) != 1:
            return False
        previous = scope.inputs[0]
        for index, item in enumerate(scope.items):
            reads = item.inputs if isinstance(item, Scope) else list(item.inputs)
            result = item.outputs if isinstance(item, Scope) else [item.name]
            if list(reads) != [previous] or len(result) != 1:
                return False
            following = scope.items[index + 1] if index + 1 < len(scope.items) else None
            if following is not None and not set(self.consumers[result[0]]) <= self._names_in(following):
                return False
            previous = result[0]
        return scope.outputs == [previous]

    def _inline_sequential(self, scope: Scope, rendered: Rendered) -> None:
        entries = []
        for item, module in zip(scope.items, rendered.modules):
            name = item.frame.name if isinstance(item, Scope) else item.local_name
            entries.append(f'    ("{name}", {module}),')
        scope.call_template = "nn.Sequential(OrderedDict([\n" + "\n".join(entries) + "\n]))"
        scope.call_values = rendered.values

    # ---- classes
    def _emit_class(self, members: list[Rendered], is_root: bool) -> None:
        first = members[0]
        frame = first.scope.frame
        columns = list(zip(*(m.values for m in members))) if first.values else []
        varying = [k for k, column in enumerate(columns) if len(set(column)) > 1]
        names = self._name_parameters(members, varying)
        params: list[str] = []
        for k in varying:
            if _argument(names[k]) not in params:
                params.append(_argument(names[k]))
        params.sort(key=lambda p: (p != "in_channels", self._param_rank(frame, p)))

        slots = iter(range(len(first.values)))
        init_lines = []
        for template, literal in zip(first.init_templates, first.init_values):
            filled = []
            for value in literal:
                k = next(slots)
                filled.append(names[k] if k in names else str(value))
            init_lines.append(template.format(*filled))

        base = camel(self.graph.name if is_root else (frame.block or re.sub(r"\d+$", "", frame.name) or "Group"))
        class_name = self._unique_class_name(base)
        self.classes[class_name] = self._class_source(class_name, first, init_lines, params, members, is_root)
        for member in members:
            per_instance = {}
            for k in varying:
                per_instance.setdefault(_argument(names[k]), self._param_value(names[k], member.values[k]))
            member.scope.call_template = f"{class_name}({', '.join('{}' for _ in params)})"
            member.scope.call_values = tuple(per_instance[p] for p in params)

    def _name_parameters(self, members: list[Rendered], varying: list[int]) -> dict[int, str]:
        """Name each varying literal: a block argument, a multiple of one, the input channels, or its place."""
        names: dict[int, str] = {}
        frame = members[0].scope.frame
        block_args = [k for k, _ in frame.args] if frame else []
        in_channels = [self._input_channels(m.scope) for m in members]
        fallback_by_column: dict[tuple, str] = {}
        for k in varying:
            column = tuple(m.values[k] for m in members)
            args = [dict(m.scope.frame.args) for m in members] if frame else []
            chosen = None
            integer_args = [
                (arg, tuple(a.get(arg) for a in args)) for arg in block_args
                if all(isinstance(a.get(arg), int) and not isinstance(a.get(arg), bool) for a in args)
            ]
            chosen = next((arg for arg, arg_column in integer_args if arg_column == column), None)
            if chosen is None and column == tuple(in_channels) and self._is_input_side(members[0], k):
                chosen = "in_channels"
            for arg, arg_column in integer_args if chosen is None else ():
                for m in MULTIPLES:
                    if all(v * m == c for v, c in zip(arg_column, column)):
                        chosen = f"{m} * {arg}"
                        break
                    if all(v == c * m for v, c in zip(arg_column, column)):
                        chosen = f"{arg} // {m}"
                        break
                if chosen:
                    break
            if chosen is None and column == tuple(in_channels):
                chosen = "in_channels"
            if chosen is None:
                chosen = fallback_by_column.setdefault(column, self._place_name(members[0], k))
            names[k] = chosen
        return names

    def _is_input_side(self, rendered: Rendered, k: int) -> bool:
        """Is literal k the first argument of a module that reads the scope's input (its in_channels)?"""
        index = 0
        for literal, reads in zip(rendered.init_values, rendered.reads_input):
            if k < index + len(literal):
                return reads and k == index
            index += len(literal)
        return False

    def _param_value(self, name: str, value: int) -> int:
        """The constructor argument that makes `name` evaluate to `value`."""
        if " * " in name:
            return value // int(name.split(" * ")[0])
        if " // " in name:
            return value * int(name.split(" // ")[1])
        return value

    def _place_name(self, rendered: Rendered, k: int) -> str:
        index = 0
        for attr, literal in zip(rendered.attrs, rendered.init_values):
            if k < index + len(literal):
                attr = identifier(attr)
                return f"{attr}_{k - index + 1}" if len(literal) > 1 else attr
            index += len(literal)
        return f"arg{k}"

    def _param_rank(self, frame: Frame | None, name: str) -> int:
        args = [k for k, _ in frame.args] if frame else []
        return args.index(name) if name in args else len(args)

    def _input_channels(self, scope: Scope) -> int | None:
        if not scope.inputs:
            return None
        shape = self.graph.node(scope.inputs[0]).shape
        return shape[0] if shape else None

    def _class_source(self, name, first: Rendered, init_lines, params, members, is_root) -> str:
        frame = first.scope.frame
        defined = frame.definition if frame and frame.definition else (frame.span if frame else self.graph.span)
        where = f"{defined.source.name}:{defined.line}"
        if is_root:
            settings = ", ".join(f"{k}={describe(v)}" for k, v in self.graph.params)
            doc = f"The network {self.graph.name}" + (f" ({settings})" if settings else "") + f", from {self.graph.span.source.name}."
        else:
            paths = [m.scope.path for m in members]
            used = ", ".join(paths[:3]) + (f" and {len(paths) - 3} more" if len(paths) > 3 else "")
            fixed = [
                f"{k}={describe(v)}" for k, v in frame.args
                if k not in params and all(dict(m.scope.frame.args).get(k) == v for m in members)
            ]
            what = f"Block {frame.block}({', '.join(fixed)})" if frame.block else f"'{frame.name}'"
            doc = f"{what} from {where}; used as {used}."
        doc = _wrap_doc(doc)
        signature = ", ".join(["self", *params])
        lines = [f"class {name}(nn.Module):", *doc, "", f"    def __init__({signature}):", "        super().__init__()"]
        for line in init_lines:
            lines += [f"        {part}" for part in line.split("\n")]
        lines += ["", f"    def forward(self, {', '.join(first.arg_names)}):"]
        lines += [f"        {line}" for line in first.forward]
        return "\n".join(lines)

    def _unique_class_name(self, base: str) -> str:
        if base not in self.classes and base not in _helper_class_names():
            return base
        k = 2
        while f"{base}{k}" in self.classes:
            k += 1
        return f"{base}{k}"


def _helper_class_names() -> set[str]:
    """Names the generated file may already use for ops' helper modules (Add, Concat, ...)."""
    from netspec.ops import all_ops

    return {name for op in all_ops().values() for name in re.findall(r"^class (\w+)", op.helper, re.M)}


def _unique_argument(path: str, taken: list[str]) -> str:
    """A forward() argument for the value at `path`: its last name, widened until no other argument has it."""
    segments = path.split(".")
    for depth in range(1, len(segments) + 1):
        candidate = identifier("_".join(segments[-depth:]))
        if candidate not in taken:
            return candidate
    k = 2
    while f"{candidate}_{k}" in taken:
        k += 1
    return f"{candidate}_{k}"


def _argument(expression: str) -> str:
    """The constructor argument an expression such as `4 * width` or `width // 2` reads."""
    if " * " in expression:
        return expression.split(" * ")[1]
    if " // " in expression:
        return expression.split(" // ")[0]
    return expression


def _wrap_doc(text: str, width: int = 88) -> list[str]:
    words, lines, line = text.split(), [], '    """'
    for word in words:
        if len(line) + len(word) + 1 > width:
            lines.append(line.rstrip())
            line = "    " + word
        else:
            line += ("" if line.endswith('"""') else " ") + word
    lines.append(line + '"""')
    return lines


def generate(graph: Graph) -> str:
    """The full Python source of a module file for `graph`; it imports only torch."""
    return Generator(graph).module_source()


def class_name(graph: Graph) -> str:
    return camel(graph.name)


__all__ = ["generate", "class_name"]
