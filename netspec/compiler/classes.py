"""IR graph → class model: scopes, their members, and one class per block definition.

A scope (block instance, named pipeline, branch, shortcut) holds members: layers and
child scopes, in graph order. The instances of one block definition become one class.
Values that differ between instances become constructor parameters named after the
block's arguments (`planes`, `4 * planes`) or the input channels (`in_channels`); a
member that only some instances have (a projection shortcut) becomes optional, built
when a flag is true and `None` otherwise, as torchvision's `downsample`; a run of
members made by one `repeat` becomes a loop. A scope that is not a block and is a plain
chain becomes an inline `nn.Sequential`. Nothing here renders text (codegen.py does).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any, Union

from netspec.compiler.names import RESERVED, Namespace, camel
from netspec.compiler.spec_exprs import IN_CHANNELS, Candidate, block_definition, conditions, contains, values
from netspec.errors import Span
from netspec.ir.graph import Frame, Graph, Node
from netspec.ir.order import may_run_early
from netspec.ops import all_ops
from netspec.ops.base import Constructor, Expr, render_value

Ref = tuple  # ("in", k) or ("out", unit index, output index)
MULTIPLES = (2, 3, 4, 6, 8)
LOOP_KEY = re.compile(r"([A-Za-z_][A-Za-z0-9_]*?|)(\d+)")


@dataclass(eq=False)
class Scope:
    """One scope of the network and what it holds, in graph order."""

    frame: Frame | None
    path: str
    items: list = field(default_factory=list)  # Node | Scope
    inputs: list[str] = field(default_factory=list)  # node names read from outside, first read first
    outputs: list[str] = field(default_factory=list)  # node names read outside, or network outputs

    def nodes(self):
        for item in self.items:
            if isinstance(item, Scope):
                yield from item.nodes()
            else:
                yield item

    def scopes(self):
        """Every scope below this one, children before parents (post-order)."""
        for item in self.items:
            if isinstance(item, Scope):
                yield from item.scopes()
                yield item


@dataclass(eq=False)
class Member:
    """One child module of a scope instance: a layer, or a child scope."""

    key: str  # the module path segment (the spec's name)
    build: Constructor
    reads: tuple[str, ...]
    writes: tuple[str, ...]
    span: Span
    node: Node | None = None
    child: Scope | None = None


@dataclass(eq=False)
class Loop:
    """Members made by one `repeat`: keys `prefix{start}`, `prefix{start + 1}`, ..., each reading the previous."""

    prefix: str
    start: int
    members: list[Member]
    first: list[Any]  # leaf values of the first iteration
    step: list[Any]  # per leaf: the increase per iteration (0 for values that do not change)

    @property
    def reads(self) -> tuple[str, ...]:
        return self.members[0].reads

    @property
    def writes(self) -> tuple[str, ...]:
        return self.members[-1].writes


Unit = Union[Member, Loop]


@dataclass
class Entry:
    """One member of a class, as the class builds it: constructor leaves are literals or `Expr`s."""

    key: str  # member key, or the loop's key prefix
    kind: str  # "layer", "scope" or "loop"
    build: Constructor
    reads: tuple[Ref, ...]
    writes: int
    span: Span
    node: Node | None = None  # a representative layer, for the call syntax of its op
    flag: str | None = None  # the parameter that switches an optional member on
    loop_start: int = 0
    loop_stop: str = ""  # source of range()'s stop
    loop_index: str | None = None  # the iteration variable
    loop_numeric: bool = False  # members numbered 0, 1, ... (no key prefix)
    loop_uses_index: bool = False  # do the constructor's values read the iteration variable?
    training_only: bool = False  # the network's class runs it only in training mode (auxiliary heads)
    optional_items: dict[int, str] = field(default_factory=dict)  # nn.Sequential item → condition it is built under
    items_variable: str = ""  # the list an nn.Sequential with optional items is built from
    optional_outputs: tuple[bool, ...] = ()  # a child class's outputs that are None in eval
    early: bool = False  # training-only, and runs as soon as what it reads exists (`netspec.ir.order`)


@dataclass
class ClassDef:
    """One generated class: its members, parameters and the scopes it is used for."""

    name: str
    base: str  # "nn.Module" or "nn.Sequential"
    entries: list[Entry]
    params: list[str]  # constructor parameters, flags last
    flags: list[str]
    inputs: int
    outputs: tuple[Ref, ...]
    instances: list[Scope]
    block: str | None
    definition: Span
    block_args: list[tuple[str, Any]]  # the block's arguments: a value when every instance has it, else None
    is_root: bool = False
    training_outputs: tuple[bool, ...] = ()  # the network's class: which outputs are returned in training only

    @property
    def optional_outputs(self) -> tuple[bool, ...]:
        """Per output: computed only in training (None in eval), under a guard in this class or a child's."""
        return tuple(
            ref[0] == "out" and (self.entries[ref[1]].training_only or
                                 (self.entries[ref[1]].optional_outputs or (False,) * (ref[2] + 1))[ref[2]])
            for ref in self.outputs
        )


