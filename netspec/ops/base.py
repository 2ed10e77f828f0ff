"""The op contract: attribute declarations, their validation, and the OpDef base every layer kind extends."""
from __future__ import annotations

import difflib
import math
import weakref
from dataclasses import dataclass
from typing import Any, Callable, ClassVar, Iterator, Mapping, Sequence

Shape = tuple[int, ...]  # per sample, channels first; the batch dimension is never counted


def format_shape(shape: Sequence[int]) -> str:
    """How a shape is written everywhere in text: 64x56x56, as in a spec."""
    return "x".join(str(d) for d in shape)


class OpError(Exception):
    """A layer cannot be built as written; `attr` names the attribute to blame, if any."""

    def __init__(self, message: str, attr: str | None = None, inputs: tuple[int, ...] = ()):
        super().__init__(message)
        self.message = message
        self.attr = attr
        self.inputs = inputs  # indices of the inputs to point at (shape mismatches)


class CollapseError(OpError):
    """A spatial axis of the output would shrink to zero or below: the input is too small."""


@dataclass(frozen=True)
class Symbol:
    """A bare word where a value was expected (`pad=same`); only choice attributes accept one."""

    name: str


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED: Any = _Required()


@dataclass(frozen=True)
class Attr:
    """One attribute of an op: name, kind (how values are checked), default, and order."""

    name: str
    kind: str
    default: Any = REQUIRED
    positional: bool = False
    choices: tuple[str, ...] = ()
    doc: str = ""
    default_from: str | None = None  # left out, it takes this other attribute's value (a pool's stride: its kernel)


