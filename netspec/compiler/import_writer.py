"""torch → spec, step 2: write the traced calls as spec text, the module tree as scopes and blocks.

Every module that is not a leaf becomes a scope: a plain `nn.Sequential` is written in place
as `sequential NAME:`, any other class becomes a block definition (a `sequential block` for
subclasses of `nn.Sequential`) shared by all its instances of the same structure, with a
parameter for each constant that differs between them. Inside a scope the data flow must
be series-parallel (chains, and merges whose inputs fork from one value): merges become
`add:`/`concat:`/`mul:` with inline branches, or `residual:` when one input is the fork.
Layers are named after their attributes, so the spec's state_dict keys are the module's.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import networkx as nx
import torch.nn as nn

from netspec.compiler.import_statements import BlockCall, Line, Slot, dims, piece_shape
from netspec.compiler.import_trace import Call, Traced, TorchImportError
from netspec.ops import lookup


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
        self.names_used: set[tuple[tuple[str, ...], str]] = set()

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
        """True if a layer of this scope already carries the name (functions called twice from one module)."""
        key = (path, attr)
        if key in self.names_used:
            return True
        self.names_used.add(key)
        return False

    # ---- blocks
    def block_call(self, item: ScopeItem) -> tuple[str, list[BlockCall]]:
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
        return self.blocks[structure][0], [BlockCall(label, item.path)]

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
                if isinstance(piece, BlockCall):
                    out += [(f"{piece.label}_{n}", None, v, None) for n, v in self.call_args(piece.path)]
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
            f"input {dims(self.input_shape)}",
            "",
        ]
        body = [self._render_root(line) for line in root]
        return "\n".join(header + out + body) + "\n"

    def _render(self, line: Line, slots, slot_param: dict[int, str], constants, k: int) -> tuple[str, int]:
        text = []
        for piece in line.pieces:
            if isinstance(piece, str):
                text.append(piece)
            elif isinstance(piece, BlockCall):
                args = []
                for _ in self.call_args(piece.path):
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
            elif isinstance(piece, BlockCall):
                text.append(", ".join(v for _, v in self.call_args(piece.path)))
            elif not (piece.keyword and piece.value == piece.default):
                text.append(f"{piece.keyword}={piece.value}" if piece.keyword else piece.value)
        rendered = re.sub(r" {2,}", " ", "".join(text)).rstrip().replace(" :", ":")
        return "    " * line.indent + rendered


def _template(lines: list[Line]) -> tuple:
    """A body's structure: its text with the constants left out (instances of one block share it)."""
    return tuple((line.indent, tuple(piece_shape(p) for p in line.pieces)) for line in lines)


def _without_shortcut(template: tuple) -> tuple | None:
    at = next((i for i, (_, pieces) in enumerate(template) if pieces == ("shortcut:",)), None)
    if at is None:
        return None
    end = at + 1
    while end < len(template) and template[end][0] > template[at][0]:
        end += 1
    section = template[at + 1 : end]
    if any(isinstance(piece, tuple) and piece[0] == "call" for _, pieces in section for piece in pieces):
        return None  # a shortcut that calls blocks keeps its own block
    return template[:at] + template[end:]


def _shortcut_variants(a: tuple, b: tuple) -> bool:
    """True when one body is the other plus a `shortcut:` (ResNet's first block of a stage)."""
    return _without_shortcut(a) == b or _without_shortcut(b) == a