@dataclass
class Layout:
    """A scope instance seen as a sequence of units with references between them."""

    scope: Scope
    units: list[Unit]
    refs: list[tuple[Ref, ...]]
    outputs: tuple[Ref, ...]

    def signature(self) -> tuple:
        return (tuple(unit_signature(u) for u in self.units), tuple(self.refs), self.outputs, len(self.scope.inputs))

    def is_chain(self) -> bool:
        if len(self.scope.inputs) != 1 or len(self.outputs) != 1 or not self.units:
            return False
        readers: dict[Ref, int] = {}
        for refs in self.refs:
            for r in refs:
                readers[r] = readers.get(r, 0) + 1
        for j, (unit, refs) in enumerate(zip(self.units, self.refs)):
            expected = ("in", 0) if j == 0 else ("out", j - 1, 0)
            if refs != (expected,) or len(unit.writes) != 1 or readers.get(expected) != 1:
                return False
        return self.outputs == (("out", len(self.units) - 1, 0),)


# ---- values as data: leaves, skeletons, substitution -------------------------------------


def leaves(value: Any) -> list[Any]:
    """Every parameterizable value of a constructor, depth first; strings are structure, not values."""
    if isinstance(value, Constructor):
        return [leaf for v in (*value.args, *(v for _, v in value.kwargs)) for leaf in leaves(v)]
    if isinstance(value, (tuple, list)) and any(isinstance(v, (Constructor, tuple, list, str)) for v in value) and _nested(value):
        return [leaf for v in value for leaf in leaves(v)]
    if isinstance(value, str):
        return []
    return [value]


def _nested(value) -> bool:
    return any(isinstance(v, Constructor) or (isinstance(v, (tuple, list)) and _nested(v)) for v in value)


def skeleton(value: Any) -> Any:
    if isinstance(value, Constructor):
        return ("C", value.callee, tuple(skeleton(a) for a in value.args), tuple((k, skeleton(v)) for k, v in value.kwargs))
    if isinstance(value, (tuple, list)) and _nested(value):
        return ("T", tuple(skeleton(v) for v in value))
    if isinstance(value, str):
        return ("S", value)
    return "_"


def substitute(value: Any, replacements) -> Any:
    """The constructor with its leaves replaced, in `leaves` order, from an iterator."""
    if isinstance(value, Constructor):
        args = tuple(substitute(v, replacements) for v in value.args)
        kwargs = tuple((k, substitute(v, replacements)) for k, v in value.kwargs)
        return replace(value, args=args, kwargs=kwargs)
    if isinstance(value, (tuple, list)) and _nested(value):
        return type(value)(substitute(v, replacements) for v in value)
    if isinstance(value, str):
        return value
    return next(replacements)


def leaf_labels(value: Any, prefix: str = "") -> list[str]:
    """A readable label per leaf (the keyword it is passed as), for parameters nothing else names."""
    if isinstance(value, Constructor):
        labels = []
        for k, v in enumerate(value.args):
            labels += leaf_labels(v, prefix or f"arg{k + 1}")
        for name, v in value.kwargs:
            labels += leaf_labels(v, name)
        return labels
    if isinstance(value, (tuple, list)) and _nested(value):
        return [label for v in value for label in leaf_labels(v, prefix)]
    return [] if isinstance(value, str) else [prefix or "value"]


def unit_signature(unit: Unit) -> tuple:
    if isinstance(unit, Loop):
        return ("loop", unit.prefix, unit.start, skeleton(unit.members[0].build))
    kind = "layer" if unit.node is not None else "scope"
    return (kind, unit.key, skeleton(unit.build), len(unit.writes), unit.node.op if unit.node else None)


def same_value(a: Any, b: Any) -> bool:
    """Equal and of the same kind (True is not 1); a per-axis tuple equals its compact int."""
    if isinstance(b, tuple) and b and len(set(b)) == 1 and not isinstance(a, tuple):
        b = b[0]
    return type(a) is type(b) and a == b


# ---- the builder ------------------------------------------------------------------------------


