"""Elaboration's memory of block instances: an instance equal to an earlier one is replayed, not re-elaborated.

A block instance's layers depend only on the block, its argument values, the shape coming
in, and the context that can change what its body does (the blocks calling it, how deep
statements nest, how many times enclosing repeats run it). ResNet-50's 16 bottlenecks are
8 distinct instances; the blocks of a `repeat` after the first are all equal. When an
instance with the same key was elaborated before, in the same run and without any
diagnostic, its recorded layers are appended again under the new instance's path: the same
ops, attributes, shapes and source spans, names re-prefixed, inputs re-wired to the new
input, and the same `base#k` placeholders issued so that final names come out as if the
body had run. When that cannot be exact (a limit would be reached, or the new path has
placeholders already), the body simply runs.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from netspec.ir.graph import Frame, Node
from netspec.ir.values import Tensor
from netspec.ops.base import typed_key
from netspec.syntax import ast

if TYPE_CHECKING:
    from netspec.ir.elaborate import Elaborator


@dataclass(frozen=True, slots=True)
class Mark:
    """Where the elaborator stood when an instance began."""

    nodes: int
    issued: int
    work: int


@dataclass(frozen=True, slots=True)
class Recorded:
    """One elaborated instance, relative to its own path (`prefix`) and input (`start`)."""

    prefix: str  # the instance's provisional path when it was recorded, e.g. "layer1#1.bottleneck#2"
    start: str  # the node its body read as `in`
    nodes: tuple[Node, ...]
    depth: int  # how many frames of each node's scope belong to the caller and the instance itself
    own: Frame  # the instance's own frame, the last of those
    counters: tuple[tuple[str, str, int, int], ...]  # (path below the prefix, base, count before, count after)
    work: int  # statements run
    result: str | None  # the result's node below the prefix (None: the input itself)
    result_shape: tuple[int, ...]
    result_span: Any


_SEEN: Any = object()  # a key met once: the next instance with it is recorded


class InstanceCache:
    """Recorded instances of one elaboration run, by key."""

    def __init__(self) -> None:
        self.recorded: dict[Any, Recorded] = {}  # or _SEEN
        self.replayable: dict[Any, bool] = {}  # checked at the first replay: most instances are never replayed

    @staticmethod
    def key(block: ast.BlockDef, args: dict[str, Any], start: Tensor, stack: tuple[str, ...], elaborator: Elaborator) -> Any:
        """What the instance's layers depend on, or None when it cannot be keyed."""
        try:
            key = (id(block), typed_key(tuple(args.items())), start.shape, stack, elaborator.nesting, elaborator.repeats)
            hash(key)
        except TypeError:  # an unhashable argument value
            return None
        return key

    def replay(self, key: Any, elaborator: Elaborator, frames: tuple[Frame, ...], start: Tensor) -> Tensor | Mark | None:
        """Append the recorded layers under the path of `frames` and return the result; or, to
        elaborate the body, a Mark when this instance is to be recorded, None when not.

        An instance is recorded the second time its key comes: most networks without repeats
        (GoogLeNet, DenseNet) have few equal instances, and recording each would cost them more
        than replaying the rare equal one saves."""
        from netspec.ir.elaborate import MAX_NODES, MAX_WORK

        recorded = self.recorded.get(key)
        if recorded is None:
            self.recorded[key] = _SEEN
            return None
        if recorded is _SEEN:
            return self.mark(elaborator)
        replayable = self.replayable.get(key)
        if replayable is None:
            replayable = self.replayable[key] = _self_contained(recorded)
        if not replayable:
            return None
        if elaborator.work + recorded.work > MAX_WORK or len(elaborator.nodes) + len(recorded.nodes) > MAX_NODES:
            return None  # the body must run, to stop at the same statement with the same error
        prefix = ".".join([f.name for f in frames])
        counters = elaborator.counters
        for below, base, before, _ in recorded.counters:
            if counters.get((prefix + below, base), 0) != before:
                return None  # the path was used already: numbering would differ
        for below, base, before, after in recorded.counters:
            counters[(prefix + below, base)] = after
            elaborator.issued.extend([(prefix + below, base)] * (after - before))
        elaborator.work += recorded.work
        cut, old_start, new_start = len(recorded.prefix), recorded.start, start.node
        scopes: dict[int, tuple[Frame, ...]] = {}  # nodes of one scope share one frames tuple, as when elaborated
        append = elaborator.nodes.append
        for node in recorded.nodes:
            scope = scopes.get(id(node.scope))
            if scope is None:
                scope = scopes[id(node.scope)] = frames + node.scope[recorded.depth:]
            inputs = tuple([new_start if i == old_start else prefix + i[cut:] for i in node.inputs])
            append(Node(prefix + node.name[cut:], node.op, node.attrs, inputs, node.shape, node.span, scope))
        if recorded.result is None:
            return start
        return Tensor(prefix + recorded.result, recorded.result_shape, recorded.result_span)

    @staticmethod
    def mark(elaborator: Elaborator) -> Mark:
        return Mark(len(elaborator.nodes), len(elaborator.issued), elaborator.work)

    def record(self, key: Any, mark: Mark, elaborator: Elaborator, frames: tuple[Frame, ...], start: Tensor, result: Tensor) -> None:
        """Keep what the instance elaborated since `mark`, if it can be replayed exactly."""
        prefix = ".".join([f.name for f in frames])
        below = prefix + "."
        if result.node != start.node and not result.node.startswith(below):
            return
        issued = Counter(elaborator.issued[mark.issued:])
        counters = []
        for (path, base), count in issued.items():
            if path != prefix and not path.startswith(below):
                return
            after = elaborator.counters[(path, base)]
            counters.append((path[len(prefix):], base, after - count, after))
        self.recorded[key] = Recorded(
            prefix, start.node, tuple(elaborator.nodes[mark.nodes:]), len(frames), frames[-1], tuple(counters),
            elaborator.work - mark.work,
            None if result.node == start.node else result.node[len(prefix):], result.shape, result.span,
        )


def _self_contained(recorded: Recorded) -> bool:
    """Are the recorded layers all under the instance's path and scope, reading only its input
    and each other? (Always expected; an instance that is not is elaborated every time.)"""
    below, depth, own = recorded.prefix + ".", recorded.depth, recorded.own
    made = {n.name for n in recorded.nodes}
    for node in recorded.nodes:
        if not node.name.startswith(below) or len(node.scope) < depth or node.scope[depth - 1] is not own:
            return False
        if any(i != recorded.start and i not in made for i in node.inputs):
            return False
    return recorded.result is None or recorded.prefix + recorded.result in made


__all__ = ["InstanceCache", "Recorded", "Mark"]
