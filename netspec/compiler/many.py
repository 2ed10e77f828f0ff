"""Several specs in one build (`netspec build A.net B.net DIR`): each built alone, failures collected, then the index page."""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

from netspec.analysis.memory import MemoryScale
from netspec.errors import NetspecError, UsageError
from netspec.report.index import Failure

SPEC_SUFFIX = ".net"


@dataclass(frozen=True)
class Built:
    """One spec built: where its files went."""

    spec: str
    name: str
    module: Path
    report: Path
    analysis: Any
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Outcome:
    built: tuple[Built, ...]
    failed: tuple[Failure, ...]  # message: the diagnostics as a single build prints them
    index: Path


def expand_specs(arguments: Sequence[str]) -> list[str]:
    """Files as given; a folder stands for its `*.net` files (not its sub-folders, which hold imported blocks)."""
    found: list[str] = []
    for argument in arguments:
        path = Path(argument)
        if path.is_dir():
            specs = sorted(str(p) for p in path.glob(f"*{SPEC_SUFFIX}") if p.is_file())
            if not specs:
                raise UsageError(f"no {SPEC_SUFFIX} specs in the folder '{argument}'")
            found += specs
        else:
            found.append(argument)
    return list(dict.fromkeys(found))  # a spec named twice is built once


def _build_one(spec: str, overrides: Mapping[str, Any], allow_outside: bool,
               scale: MemoryScale) -> tuple[Any, str, str, list[str]]:
    """(analysis, module source, report HTML, notes) for one spec; raises NetspecError."""
    from netspec.analysis import Analysis
    from netspec.compiler.codegen import generate
    from netspec.ir.elaborate import elaborate
    from netspec.report import write_report_text

    path = Path(spec)
    if not path.is_file():
        raise UsageError(f"cannot read '{spec}': {'it is a directory' if path.is_dir() else 'no such file'}")
    analysis = Analysis(elaborate(path, overrides, allow_outside))
    html, notes = write_report_text(analysis, path.read_text(encoding="utf-8"), spec, scale=scale)
    return analysis, generate(analysis.graph).source, html, notes


def build_many(
    specs: Iterable[str],
    overrides: Mapping[str, Any],
    allow_outside: bool,
    module_dir: Path,
    report_dir: Path,
    say: Callable[[str], None] = print,
    warn: Callable[[str], None] = print,
    progress: Callable[[Iterable[str]], Iterable[str]] = lambda items: items,
    scale: MemoryScale = MemoryScale(),
) -> Outcome:
    """Build every spec (a failing one does not stop the others), then write `report_dir/index.html`.

    The reports' and the index's byte figures are for the batch and element type of `scale`.
    Each spec's module and report are written together; the index compares those that built.
    """
    from netspec.compiler.outputs import write_together
    from netspec.report.index import index_entry, render_index

    built: list[Built] = []
    failed: list[Failure] = []
    names: dict[str, str] = {}
    for spec in progress(specs):
        try:
            analysis, source, html, notes = _build_one(spec, overrides, allow_outside, scale)
            for warning in analysis.warnings:
                warn(warning.render())
            if analysis.name in names:
                raise UsageError(f"'{spec}' defines network '{analysis.name}' as '{names[analysis.name]}' does; "
                                 f"its {analysis.name}.py and {analysis.name}.html would replace the other's")
            module, report = write_together({module_dir / f"{analysis.name}.py": source,
                                             report_dir / f"{analysis.name}.html": html})
        except NetspecError as error:
            failed.append(Failure(spec, error.render()))
            continue
        except Exception as error:  # an internal bug with this spec: report it with the others, go on
            failed.append(Failure(spec, f"internal error: {type(error).__name__}: {error} (a bug in netspec)"))
            continue
        names[analysis.name] = spec
        built.append(Built(spec, analysis.name, module, report, analysis, tuple(notes)))
        totals = analysis.totals
        say(f"{analysis.name:<22} {totals.params:>14,} params {totals.macs:>17,} MACs  → {report}")

    index_path = report_dir / "index.html"
    entries = [index_entry(b.analysis, b.spec, _relative(b.report, report_dir), scale) for b in built]
    (index,) = write_together({index_path: render_index(entries, failed, scale)})
    return Outcome(tuple(built), tuple(failed), index)


def _relative(target: Path, folder: Path) -> str:
    """`target` as a link from a page in `folder` (both given relative to the same place)."""
    return Path(os.path.relpath(target, folder)).as_posix()


def tqdm_progress(items: Sequence[str]) -> Iterable[str]:
    """A progress bar on stderr when it is a terminal (tqdm), plain iteration otherwise."""
    from tqdm import tqdm

    return tqdm(items, desc="building", unit="spec", file=sys.stderr, disable=None, leave=False)


__all__ = ["expand_specs", "build_many", "Outcome", "Built", "tqdm_progress"]
