"""Element-wise activations and softmax: shape-preserving, no MACs, one row of this table each."""
from __future__ import annotations

from typing import Any, Sequence

from netspec.ops.base import (
    SAVES_INPUT,
    SAVES_OUTPUT,
    Attr,
    Attrs,
    Constructor,
    Kept,
    OpDef,
    Saved,
    Shape,
    numel,
)
from netspec.ops.registry import register


class Activation(OpDef):
    """An activation described by its torch class and the attributes it forwards."""

    family = "activation"

    def __init__(
        self,
        name: str,
        torch_class: str,
        summary: str,
        attrs: tuple[Attr, ...] = (),
        torch_names: dict | None = None,
        keeps: str = "input",
    ):
        self.name = name
        self.torch_class = torch_class
        self.imports_from = (torch_class,)
        self.summary = summary
        self.attrs = attrs
        self.torch_names = torch_names or {}
        # What backward reads: "input" (x), "output" (f(x)), or "output in place" (x out of
        # place, f(x) when run in place, as torch's leaky_relu_ and elu_ do). An in-place form
        # of an op that needs its input makes autograd keep a copy of the input.
        self.keeps = keeps

    def elementwise(self, a: Attrs, inputs: Sequence[Shape], output: Shape) -> int:
        return numel(output)

    def saved(self, a: Attrs, inputs: Sequence[Shape], output: Shape, inplace: bool = False) -> Saved:
        inplace = inplace or a.get("inplace") is True
        if self.keeps == "output" or (inplace and self.keeps == "output in place"):
            return SAVES_OUTPUT
        if inplace:
            return Saved(extra=(Kept("copy of the input", numel(inputs[0])),))
        return SAVES_INPUT

    def aliases_input(self, a: Attrs, inputs: Sequence[Shape]) -> bool:
        return a.get("inplace") is True  # written in place by request

    def inplace_operand(self, a: Attrs, inputs: Sequence[Shape]) -> int | None:
        return 0 if "inplace" in a else None

    def inplace_module(self, a: Attrs, inputs: Sequence[Shape]) -> Constructor:
        return self.module(Attrs(tuple((k, True if k == "inplace" else v) for k, v in a.items())), inputs)

    def from_module(self, m: Any) -> dict[str, Any]:
        return {attr.name: getattr(m, self.torch_names.get(attr.name, attr.name)) for attr in self.attrs}

    def module(self, a: Attrs, inputs: Sequence[Shape]) -> Constructor:
        kwargs = {self.torch_names.get(attr.name, attr.name): a[attr.name] for attr in self.attrs}
        defaults = {self.torch_names.get(attr.name, attr.name): attr.default for attr in self.attrs}
        return Constructor.of(f"nn.{self.torch_class}", defaults=defaults, **kwargs)


class PReLU(OpDef):
    name = "prelu"
    family = "activation"
    summary = "Parametric ReLU: one learned slope, or one per channel with `per_channel=true`."
    attrs = (Attr("per_channel", "bool", False), Attr("init", "float", 0.25))

    def params(self, a: Attrs, inputs: Sequence[Shape]) -> int:
        return inputs[0][0] if a["per_channel"] else 1

    def elementwise(self, a: Attrs, inputs: Sequence[Shape], output: Shape) -> int:
        return numel(output)

    def module(self, a: Attrs, inputs: Sequence[Shape]) -> Constructor:
        count = inputs[0][0] if a["per_channel"] else 1
        return Constructor.of("nn.PReLU", count) if a["init"] == 0.25 else Constructor.of("nn.PReLU", count, init=a["init"])


class Softmax(Activation):
    """softmax / log_softmax over the channel axis (dim 1 with the batch)."""

    def from_module(self, m: Any) -> dict[str, Any]:
        if m.dim != 1:
            raise ValueError(f"{self.name} over dim={m.dim} has no op (only the channel axis, dim=1)")
        return {}

    def module(self, a: Attrs, inputs: Sequence[Shape]) -> Constructor:
        return Constructor.of(f"nn.{self.torch_class}", dim=1)


INPLACE = Attr("inplace", "bool", False)

for _op in (
    Activation("relu", "ReLU", "max(0, x).", (INPLACE,), keeps="output"),
    Activation("relu6", "ReLU6", "min(max(0, x), 6), as in MobileNet.", (INPLACE,)),
    Activation(
        "leaky_relu", "LeakyReLU", "x, or slope·x below 0: `leaky_relu [slope=0.01]`.",
        (Attr("slope", "float", 0.01), INPLACE), {"slope": "negative_slope"}, keeps="output in place",
    ),
    Activation("elu", "ELU", "Exponential linear unit: `elu [alpha=1.0]`.", (Attr("alpha", "float", 1.0), INPLACE),
               keeps="output in place"),
    Activation("gelu", "GELU", "Gaussian error linear unit: `gelu [approximate=none|tanh]`.",
               (Attr("approximate", "choice", "none", choices=("none", "tanh")),)),
    Activation("silu", "SiLU", "x·sigmoid(x) (swish).", (INPLACE,)),
    Activation("sigmoid", "Sigmoid", "1 / (1 + e^-x).", keeps="output"),
    Activation("tanh", "Tanh", "Hyperbolic tangent.", keeps="output"),
    Activation("hardswish", "Hardswish", "x·relu6(x + 3)/6, as in MobileNetV3.", (INPLACE,)),
    Activation("hardsigmoid", "Hardsigmoid", "relu6(x + 3)/6, as in MobileNetV3.", (INPLACE,)),
    Softmax("softmax", "Softmax", "Softmax over the channel axis.", keeps="output"),
    Softmax("log_softmax", "LogSoftmax", "Log-softmax over the channel axis.", keeps="output"),
    PReLU(),
):
    register(_op)