class ClassModel:
    """Every class of the generated file, children before parents, and the root class's name."""

    def __init__(self, graph: Graph, inplace: bool = True):
        self.graph = graph
        # in-place forms exactly where the liveness rule allows them (or the spec asks)
        self.inplace = set(graph.liveness.inplace) if inplace else set()
        self.training_nodes = graph.training_only
        self.outputs = {o.node for o in graph.outputs}
        self.file_names = Namespace()
        self.root_name = self.file_names.create(camel(graph.name))  # reserved first: it is the API
        self.helpers: dict[str, str] = {}
        for op in sorted({n.op for n in graph.layers()}):
            for helper in re.findall(r"^class (\w+)", all_ops()[op].helper, re.M):
                self.helpers[helper] = self.file_names.create(helper)
        self.classes: list[ClassDef] = []
        self.calls: dict[int, Constructor] = {}  # id(scope) → how its parent builds it
        self.class_by_name: dict[str, ClassDef] = {}
        self.sequentials: dict[int, Layout] = {}  # id(scope) → the items of a scope built as nn.Sequential(...)
        self.root = self._scopes()

    # ---- scope tree
    def _scopes(self) -> Scope:
        root = Scope(None, "")
        found: dict[tuple[str, ...], Scope] = {(): root}
        for node in self.graph.layers():
            parent, names = root, ()
            for frame in node.scope:
                names = names + (frame.name,)
                if names not in found:
                    found[names] = Scope(frame, ".".join(names))
                    parent.items.append(found[names])
                parent = found[names]
            parent.items.append(node)
        consumers = {n.name: self.graph.consumers(n.name) for n in self.graph.nodes}
        for scope in root.scopes():
            inside = {n.name for n in scope.nodes()}
            for node in scope.nodes():
                for i in node.inputs:
                    if i not in inside and i not in scope.inputs:
                        scope.inputs.append(i)
            scope.outputs = [
                n.name for n in scope.nodes() if n.name in self.outputs or any(c not in inside for c in consumers[n.name])
            ]
        root.inputs = [self.graph.input.name]
        root.outputs = [o.node for o in self.graph.outputs]
        return root

    def build(self) -> list[ClassDef]:
        pending = list(self.root.scopes())
        keys: dict[tuple, list[Scope]] = {}
        for scope in pending:
            keys.setdefault(self._key(scope), []).append(scope)
        done: set[int] = set()
        while pending:
            progressed = False
            for scope in pending:
                if id(scope) in done:
                    continue
                key = self._key(scope)
                group = keys[key] if key[0] != "inline" else [scope]
                if not all(self._children_done(s, done) for s in group):
                    continue
                if key[0] == "inline":
                    layout = self._layout(scope, loops=False)
                    if layout.is_chain():
                        self.calls[id(scope)] = self._sequential(layout)
                        self.sequentials[id(scope)] = layout
                    else:
                        self._make_classes([scope], block=None)
                else:
                    self._make_classes(group, block=key[1] if key[0] == "block" else None)
                done.update(id(s) for s in group)
                progressed = True
            assert progressed, "scope dependencies do not resolve"
            pending = [s for s in pending if id(s) not in done]
        self._make_classes([self.root], block=None, is_root=True)
        return self.classes

    def _key(self, scope: Scope) -> tuple:
        if scope.frame.block is not None:
            return ("block", scope.frame.block)
        return ("inline", scope.path)

    def _children_done(self, scope: Scope, done: set[int]) -> bool:
        return all(id(s) in done for s in scope.scopes())

    # ---- members and layouts
    def _members(self, scope: Scope) -> list[Member]:
        members = []
        for item in scope.items:
            if isinstance(item, Scope):
                members.append(Member(item.frame.name, self.calls[id(item)], tuple(item.inputs), tuple(item.outputs), item.frame.span, child=item))
            else:
                shapes = self.graph.input_shapes(item)
                op = item.opdef
                build = op.inplace_module(item.attrs, shapes) if item.name in self.inplace else op.module(item.attrs, shapes)
                build = self._rename_helpers(build)
                members.append(Member(item.local_name, build, tuple(item.inputs), (item.name,), item.span, node=item))
        return members

    def _rename_helpers(self, build: Constructor) -> Constructor:
        args = tuple(self._rename_helpers(a) if isinstance(a, Constructor) else a for a in build.args)
        return replace(build, callee=self.helpers.get(build.callee, build.callee), args=args)

    def _layout(self, scope: Scope, loops: bool) -> Layout:
        members = self._members(scope)
        units: list[Unit] = self._loops(members) if loops else list(members)
        producer: dict[str, Ref] = {name: ("in", k) for k, name in enumerate(scope.inputs)}
        refs = []
        for j, unit in enumerate(units):
            refs.append(tuple(producer[r] for r in unit.reads))
            for o, name in enumerate(unit.writes):
                producer[name] = ("out", j, o)
        return Layout(scope, units, refs, tuple(producer[o] for o in scope.outputs))

    def _loops(self, members: list[Member]) -> list[Unit]:
        units: list[Unit] = []
        j = 0
        while j < len(members):
            run = [members[j]]
            while j + len(run) < len(members) and self._continues(run, members[j + len(run)]):
                run.append(members[j + len(run)])
            loop = self._as_loop(run) if len(run) > 1 else None
            if loop is None:
                units.append(members[j])
                j += 1
            else:
                units.append(loop)
                j += len(run)
        return units

    def _continues(self, run: list[Member], member: Member) -> bool:
        # Only runs of block instances become loops. A `repeat` of plain layers (VGG's
        # `repeat convs: conv; relu`) stays unrolled on purpose: its iterations differ (the first
        # conv takes the previous stage's channels), so a loop needs an `in_channels` variable
        # threaded through a cfg table as torchvision's make_layers does, and in a flat numbered
        # nn.Sequential the unrolled lines are the module paths (`features.17` is the 18th line,
        # with the spec line beside it), which a loop would leave to arithmetic. VGG-16's
        # features is 31 one-line appends; a cfg loop saves lines but hides which index is which.
        last = run[-1]
        if member.child is None or last.child is None or member.child.frame.block is None:
            return False
        same_call = member.child.frame.span == last.child.frame.span and member.build.callee == last.build.callee
        chained = member.reads == last.writes and len(last.writes) == 1 and len(member.writes) == 1
        inside = {n.name for n in member.child.nodes()}
        only_next = set(self.graph.consumers(last.writes[0])) <= inside and last.writes[0] not in self.outputs
        return same_call and chained and only_next and skeleton(member.build) == skeleton(last.build)

    def _as_loop(self, run: list[Member]) -> Loop | None:
        matches = [LOOP_KEY.fullmatch(m.key) for m in run]
        if not all(matches) or len({m.group(1) for m in matches}) != 1:
            return None
        numbers = [int(m.group(2)) for m in matches]
        if numbers != list(range(numbers[0], numbers[0] + len(run))) or any(m.group(2) != str(int(m.group(2))) for m in matches):
            return None
        values = [leaves(m.build) for m in run]
        first, step = values[0], []
        for p, v0 in enumerate(first):
            column = [v[p] for v in values]
            if all(isinstance(v, int) and not isinstance(v, bool) for v in column):
                d = column[1] - column[0]
                if any(v != v0 + t * d for t, v in enumerate(column)):
                    return None
                step.append(d)
            elif all(same_value(v, v0) for v in column):
                step.append(0)
            else:
                return None
        return Loop(matches[0].group(1), numbers[0], run, first, step)

    def _sequential(self, layout: Layout) -> Constructor:
        builds = [u.build for u in layout.units]
        keys = [u.key for u in layout.units]
        if keys == [str(k) for k in range(len(keys))]:
            return Constructor("nn.Sequential", tuple(builds))
        return Constructor("nn.Sequential", (Constructor("OrderedDict", ([(k, b) for k, b in zip(keys, builds)],)),))

    # ---- classes
    def _make_classes(self, scopes: list[Scope], block: str | None, is_root: bool = False) -> None:
        layouts = [self._layout(s, loops=not is_root) for s in scopes]
        while layouts:
            merged, rest = self._merge(layouts)
            full = merged[0][0]
            has_loops = any(isinstance(u, Loop) for u in full.units)
            optional = any(
                m[0] == "none" and not isinstance(full.units[j], Loop) for _, mapping in merged for j, m in enumerate(mapping)
            )
            numeric = all(isinstance(u, Member) and u.key.isdigit() for u in full.units)
            # optional members of a numbered chain are appended under their condition
            chain = not is_root and (not optional or numeric) and all(layout.is_chain() for layout, _ in merged)
            if has_loops and not chain:
                # a loop needs nn.Sequential's forward; anywhere else its members stay unrolled
                layouts = [self._layout(layout.scope, loops=False) for layout, _ in merged] + rest
                continue
            self._emit(merged, block, is_root, chain and (has_loops or numeric))
            layouts = rest

    def _merge(self, layouts: list[Layout]):
        """The largest layout, and every other layout that aligns with it (missing optional members
        or loop iterations): ([(layout, mapping onto the largest), ...], the layouts that do not)."""
        full = max(layouts, key=lambda l: (len(l.units), sum(self._size(u) for u in l.units)))
        merged: list = [(full, [("same", j, None) for j in range(len(full.units))])]
        rest = []
        for layout in layouts:
            if layout is full:
                continue
            mapping = self._align(full, layout)
            if mapping is None:
                rest.append(layout)
            else:
                merged.append((layout, mapping))
        return merged, rest

    def _size(self, unit: Unit) -> int:
        """How many modules a unit builds, counting the items of an nn.Sequential it is."""
        if isinstance(unit, Loop):
            return len(unit.members)
        inner = self.sequentials.get(id(unit.child)) if unit.child is not None else None
        return len(inner.units) if inner is not None else 1

    def _align(self, full: Layout, other: Layout):
        """How `other`'s units map onto `full`'s: ("same", g, items) for a unit both have (`items`
        maps the items of an nn.Sequential that lacks some of full's, else None), ("one", g, None)
        for a loop `other` runs once, ("none", None, None) for a unit `other` lacks. A missing unit
        passes its first input through: a shortcut, a loop run zero times, a residual add."""
        if len(full.scope.inputs) != len(other.scope.inputs):
            return None
        # items numbered 0, 1, ... by position (a `sequential block`): an item that some instances
        # lack shifts the numbers after it, so items pair by the statement that made them
        numbered = _numbered_chain(full) and _numbered_chain(other)

        def same(unit: Unit, candidate: Unit) -> bool:
            if numbered:
                return unit.span == candidate.span and unit_signature(replace(unit, key="")) == unit_signature(replace(candidate, key=""))
            return unit_signature(candidate) == unit_signature(unit)

        mapping, g = [], 0
        for unit in full.units:
            candidate = other.units[g] if g < len(other.units) else None
            items = self._align_items(unit, candidate, numbered) if candidate is not None else None
            if candidate is not None and same(unit, candidate):
                mapping.append(("same", g, None))
                g += 1
            elif items is not None:
                mapping.append(("same", g, items))
                g += 1
            elif isinstance(unit, Loop) and isinstance(candidate, Member) and candidate.child is not None and \
                    candidate.key == f"{unit.prefix}{unit.start}" and skeleton(candidate.build) == skeleton(unit.members[0].build) and \
                    candidate.child.frame.span == unit.members[0].child.frame.span:
                mapping.append(("one", g, None))
                g += 1
            elif isinstance(unit, Loop) or (len(unit.writes) == 1 and (len(unit.reads) == 1 if unit.node is None else unit.reads)):
                mapping.append(("none", None, None))
            else:
                return None
        if g != len(other.units):
            return None

        def through(ref: Ref) -> Ref:
            while ref[0] == "out" and mapping[ref[1]][0] == "none":
                ref = full.refs[ref[1]][0]
            return ref

        where = {m[1]: j for j, m in enumerate(mapping) if m[0] != "none"}

        def translated(ref: Ref) -> Ref:
            return ref if ref[0] == "in" else ("out", where[ref[1]], ref[2])

        for j, m in enumerate(mapping):
            if m[0] != "none" and tuple(through(r) for r in full.refs[j]) != tuple(translated(r) for r in other.refs[m[1]]):
                return None
        if tuple(through(r) for r in full.outputs) != tuple(translated(r) for r in other.outputs):
            return None
        return mapping

    def _align_items(self, unit: Unit, other: Unit, numbered: bool = False) -> list[int | None] | None:
        """For two instances of one `sequential NAME:` scope built as nn.Sequential(...) from items
        numbered 0, 1, ...: which of `unit`'s items `other` has (its index) or lacks (None), pairing
        items made by the same statement; None when `other` is not `unit` minus some items."""
        if not (isinstance(unit, Member) and isinstance(other, Member) and unit.child is not None and other.child is not None):
            return None
        mine, theirs = self.sequentials.get(id(unit.child)), self.sequentials.get(id(other.child))
        if mine is None or theirs is None or (unit.span != other.span if numbered else unit.key != other.key):
            return None
        if any(not isinstance(u, Member) or not u.key.isdigit() for u in (*mine.units, *theirs.units)):
            return None
        items, g = [], 0
        for item in mine.units:
            there = theirs.units[g] if g < len(theirs.units) else None
            if there is not None and there.span == item.span and unit_signature(replace(there, key="")) == unit_signature(replace(item, key="")):
                items.append(g)
                g += 1
            else:
                items.append(None)
        return items if g == len(theirs.units) else None

    def _emit(self, merged: list, block: str | None, is_root: bool, sequential: bool) -> None:
        full: Layout = merged[0][0]
        scopes = [layout.scope for layout, _ in merged]
        frame = full.scope.frame
        name = self.root_name if is_root else self.file_names.create(camel(block or re.sub(r"\d+$", "", frame.name) or "Group"))
        params = Namespace(RESERVED, parent=self.file_names)
        arg_order = [k for k, _ in frame.args] if frame is not None else []
        args = [dict(s.frame.args) if s.frame is not None else {} for s in scopes]
        in_shapes = [self.graph.node(s.inputs[0]).shape if s.inputs and self.graph.node(s.inputs[0]).shape else None for s in scopes]
        in_channels = [shape[0] if shape else None for shape in in_shapes]
        definition_ast = block_definition(frame.definition) if frame is not None and block is not None else None
        namer = ColumnNamer(params, arg_order, args, in_channels, in_shapes, definition_ast)

        def unit_of(layout_mapping, j):
            layout, mapping = layout_mapping
            kind, g, _ = mapping[j]
            return kind, (layout.units[g] if g is not None else None)

        def item_leaves(unit: Member, layout_mapping, j) -> list:
            """An instance's leaves of nn.Sequential `unit`, item by item; None for the items it lacks."""
            layout, mapping = layout_mapping
            _, g, items = mapping[j]
            if g is None:
                return [None] * len(leaves(unit.build))
            if items is None:
                return leaves(layout.units[g].build)
            mine = self.sequentials[id(unit.child)].units
            theirs = self.sequentials[id(layout.units[g].child)].units
            return [leaf for k, item in enumerate(items)
                    for leaf in (leaves(theirs[item].build) if item is not None else [None] * len(leaves(mine[k].build)))]

        entries: list[Entry] = []
        loop_index = params.create("i") if any(isinstance(u, Loop) for u in full.units) else None
        for j, unit in enumerate(full.units):
            present = [unit_of(lm, j) for lm in merged]
            if isinstance(unit, Loop):
                entries.append(self._loop_entry(unit, present, namer, loop_index, full.refs[j]))
                continue
            columns = list(zip(*[item_leaves(unit, lm, j) for lm in merged]))
            labels = leaf_labels(unit.build)
            exprs = iter([namer.name(list(col), f"{unit.key}_{label}", unit.span) for col, label in zip(columns, labels)])
            build = substitute(unit.build, exprs)
            flag = None
            if any(u is None for _, u in present):
                flag = namer.flag(_flag_name(unit), [u is not None for _, u in present], unit.span)
            optional_items, variable = {}, ""
            if any(lm[1][j][2] is not None for lm in merged):
                for k, item in enumerate(self.sequentials[id(unit.child)].units):
                    # an instance without the whole scope does not say whether the item is there
                    has = [None if lm[1][j][1] is None else lm[1][j][2] is None or lm[1][j][2][k] is not None for lm in merged]
                    if not all(h for h in has if h is not None):
                        optional_items[k] = namer.flag(f"{unit.key}_{_flag_name(item)}", has, item.span)
                variable = params.create("layers")
            entries.append(Entry(unit.key, "layer" if unit.node else "scope", build, full.refs[j], len(unit.writes),
                                 unit.span, unit.node, flag, optional_items=optional_items, items_variable=variable))
        fixed = [
            (k, v if k not in namer.used_args and all(same_value(a.get(k), v) for a in args) else None)
            for k, v in (frame.args if frame is not None else ())
        ]
        definition = frame.definition if frame is not None and frame.definition else (frame.span if frame else self.graph.span)
        # a scope that only training-time outputs need is guarded where it is called, as a whole
        whole = not is_root and all(n.name in self.training_nodes for s in scopes for n in s.nodes())
        for j, entry in enumerate(entries):
            # run only in training what only training-time outputs need, in every instance; a child
            # class's outputs computed that way are None in eval
            units = [u for _, u in (unit_of(lm, j) for lm in merged) if isinstance(u, Member)]
            nodes = [n for u in units for n in ([u.node] if u.node is not None else u.child.nodes())]
            entry.training_only = not sequential and not whole and bool(nodes) and not isinstance(full.units[j], Loop) and \
                all(n.name in self.training_nodes for n in nodes)
            entry.early = entry.training_only and may_run_early(self.graph, nodes)
            child = self.class_by_name.get(entry.build.callee) if entry.kind == "scope" else None
            entry.optional_outputs = child.optional_outputs if child is not None else ()
        training_outputs = tuple(o.training_only for o in self.graph.outputs) if is_root else ()
        cls = ClassDef(name, "nn.Sequential" if sequential else "nn.Module", entries, namer.params(), namer.flags(),
                       len(full.scope.inputs), full.outputs, scopes, block, definition, fixed, is_root, training_outputs)
        self.classes.append(cls)
        self.class_by_name[name] = cls
        keys = namer.param_keys()
        positional = keys[: 2 if keys[:1] == ["in_channels"] else 1]  # the rest are passed by name
        for k, scope in enumerate(scopes):
            args = tuple(namer.value(p, k) for p in positional)
            kwargs = tuple((namer.ident[p], namer.value(p, k)) for p in keys[len(positional):])
            flags = tuple((namer.ident[f"flag:{f}"], namer.flag_values[f][k]) for f in namer.flag_keys())
            self.calls[id(scope)] = Constructor(name, args, kwargs + flags, tuple((flag, False) for flag, _ in flags))

    def _loop_entry(self, unit: Loop, present, namer: "ColumnNamer", index: str, refs) -> Entry:
        firsts, steps, counts = [], [], []
        for kind, u in present:
            if u is None:
                firsts.append(None), steps.append(None), counts.append(0)
            elif isinstance(u, Loop):
                firsts.append(u.first), steps.append(u.step), counts.append(len(u.members))
            else:
                firsts.append(leaves(u.build)), steps.append(None), counts.append(1)
        labels = leaf_labels(unit.members[0].build)
        exprs, uses_index = [], False
        k = index if unit.start == 0 else f"({index} - {unit.start})"
        for p, label in enumerate(labels):
            base = namer.name([f[p] if f else None for f in firsts], f"{unit.prefix}_{label}")
            step_column = [s[p] if s else None for s in steps]
            if all(s == 0 or s is None for s in step_column):
                exprs.append(base)
                continue
            step = _source(namer.name(step_column, f"{unit.prefix}_{label}_step"))
            uses_index = True
            times = k if step == "1" else f"{k} * {step}"
            exprs.append(Expr(f"{_source(base)} + {times}"))
        build = substitute(unit.members[0].build, iter(exprs))
        count = namer.count(counts, f"{unit.prefix or 'layers'}_count")
        stop = count.plus(unit.start)
        numeric = unit.prefix == ""
        return Entry(unit.prefix, "loop", build, refs, 1, unit.members[0].span, None, None, unit.start, stop,
                     index, numeric, uses_index)


