"""Report section for a convolutionized network: the context its template partial (convolutionized.html.j2) reads."""
from __future__ import annotations

from typing import Any

from netspec.ops.base import format_shape


def convolutionize_context(converted: Any) -> dict:
    """What changed (before → after), output stride, cell receptive field, dense vs sliding-window cost."""
    plan = converted.plan
    field = converted.field
    return {
        "original": plan.original.name,
        "name": converted.name,
        "options": [flag for flag, on in (("--dense", plan.dense), ("--keep-adaptive", plan.keep_adaptive)) if on],
        "changes": [{"layer": c.layer, "before": c.before, "after": c.after, "reason": c.reason} for c in plan.changes],
        "stride": "×".join(str(s) for s in converted.stride),
        "field_size": "×".join(str(s) for s in field.size),
        "field_start": ", ".join(str(s) for s in field.start),
        "original_macs": converted.original_macs,
        "runs": [
            {
                "input": format_shape(run.input_shape),
                "output": format_shape(run.output_shape),
                "dense_macs": run.dense_macs,
                "windows": run.windows,
                "windows_macs": run.windows_macs,
                "ratio": run.ratio,
            }
            for run in converted.runs
        ],
    }
