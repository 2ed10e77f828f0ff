"""Ops that join or split values: add, mul, weighted_sum, concat, chunk, split."""
from __future__ import annotations

from typing import Any, Sequence

from netspec.ops.base import (
    SAVES_NOTHING,
    Attr,
    Attrs,
    Constructor,
    Kept,
    OpDef,
    OpError,
    Saved,
    Shape,
    format_shape,
    numel,
)
from netspec.ops.registry import register


def _fold_helper(class_name: str, operator: str, what: str) -> str:
    """Source of a generated module that folds a list of inputs with one Python operator."""
    return f'''
class {class_name}(nn.Module):
    """{what} of a list of inputs."""

    def forward(self, xs: list[torch.Tensor]) -> torch.Tensor:
        out = xs[0]
        for x in xs[1:]:
            out = out {operator} x
        return out
'''


class _ListInput:
    """Merges take their inputs as one list, so the module has a fixed signature (TorchScript)."""

    def forward(self, a: Attrs, module: str, args: Sequence[str]) -> str:
        return f"{module}([{', '.join(args)}])"


class _ElementwiseMerge(_ListInput, OpDef):
    """Shared by add and mul: inputs folded element by element; one op per element and extra input."""

    family = "merge"
    arity = None
    class_name: str

    def elementwise(self, a: Attrs, inputs: Sequence[Shape], output: Shape) -> int:
        return numel(output) * (len(inputs) - 1)

    def module(self, a: Attrs, inputs: Sequence[Shape]) -> Constructor:
        return Constructor.of(self.class_name)


class Add(_ElementwiseMerge):
    name = "add"
    class_name = "Add"
    summary = "Element-wise sum of two or more values of one shape (residual connections)."
    helper = '''
class Add(nn.Module):
    """Element-wise sum of a list of inputs; with inplace=True the sum is written into the first."""

    def __init__(self, inplace: bool = False):
        super().__init__()
        self.inplace = inplace

    def forward(self, xs: list[torch.Tensor]) -> torch.Tensor:
        out = xs[0]
        for x in xs[1:]:
            out = out.add_(x) if self.inplace else out + x
        return out
'''

    def saved(self, a: Attrs, inputs: Sequence[Shape], output: Shape, inplace: bool = False) -> Saved:
        return SAVES_NOTHING

    def inplace_operand(self, a: Attrs, inputs: Sequence[Shape]) -> int | None:
        return 0  # shapes are equal, so the sum fits in the first operand

    def module(self, a: Attrs, inputs: Sequence[Shape]) -> Constructor:
        return Constructor.of("Add", inplace=False, defaults={"inplace": False})

    def inplace_module(self, a: Attrs, inputs: Sequence[Shape]) -> Constructor:
        return Constructor.of("Add", inplace=True, defaults={"inplace": False})

    def validate(self, v: dict[str, Any], inputs: Sequence[Shape]) -> None:
        for index, shape in enumerate(inputs[1:], start=1):
            if shape != inputs[0]:
                raise OpError(
                    f"cannot add {format_shape(inputs[0])} and {format_shape(shape)}: shapes must be equal", inputs=(0, index)
                )


class Mul(_ElementwiseMerge):
    name = "mul"
    class_name = "Mul"
    summary = "Element-wise product with broadcasting (a C×1×1 gate times C×H×W, as in squeeze-and-excitation)."
    helper = _fold_helper("Mul", "*", "Element-wise product (broadcasting)")

    def saved(self, a: Attrs, inputs: Sequence[Shape], output: Shape, inplace: bool = False) -> Saved:
        # each factor's gradient needs the others; folding three or more keeps the partial products
        partial, kept = inputs[0], []
        for shape in inputs[1:-1]:
            partial = tuple(max(x, y) for x, y in zip(partial, shape))
            kept.append(Kept("partial product", numel(partial)))
        return Saved(inputs=tuple(range(len(inputs))), extra=tuple(kept))

    def validate(self, v: dict[str, Any], inputs: Sequence[Shape]) -> None:
        out = inputs[0]
        for index, shape in enumerate(inputs[1:], start=1):
            if len(shape) != len(out) or any(a != b and 1 not in (a, b) for a, b in zip(out, shape)):
                raise OpError(
                    f"cannot multiply {format_shape(inputs[0])} and {format_shape(shape)}: each axis must match or be 1",
                    inputs=(0, index),
                )
            out = tuple(max(a, b) for a, b in zip(out, shape))
        v["shape"] = out

    def infer(self, a: Attrs, inputs: Sequence[Shape]) -> Shape:
        return a["shape"]


