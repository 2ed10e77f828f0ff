"""Diagnosis helper: the smallest network input for which no layer's output collapses to zero."""
from __future__ import annotations

from typing import Any

from netspec.errors import DiagnosticSink
from netspec.ops.base import format_shape
from netspec.ir.elaborate import Elaborator, Scope
from netspec.ir.loader import Library
from netspec.syntax import ast


def smallest_working_input(spec: ast.Spec, library: Library, overrides: dict[str, Any]) -> str | None:
    """Grow the spatial axes of the input together until no layer collapses; report the smallest size."""
    sink = DiagnosticSink()
    probe = Elaborator(spec, library, sink)
    start = probe._input(spec.inputs[0], Scope({}, {}, (), probe._network_params(spec.networks[0], overrides))) if spec.inputs else None
    if start is None or start.shape is None or len(start.shape) < 2:
        return None
    channels, spatial = start.shape[0], start.shape[1:]

    def fits(sizes) -> bool:
        trial = Elaborator(spec, library, DiagnosticSink(), (channels, *sizes))
        trial.run(overrides)
        return not trial.collapses

    def works(scale: int) -> bool:
        return fits(tuple(s + scale for s in spatial))

    grow = 1
    while not works(grow):
        grow *= 2
        if grow > 8192:
            return None
    low, high = grow // 2, grow  # works(high); find the smallest working growth by bisection
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (low, middle) if works(middle) else (middle, high)
    together = tuple(s + high for s in spatial)
    # Then shrink each axis on its own to its smallest working size: 3x16x24 under five 2x2
    # pools needs 3x32x32, not 3x32x40 (window sizes grow monotonically with the input).
    best = list(together)
    for axis in range(len(spatial)):
        low, high = 0, together[axis]  # fits with `high` on this axis, not with 0
        while high - low > 1:
            middle = (low + high) // 2
            trial_sizes = tuple(middle if i == axis else t for i, t in enumerate(together))
            low, high = (low, middle) if fits(trial_sizes) else (middle, high)
        best[axis] = high
    shape = tuple(best) if fits(tuple(best)) else together
    return format_shape((channels, *shape))
