"""Receptive field of every node (Araujo, Norris & Sim, "Computing Receptive Fields of CNNs", Distill 2019).

For each spatial axis of the network input we carry, per node, the paper's three numbers:

- ``size`` (r): how many input pixels one output position depends on;
- ``stride`` (j, the paper's "effective stride"): how far, in input pixels, the field moves
  when the output position moves by one;
- ``start`` (the paper's u, left edge): the input coordinate of the first pixel in the field
  of output position 0. Negative values lie in padding; position i's field is
  ``[start + i·j, start + i·j + r − 1]``.

A sliding window with kernel k, stride s, padding p and dilation d (effective kernel
k' = d·(k − 1) + 1) updates them as ``r += (k' − 1)·j; start −= p·j; j *= s``.
Ops take part through `OpDef.window` (zero-padding is a 1×1 window with padding); ops without
a window (activations, normalization, dropout, channel slicing) keep r, j and start.

Graphs with several paths (residual adds, concatenations): the field of a merge is the
union of its inputs' fields, ``[min start, max end]``, which is the paper's "maximum over
paths" whenever the paths are centred on each other (every symmetric-padding network);
``aligned`` is False when they are not. Effective strides must agree; if they do not the
largest is kept and ``exact`` is False.

Once an output position depends on the whole input (``covers_whole_input``: after global
pooling, flatten + linear, an SE gate multiplied in, ...) every later node does too; the
three numbers still follow the rules above (r may then exceed the input, as in the paper),
so a later strided layer still multiplies the effective stride. Layer/group normalization statistics are ignored, as in the paper.
Upsampling and transposed convolutions make the field non-uniform; we report the widest
window and a fractional stride, with ``exact`` False.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from fractions import Fraction
from typing import Sequence, Union

from netspec.ir.graph import Graph, Node

Number = Union[int, Fraction]


def _norm(x: Number) -> Number:
    """Fractions with denominator 1 become plain ints."""
    if isinstance(x, Fraction) and x.denominator == 1:
        return int(x)
    return x


@dataclass(frozen=True)
class ReceptiveField:
    """The receptive field of one node, per spatial axis of the network input."""

    size: tuple[int, ...]  # r: input pixels seen by one output position
    stride: tuple[Number, ...]  # j: effective stride in input pixels
    start: tuple[Number, ...]  # left edge of output position 0's field (negative = padding)
    covers_whole_input: bool = False  # every output position depends on every input pixel
    aligned: bool = True  # merged paths share a centre
    exact: bool = True  # False after upsampling, transposed convolutions or mismatched strides

    @property
    def center(self) -> tuple[Number, ...]:
        """Centre of output position 0's field (the paper's c₀), in input coordinates."""
        return tuple(_norm(Fraction(s) + Fraction(r - 1, 2)) for s, r in zip(self.start, self.size))

    @property
    def end(self) -> tuple[Number, ...]:
        """Right edge (inclusive) of output position 0's field."""
        return tuple(_norm(s + r - 1) for s, r in zip(self.start, self.size))

    def describe(self) -> str:
        """Short human form: `212`, `7×11`, or `global` (whole input)."""
        if self.covers_whole_input:
            return "global"
        if not self.size:
            return "1"
        text = str(self.size[0]) if len(set(self.size)) == 1 else "×".join(map(str, self.size))
        return text if self.exact else f"≈{text}"

    def as_dict(self) -> dict:
        return {
            "size": list(self.size),
            "stride": [str(j) for j in self.stride] if any(isinstance(j, Fraction) for j in self.stride) else list(self.stride),
            "start": [str(s) if isinstance(s, Fraction) else s for s in self.start],
            "covers_whole_input": self.covers_whole_input,
            "aligned": self.aligned,
            "exact": self.exact,
        }


def receptive_fields(graph: Graph) -> dict[str, ReceptiveField]:
    """The receptive field of every node of `graph`, keyed by node name (input included)."""
    input_spatial = tuple(graph.input.shape[1:])
    rank = len(input_spatial)
    fields: dict[str, ReceptiveField] = {}
    for node in graph.nodes:
        if not node.inputs:
            field = ReceptiveField((1,) * rank, (1,) * rank, (0,) * rank)
        else:
            field = _step(graph, node, [fields[i] for i in node.inputs], input_spatial)
        fields[node.name] = field
    return fields


# ---- one node ---------------------------------------------------------------------------


def _spatial(shape: Sequence[int]) -> tuple[int, ...]:
    return tuple(shape[1:]) if len(shape) > 1 else ()


def _covers(field: ReceptiveField, out_spatial: Sequence[int], input_spatial: Sequence[int]) -> bool:
    """True when every output position's field contains the whole input."""
    if not input_spatial or len(out_spatial) != len(input_spatial):
        return False
    for r, j, s, n, size in zip(field.size, field.stride, field.start, out_spatial, input_spatial):
        last_start = s + (n - 1) * j
        if last_start > 0 or s + r - 1 < size - 1:
            return False
    return True


def _finish(field: ReceptiveField, node: Node, input_spatial: Sequence[int]) -> ReceptiveField:
    covers = _covers(field, _spatial(node.shape), input_spatial)
    return replace(field, covers_whole_input=covers)