def _numbered_chain(layout: Layout) -> bool:
    """A chain whose members are numbered 0, 1, 2, ... in order, as nn.Sequential numbers them."""
    return layout.is_chain() and [u.key if isinstance(u, Member) else None for u in layout.units] == \
        [str(k) for k in range(len(layout.units))]


def _flag_name(member: Member) -> str:
    """What the parameter switching an optional member on is called: its name, or for a numbered
    item its op or block (`batchnorm`)."""
    if not member.key.isdigit():
        return member.key
    if member.node is not None:
        return member.node.op
    return member.child.frame.block or member.child.frame.name


class Count:
    """A loop count: a literal, or a block argument plus an offset (`blocks - 1`)."""

    def __init__(self, literal: int | None = None, name: str | None = None, offset: int = 0):
        self.literal, self.name, self.offset = literal, name, offset

    def plus(self, start: int) -> str:
        if self.name is None:
            return str(self.literal + start)
        total = self.offset + start
        return self.name if total == 0 else f"{self.name} + {total}" if total > 0 else f"{self.name} - {-total}"


class ColumnNamer:
    """Names each column of values (one value per instance) as a literal or a parameter expression."""

    def __init__(self, namespace: Namespace, arg_order: list[str], args: list[dict], in_channels: list,
                 in_shapes: list | None = None, definition=None):
        self.namespace = namespace
        self.arg_order = arg_order
        self.args = args
        self.in_channels = in_channels
        self.in_shapes = in_shapes or [None] * len(args)
        # the spec's own expressions and conditions, tried before any guess
        self.expressions: list[Candidate] = values(definition) if definition is not None else []
        self.conditions: list[Candidate] = conditions(definition) if definition is not None else []
        self.ident: dict[str, str] = {}  # semantic key → identifier
        self.per_instance: dict[str, list] = {}
        self.flag_values: dict[str, list[bool]] = {}
        self.used_args: set[str] = set()
        self._order: list[str] = []

    def _param(self, key: str, values: list, candidate: str | None = None) -> str:
        if key not in self.ident:
            self.ident[key] = self.namespace.create(candidate or key)
            self.per_instance[key] = values
            self._order.append(key)
        return self.ident[key]

    def _int_args(self):
        for arg in self.arg_order:
            column = [a.get(arg) for a in self.args]
            if all(isinstance(v, int) and not isinstance(v, bool) for v in column):
                yield arg, column

    def name(self, column: list, fallback: str, span: Span | None = None) -> Any:
        """The value itself when every instance has the same, else an `Expr` over the parameters."""
        present = [(i, v) for i, v in enumerate(column) if v is not None]
        if not present:
            return None
        if all(same_value(v, present[0][1]) for _, v in present):
            return present[0][1]
        for arg in self.arg_order:
            if all(same_value(v, self.args[i].get(arg)) for i, v in present):
                return Expr(self._arg(arg))
        if all(v == self.in_channels[i] and isinstance(v, int) for i, v in present):
            return Expr(self._param("in_channels", self.in_channels))
        # the expressions written in the member's own statement first; channels flow from others
        for candidate in sorted(self.expressions, key=lambda c: span is None or not contains(c.around, span)):
            if all(same_value(candidate.value(self.args[i], self.in_shapes[i]), v) for i, v in present):
                return Expr(candidate.python(self._identifier))
        bases = [*self._int_args()]
        if all(isinstance(c, int) for c in self.in_channels):
            bases.append(("in_channels", self.in_channels))
        for arg, arg_column in bases:
            name = (lambda: self._param("in_channels", self.in_channels)) if arg == "in_channels" else (lambda: self._arg(arg))
            for m in MULTIPLES:
                if all(isinstance(v, int) and not isinstance(v, bool) and v == m * arg_column[i] for i, v in present):
                    return Expr(f"{m} * {name()}")
                if all(isinstance(v, int) and not isinstance(v, bool) and v * m == arg_column[i] for i, v in present):
                    return Expr(f"{name()} // {m}")
        values = [v for v in column]
        return Expr(self._param(f"~{fallback}", values, fallback))

    def _arg(self, arg: str) -> str:
        self.used_args.add(arg)
        values = [a.get(arg) for a in self.args]
        values = [v[0] if isinstance(v, tuple) and v and len(set(v)) == 1 else v for v in values]
        return self._param(f"arg:{arg}", values, arg)

    def count(self, counts: list[int], fallback: str) -> Count:
        if len(set(counts)) == 1:
            return Count(counts[0])
        for arg, column in self._int_args():
            for offset in (0, -1, 1, -2):
                if all(c == v + offset for c, v in zip(counts, column)):
                    return Count(name=self._arg(arg), offset=offset)
        return Count(name=self._param(f"~{fallback}", counts, fallback))

    def _identifier(self, name: str) -> str:
        """The Python identifier of a name a spec expression reads (making it a parameter)."""
        return self._param("in_channels", self.in_channels) if name == IN_CHANNELS else self._arg(name)

    def flag(self, key: str, values: list[bool | None], span: Span) -> str:
        """The condition a member is built under: the condition of a statement around it, written over
        the parameters, when it gives every instance's presence (None: either will do), else a
        boolean parameter named after the member."""
        # only a condition of a statement around the member: another that happens to give the
        # same presence for these instances would say something the spec does not
        for candidate in sorted((c for c in self.conditions if contains(c.around, span)), key=lambda c: len(c.names)):
            got = [candidate.value(a, shape) for a, shape in zip(self.args, self.in_shapes)]
            if all(isinstance(v, bool) and (want is None or v == want) for v, want in zip(got, values)):
                return candidate.python(self._identifier)
        while key in self.flag_values:  # two optional members named alike (two batchnorms)
            key += "_"
        self.flag_values[key] = [bool(v) for v in values]
        self.ident[f"flag:{key}"] = self.namespace.create(key)
        return self.ident[f"flag:{key}"]

    def param_keys(self) -> list[str]:
        first = [k for k in self._order if k == "in_channels"]
        args = [f"arg:{a}" for a in self.arg_order if f"arg:{a}" in self.ident]
        rest = [k for k in self._order if k not in first and k not in args]
        return first + args + rest

    def params(self) -> list[str]:
        return [self.ident[k] for k in self.param_keys()]

    def flag_keys(self) -> list[str]:
        return list(self.flag_values)

    def flags(self) -> list[str]:
        return [self.ident[f"flag:{k}"] for k in self.flag_values]

    def value(self, key: str, instance: int) -> Any:
        return self.per_instance[key][instance]


def _source(value: Any) -> str:
    return render_value(value)