class WeightedSum(_ListInput, OpDef):
    """A randomly wired network's node aggregation (Xie et al., 2019): Σ sigmoid(w_i)·x_i."""

    name = "weighted_sum"
    family = "merge"
    arity = None
    summary = (
        "Sum of N values of one shape, each scaled by sigmoid of its own learned weight (N parameters, "
        "RandWire's aggregation); `learned=false` gives their plain mean instead."
    )
    attrs = (Attr("learned", "bool", True, doc="false: fixed equal weights 1/N (the mean), no parameters"),)
    helper = '''
class WeightedSum(nn.Module):
    """Sum of the inputs weighted by sigmoid(w), one learned w per input; the mean if not learned."""

    def __init__(self, inputs: int, learned: bool = True):
        super().__init__()
        self.inputs = inputs
        self.weight = nn.Parameter(torch.zeros(inputs)) if learned else None

    def forward(self, xs: list[torch.Tensor]) -> torch.Tensor:
        if self.weight is None:
            return torch.stack(xs).mean(0)
        w = torch.sigmoid(self.weight)
        out = w[0] * xs[0]
        for i in range(1, len(xs)):
            out = out + w[i] * xs[i]
        return out
'''

    def validate(self, v: dict[str, Any], inputs: Sequence[Shape]) -> None:
        for index, shape in enumerate(inputs[1:], start=1):
            if shape != inputs[0]:
                raise OpError(
                    f"cannot sum {format_shape(inputs[0])} and {format_shape(shape)}: shapes must be equal", inputs=(0, index)
                )

    def params(self, a: Attrs, inputs: Sequence[Shape]) -> int:
        return len(inputs) if a["learned"] else 0

    def elementwise(self, a: Attrs, inputs: Sequence[Shape], output: Shape) -> int:
        # learned: N scalings and N - 1 additions per element; mean: N - 1 additions and one division
        per_element = 2 * len(inputs) - 1 if a["learned"] else len(inputs)
        return numel(output) * per_element

    def saved(self, a: Attrs, inputs: Sequence[Shape], output: Shape, inplace: bool = False) -> Saved:
        if not a["learned"]:
            return SAVES_NOTHING  # stack then mean: backward needs only sizes
        # each w_i·x_i keeps x_i (for w_i's gradient) and sigmoid(w) (for x_i's and w's)
        return Saved(inputs=tuple(range(len(inputs))), extra=(Kept("sigmoid of the weights", len(inputs), per_sample=False),))

    def module(self, a: Attrs, inputs: Sequence[Shape]) -> Constructor:
        return Constructor.of("WeightedSum", len(inputs), learned=a["learned"], defaults={"learned": True})


class Concat(_ListInput, OpDef):
    name = "concat"
    family = "merge"
    arity = None
    summary = "Join values along the channel axis (or `axis=`); every other axis must match."
    attrs = (Attr("axis", "nonneg_int", 0, doc="per-sample axis; 0 = channels"),)
    helper = '''
class Concat(nn.Module):
    """Concatenation of a list of inputs along one dimension."""

    def __init__(self, dim: int = 1):
        super().__init__()
        self.dim = dim

    def forward(self, xs: list[torch.Tensor]) -> torch.Tensor:
        return torch.cat(xs, self.dim)
'''

    def validate(self, v: dict[str, Any], inputs: Sequence[Shape]) -> None:
        axis = v["axis"]
        if axis >= len(inputs[0]):
            raise OpError(f"axis {axis} does not exist in a {format_shape(inputs[0])} value", "axis")
        for index, shape in enumerate(inputs[1:], start=1):
            rest = lambda s: s[:axis] + s[axis + 1 :]  # noqa: E731
            where = "the channels (axis 0)" if axis == 0 else f"axis {axis}"
            if len(shape) != len(inputs[0]):
                raise OpError(
                    f"cannot concatenate {format_shape(inputs[0])} and {format_shape(shape)}: "
                    f"they have {len(inputs[0])} and {len(shape)} axes",
                    inputs=(0, index),
                )
            if rest(shape) != rest(inputs[0]):
                raise OpError(
                    f"cannot concatenate {format_shape(inputs[0])} and {format_shape(shape)} along {where}: "
                    f"the other axes must match, but they are {format_shape(rest(inputs[0]))} and {format_shape(rest(shape))}",
                    inputs=(0, index),
                )

    def saved(self, a: Attrs, inputs: Sequence[Shape], output: Shape, inplace: bool = False) -> Saved:
        return SAVES_NOTHING  # backward slices the gradient; the output is a fresh copy

    def infer(self, a: Attrs, inputs: Sequence[Shape]) -> Shape:
        axis = a["axis"]
        total = sum(s[axis] for s in inputs)
        return inputs[0][:axis] + (total,) + inputs[0][axis + 1 :]

    def module(self, a: Attrs, inputs: Sequence[Shape]) -> Constructor:
        return Constructor.of("Concat") if a["axis"] == 0 else Constructor.of("Concat", a["axis"] + 1)