@dataclass(frozen=True)
class Attrs(Mapping[str, Any]):
    """Validated attribute values of one node, immutable and hashable."""

    items_: tuple[tuple[str, Any], ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_name", dict(self.items_))  # O(1) lookups; not a field

    @classmethod
    def shared(cls, items: tuple[tuple[str, Any], ...]) -> "Attrs":
        """The one Attrs for these values: the layers of a repeat, or of a long chain, usually
        have equal attributes, and share one immutable object instead of a copy each."""
        try:
            key = typed_key(items)
            found = _SHARED.get(key)
        except TypeError:  # an unhashable value: not shared
            return cls(items)
        if found is None:
            found = _SHARED[key] = cls(items)
        return found

    def __getitem__(self, key: str) -> Any:
        return self._by_name[key]

    def __iter__(self) -> Iterator[str]:
        return (name for name, _ in self.items_)

    def __len__(self) -> int:
        return len(self.items_)


def typed_key(items: tuple[tuple[str, Any], ...]) -> Any:
    """A key that tells apart values Python deems equal: 1, 1.0 and True; (1, 1) and (True, 1)."""
    return items, tuple([_kinds(value) for _, value in items])


def _kinds(value: Any) -> Any:
    return tuple(map(_kinds, value)) if value.__class__ is tuple else value.__class__


_SHARED: "weakref.WeakValueDictionary[Any, Attrs]" = weakref.WeakValueDictionary()


@dataclass(frozen=True)
class Window:
    """Per-axis sliding-window geometry for the receptive-field analysis (Araujo et al., 2019)."""

    kernel: tuple[int, ...]
    stride: tuple[int, ...]
    padding: tuple[int, ...]
    dilation: tuple[int, ...]


@dataclass(frozen=True)
class Expr:
    """A piece of Python source standing for a value (a constructor parameter such as `4 * planes`)."""

    source: str


def render_value(value: Any) -> str:
    """A constructor argument as Python source: literals through repr(), tuples element-wise."""
    if isinstance(value, (Expr, Constructor)):
        return value.source if isinstance(value, Expr) else value.render()
    if isinstance(value, tuple):
        inner = ", ".join(render_value(v) for v in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    if isinstance(value, list):
        return "[" + ", ".join(render_value(v) for v in value) + "]"
    return repr(value)


@dataclass(frozen=True)
class Constructor:
    """How to build a torch module, as data: a callee and its arguments, never source text.

    `callee` is a name the generated file can resolve (`nn.Conv2d`, a helper such as
    `Concat`, or a generated class). Arguments are literals (int, float, bool, str, None,
    tuples), nested Constructors (`nn.Sequential(...)`) or `Expr` placeholders. Keyword
    arguments listed in `defaults` are always present (so two convolutions have the same
    keywords whatever their values) but are not written while they hold the default.
    """

    callee: str
    args: tuple[Any, ...] = ()
    kwargs: tuple[tuple[str, Any], ...] = ()
    defaults: tuple[tuple[str, Any], ...] = ()

    @classmethod
    def of(cls, callee: str, *args: Any, defaults: dict[str, Any] | None = None, **kwargs: Any) -> "Constructor":
        return cls(callee, tuple(args), tuple(kwargs.items()), tuple((defaults or {}).items()))

    def written_kwargs(self) -> list[tuple[str, Any]]:
        """The keyword arguments the source shows: those not at their default."""
        defaults = dict(self.defaults)
        return [
            (k, v) for k, v in self.kwargs
            if k not in defaults or isinstance(v, Expr) or type(v) is not type(defaults[k]) or v != defaults[k]
        ]

    def render(self) -> str:
        parts = [render_value(v) for v in self.args] + [f"{k}={render_value(v)}" for k, v in self.written_kwargs()]
        return f"{self.callee}({', '.join(parts)})"


@dataclass(frozen=True)
class Kept:
    """A tensor autograd keeps for backward that is neither an input nor the output of the op.

    `elements` per sample (or per batch when `per_sample` is false, e.g. batchnorm's
    per-channel statistics); `itemsize` in bytes, or None for the activation dtype.
    """

    what: str  # "mask", "indices", "statistics", "copy of the input"
    elements: int
    itemsize: int | None = None
    per_sample: bool = True


@dataclass(frozen=True)
class Saved:
    """What autograd saves from one op for the backward pass, parameters aside."""

    inputs: tuple[int, ...] = ()  # indices of the inputs kept (their storage, not a copy)
    output: bool = False  # the output is kept
    extra: tuple[Kept, ...] = ()

    @property
    def nothing(self) -> bool:
        return not self.inputs and not self.output and not self.extra


SAVES_NOTHING = Saved()
SAVES_INPUT = Saved(inputs=(0,))
SAVES_OUTPUT = Saved(output=True)


# ---- value checking ---------------------------------------------------------------


def _describe(value: Any) -> str:
    if isinstance(value, Symbol):
        return f"'{value.name}'"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        return format_shape(value)
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, str):
        return f'"{value}"'
    return str(value)


def as_int(value: Any, what: str, minimum: int | None = None) -> int:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise OpError(f"{what} must be an integer, got {_describe(value)}")
    if minimum is not None and value < minimum:
        bound = "a positive integer" if minimum == 1 else f"an integer ≥ {minimum}"
        raise OpError(f"{what} must be {bound}, got {value}")
    return value


def as_float(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise OpError(f"{what} must be a number, got {_describe(value)}")
    return float(value)


def per_axis(value: Any, rank: int, what: str, minimum: int) -> tuple[int, ...]:
    """An int (same on every axis) or one int per spatial axis (3x3, (3, 1))."""
    try:
        if isinstance(value, tuple):
            if len(value) != rank:
                raise OpError(
                    f"{what} {_describe(value)} has {len(value)} values but the input has "
                    f"{rank} spatial {'axis' if rank == 1 else 'axes'}; give one value per axis, or a single number"
                )
            return tuple(as_int(v, what, minimum) for v in value)
        return (as_int(value, what, minimum),) * rank
    except OpError as error:
        error.attr = error.attr or what  # point at the attribute, not at the op
        raise


CHECKERS: dict[str, Callable[[Any, Attr], Any]] = {
    "int": lambda v, a: as_int(v, a.name),
    "pos_int": lambda v, a: as_int(v, a.name, 1),
    "nonneg_int": lambda v, a: as_int(v, a.name, 0),
    "float": lambda v, a: as_float(v, a.name),
    "any": lambda v, a: v,
}


def _check_probability(value: Any, attr: Attr) -> float:
    p = as_float(value, attr.name)
    if not 0.0 <= p <= 1.0:
        raise OpError(f"{attr.name} is a probability and must be between 0 and 1, got {p:g}")
    return p


def _check_bool(value: Any, attr: Attr) -> bool:
    if not isinstance(value, bool):
        raise OpError(f"{attr.name} must be true or false, got {_describe(value)}")
    return value


def _check_choice(value: Any, attr: Attr) -> str:
    word = value.name if isinstance(value, Symbol) else value
    if not isinstance(word, str) or word not in attr.choices:
        hint = ""
        if isinstance(word, str):
            close = difflib.get_close_matches(word, attr.choices, n=1, cutoff=0.6)
            hint = f"; did you mean '{close[0]}'?" if close else ""
        raise OpError(f"{attr.name} must be one of {', '.join(attr.choices)}; got {_describe(value)}{hint}")
    return word


PADDING_WORDS = ("same", "valid")


def _check_padding(value: Any, attr: Attr) -> Any:
    """Numbers are checked against the input's rank later; a word must be same or valid."""
    if isinstance(value, Symbol) and value.name not in PADDING_WORDS:
        close = difflib.get_close_matches(value.name, PADDING_WORDS, n=1, cutoff=0.6)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        raise OpError(f"{attr.name} must be a number, per-axis numbers, same or valid; got '{value.name}'{hint}")
    return value


CHECKERS.update(prob=_check_probability, bool=_check_bool, choice=_check_choice, padding=_check_padding)


# ---- the op base class --------------------------------------------------------------


class OpDef:
    """One layer kind. Subclasses declare `name`, `attrs`, and override the rules they need.

    The elaborator calls `prepare` (raw attribute values → validated Attrs, with the
    input shapes known), then `infer`. Analyses call `params`, `buffers`, `macs`,
    `window`; the compiler calls `module` and `forward`.
    """

    name: ClassVar[str]
    attrs: ClassVar[tuple[Attr, ...]] = ()
    arity: ClassVar[int | None] = 1  # number of inputs; None = two or more
    summary: ClassVar[str] = ""
    family: ClassVar[str] = ""
    helper: ClassVar[str] = ""  # source of a small nn.Module the generated file defines for this op

    # ---- attributes
    def prepare(self, raw: Mapping[str, Any], inputs: Sequence[Shape]) -> Attrs:
        values = self.check_values(raw)
        self.validate(values, inputs)
        return Attrs.shared(tuple(values.items()))

    def check_values(self, raw: Mapping[str, Any]) -> dict[str, Any]:
        """Check each attribute on its own (no input shapes needed): required, kind, range."""
        values = {}
        for attr in self.attrs:
            value = raw.get(attr.name, attr.default)
            if value is REQUIRED:
                raise OpError(f"'{self.name}' is missing '{attr.name}'{_usage_hint(self)}", attr.name)
            if value is None:
                values[attr.name] = None
                continue
            if isinstance(value, Symbol) and attr.kind != "choice" and not attr.kind.startswith("padding"):
                raise OpError(f"undefined name '{value.name}'", attr.name)
            checker = CHECKERS.get(attr.kind)
            try:
                values[attr.name] = checker(value, attr) if checker else value
            except OpError as error:
                error.attr = attr.name
                raise
        return values

    def validate(self, values: dict[str, Any], inputs: Sequence[Shape]) -> None:
        """Normalize values in place and check them against the input shapes."""

    # ---- rules
    def infer(self, a: Attrs, inputs: Sequence[Shape]) -> Shape:
        return inputs[0]

    def params(self, a: Attrs, inputs: Sequence[Shape]) -> int:
        return 0

    def buffers(self, a: Attrs, inputs: Sequence[Shape]) -> int:
        return 0

    def macs(self, a: Attrs, inputs: Sequence[Shape], output: Shape) -> int:
        return 0

    def elementwise(self, a: Attrs, inputs: Sequence[Shape], output: Shape) -> int:
        """Other element-wise operations (bias adds, activations, normalization): not MACs."""
        return 0

    def window(self, a: Attrs, inputs: Sequence[Shape]) -> Window | None:
        """Sliding-window geometry, or None for ops that keep the spatial grid."""
        return None

    # ---- memory: what autograd keeps, what shares storage, what may run in place
    def saved(self, a: Attrs, inputs: Sequence[Shape], output: Shape, inplace: bool = False) -> Saved:
        """What autograd keeps for backward when the op runs in training mode (in place or not)."""
        return SAVES_INPUT

    def scratch(self, a: Attrs, inputs: Sequence[Shape], output: Shape) -> tuple[Kept, ...]:
        """Tensors the op allocates and frees within itself in inference, at its peak (indices, statistics)."""
        return ()

    def aliases_input(self, a: Attrs, inputs: Sequence[Shape]) -> bool:
        """True if the output may be a view of, or the very tensor of, input 0 (in any mode).

        Such an op allocates nothing; writing into its output writes into its input.
        """
        return False

    def aliases_in_training(self, a: Attrs, inputs: Sequence[Shape]) -> bool:
        """True if the output is a view of input 0 in training mode too (dropout is not)."""
        return self.aliases_input(a, inputs)

    def inplace_operand(self, a: Attrs, inputs: Sequence[Shape]) -> int | None:
        """The input the op's in-place form overwrites, or None if it has no in-place form.

        Whether a node may actually run in place is decided in one place only:
        `netspec.ir.liveness`.
        """
        return None

    def inplace_module(self, a: Attrs, inputs: Sequence[Shape]) -> Constructor:
        """The in-place variant of `module` (only for ops with an `inplace_operand`)."""
        raise NotImplementedError(f"'{self.name}' has no in-place form")

    # ---- torch
    def module(self, a: Attrs, inputs: Sequence[Shape]) -> Constructor:
        """How to construct the nn.Module for this node (callees named from `torch.nn as nn`)."""
        raise NotImplementedError

    def forward(self, a: Attrs, module: str, args: Sequence[str]) -> str:
        """Python source calling the module on its inputs (source expressions)."""
        return f"{module}({', '.join(args)})"

    # ---- torch → spec (`netspec import-torch`): the inverse of `module`
    imports_from: ClassVar[tuple[str, ...]] = ()  # torch.nn class names read back as this op

    def from_module(self, module: Any) -> dict[str, Any]:
        """The attribute values that build `module` (an instance of one of `imports_from`), read
        off its fields; ValueError when no values of this op build it. Duck-typed: no torch import."""
        return {}


def _usage_hint(op: OpDef) -> str:
    positional = [a.name for a in op.attrs if a.positional]
    if not positional:
        return ""
    return f" (usage: {op.name} {' '.join(positional)} ...)"


# ---- helpers shared by several families ------------------------------------------------


def spatial_rank(shape: Shape) -> int:
    return len(shape) - 1


def numel(shape: Sequence[int]) -> int:
    return math.prod(shape)


def compact(values: tuple[int, ...]) -> int | tuple[int, ...]:
    """3 for (3, 3), (1, 7) otherwise: how torchvision writes kernel sizes."""
    if len(set(values)) == 1:
        return values[0]
    return tuple(values)


def need_spatial(inputs: Sequence[Shape], op: str, ranks: tuple[int, ...] = (1, 2, 3)) -> int:
    rank = spatial_rank(inputs[0])
    if rank not in ranks:
        allowed = " or ".join(f"{r + 1}-d" for r in ranks)
        raise OpError(f"'{op}' needs a {allowed} input (channels first), got shape {_describe(inputs[0])}")
    return rank