def _global(field: ReceptiveField, in_spatial: Sequence[int], input_spatial: Sequence[int]) -> ReceptiveField:
    """Every output element reads every position of the input map: the union of their fields."""
    if not input_spatial:
        # a flat network input (an MLP): a linear layer reads every feature
        return replace(field, covers_whole_input=True)
    if len(in_spatial) != len(input_spatial):
        return field  # a flat vector already carries the union of its map's fields (see flatten)
    size = tuple(int(r + (n - 1) * j) for r, j, n in zip(field.size, field.stride, in_spatial))
    gapless = all(r >= j or n == 1 for r, j, n in zip(field.size, field.stride, in_spatial))
    union = ReceptiveField(size, field.stride, field.start, False, field.aligned, field.exact)
    ones = (1,) * len(input_spatial)
    return ReceptiveField(size, field.stride, field.start, gapless and _covers(union, ones, input_spatial), field.aligned, field.exact)


def _step(graph: Graph, node: Node, inputs: list[ReceptiveField], input_spatial: tuple[int, ...]) -> ReceptiveField:
    field = _propagate(graph, node, inputs, input_spatial)
    if any(f.covers_whole_input for f in inputs) and not field.covers_whole_input:
        return replace(field, covers_whole_input=True)  # global stays global
    return field


def _propagate(graph: Graph, node: Node, inputs: list[ReceptiveField], input_spatial: tuple[int, ...]) -> ReceptiveField:
    rank = len(input_spatial)
    in_shapes = graph.input_shapes(node)
    out_spatial = _spatial(node.shape)

    if len(inputs) > 1:
        return _finish(_merge(inputs, in_shapes, node.shape), node, input_spatial)

    field = inputs[0]
    in_spatial = _spatial(in_shapes[0])

    if node.op == "linear":
        return _global(field, in_spatial, input_spatial)
    leaves_grid = len(out_spatial) != rank or (node.op == "reshape" and tuple(out_spatial) != tuple(in_spatial))
    if len(in_spatial) != rank:
        return field  # already off the input's grid (a flat vector): element-wise ops keep its field
    if leaves_grid:
        # flatten / reshape: the value as a whole sees the union of every position's field
        return _global(field, in_spatial, input_spatial)

    window = node.opdef.window(node.attrs, in_shapes)
    if window is not None:
        size, stride, start = [], [], []
        for r, j, s, k, st, p, d in zip(
            field.size, field.stride, field.start, window.kernel, window.stride, window.padding, window.dilation
        ):
            size.append(int(r + (d * (k - 1)) * j))
            start.append(_norm(s - p * j))
            stride.append(_norm(j * st))
        return _finish(ReceptiveField(tuple(size), tuple(stride), tuple(start), False, field.aligned, field.exact), node, input_spatial)

    if node.op == "upsample":
        return _finish(_upsample(field, node), node, input_spatial)
    if node.op == "deconv":
        return _finish(_deconv(field, node), node, input_spatial)
    return _finish(field, node, input_spatial)


def _merge(inputs: list[ReceptiveField], in_shapes: Sequence[Sequence[int]], out_shape: Sequence[int]) -> ReceptiveField:
    """Union of the inputs' fields (add, mul, concat): the paper's max over paths."""
    rank = len(inputs[0].size)
    out_spatial = _spatial(out_shape)
    exact = all(f.exact for f in inputs)
    # an input broadcast from a single position (a C×1×1 gate) reads the same pixels everywhere
    if any(out_spatial and _spatial(shape) != out_spatial for shape in in_shapes):
        exact = False
    size, stride, start = [], [], []
    aligned = all(f.aligned for f in inputs)
    for axis in range(rank):
        strides = {f.stride[axis] for f in inputs}
        if len(strides) > 1:
            exact = False
            aligned = False
        lo = min(f.start[axis] for f in inputs)
        hi = max(f.start[axis] + f.size[axis] - 1 for f in inputs)
        centres = {f.center[axis] for f in inputs}
        if len(centres) > 1:
            aligned = False
        size.append(int(hi - lo + 1))
        stride.append(max(strides))
        start.append(_norm(lo))
    return ReceptiveField(tuple(size), tuple(stride), tuple(start), False, aligned, exact)


def _upsample(field: ReceptiveField, node: Node) -> ReceptiveField:
    """Nearest: position i reads input ⌊i/s⌋; linear also reads its right neighbour."""
    extra = 1 if node.attrs["mode"] == "linear" else 0
    size = tuple(int(r + extra * j) for r, j in zip(field.size, field.stride))
    stride = tuple(_norm(Fraction(j) / s) for j, s in zip(field.stride, node.attrs["scale"]))
    identity = all(s == 1 for s in node.attrs["scale"])
    return ReceptiveField(size, stride, field.start, False, field.aligned, field.exact and identity)


def _deconv(field: ReceptiveField, node: Node) -> ReceptiveField:
    """Output o receives input m when o = m·s − p + t·d (0 ≤ t < k): at most ⌊(k'−1)/s⌋+1 inputs."""
    a = node.attrs
    size, stride, start = [], [], []
    for r, j, u, k, s, p, d in zip(field.size, field.stride, field.start, a["kernel"], a["stride"], a["pad"], a["dilation"]):
        reach = d * (k - 1)
        size.append(int(r + (reach // s) * j))
        first = -((reach - p) // s)  # ceil((p − reach) / s): the first input feeding output 0
        start.append(_norm(u + first * j))
        stride.append(_norm(Fraction(j) / s))
    return ReceptiveField(tuple(size), tuple(stride), tuple(start), False, field.aligned, False)


__all__ = ["ReceptiveField", "receptive_fields"]