class Chunk(OpDef):
    name = "chunk"
    family = "merge"
    summary = "One of `parts` equal slices along the channels: `chunk 2 index=1` (ShuffleNet's split)."
    attrs = (Attr("parts", "pos_int", positional=True), Attr("index", "nonneg_int", 0))
    helper = '''
class Chunk(nn.Module):
    """One of `parts` equal slices of the channels."""

    def __init__(self, parts: int, index: int):
        super().__init__()
        self.parts, self.index = parts, index

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.chunk(self.parts, 1)[self.index]
'''

    def validate(self, v: dict[str, Any], inputs: Sequence[Shape]) -> None:
        channels = inputs[0][0]
        if channels % v["parts"]:
            raise OpError(f"{v['parts']} parts do not divide the {channels} channels evenly", "parts")
        if v["index"] >= v["parts"]:
            raise OpError(f"index {v['index']} is out of range for {v['parts']} parts", "index")

    def infer(self, a: Attrs, inputs: Sequence[Shape]) -> Shape:
        return (inputs[0][0] // a["parts"], *inputs[0][1:])

    def saved(self, a: Attrs, inputs: Sequence[Shape], output: Shape, inplace: bool = False) -> Saved:
        return SAVES_NOTHING

    def aliases_input(self, a: Attrs, inputs: Sequence[Shape]) -> bool:
        return True  # a slice of the channels is a view

    def module(self, a: Attrs, inputs: Sequence[Shape]) -> Constructor:
        return Constructor.of("Chunk", a["parts"], a["index"])


class Split(OpDef):
    name = "split"
    family = "merge"
    summary = "A channel slice by sizes: `split (16, 48) index=1` takes channels 16..63."
    attrs = (Attr("sizes", "any", positional=True), Attr("index", "nonneg_int", 0))
    helper = '''
class Split(nn.Module):
    """One slice of the channels, cut at the given sizes."""

    def __init__(self, sizes: tuple[int, ...], index: int):
        super().__init__()
        self.sizes, self.index = list(sizes), index

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.split(self.sizes, 1)[self.index]
'''

    def validate(self, v: dict[str, Any], inputs: Sequence[Shape]) -> None:
        sizes = v["sizes"] if isinstance(v["sizes"], tuple) else (v["sizes"],)
        if any(not isinstance(s, int) or isinstance(s, bool) or s <= 0 for s in sizes):
            raise OpError("sizes must be positive integers", "sizes")
        if sum(sizes) != inputs[0][0]:
            raise OpError(f"sizes add up to {sum(sizes)} but the input has {inputs[0][0]} channels", "sizes")
        if v["index"] >= len(sizes):
            raise OpError(f"index {v['index']} is out of range for {len(sizes)} slices", "index")
        v["sizes"] = sizes

    def infer(self, a: Attrs, inputs: Sequence[Shape]) -> Shape:
        return (a["sizes"][a["index"]], *inputs[0][1:])

    def saved(self, a: Attrs, inputs: Sequence[Shape], output: Shape, inplace: bool = False) -> Saved:
        return SAVES_NOTHING

    def aliases_input(self, a: Attrs, inputs: Sequence[Shape]) -> bool:
        return True  # a slice of the channels is a view

    def module(self, a: Attrs, inputs: Sequence[Shape]) -> Constructor:
        return Constructor.of("Split", a["sizes"], a["index"])


for _op in (Add(), Mul(), WeightedSum(), Concat(), Chunk(), Split()):
    register(_op)
