"""Section 5: the other benchmarks in this folder (compiled forward and construction, dense prediction), run as they are and quoted."""
from __future__ import annotations

import sys
import time
from pathlib import Path

from benchmarks.common import ROOT, run_process

HERE = Path(__file__).resolve().parent

# Modules of this suite; every other benchmarks/*.py is another issue's benchmark.
OWN = {"__init__", "__main__", "common", "tools", "zoo", "scaling", "others", "results", "smoke", "targets"}

# Which issue each family of benchmark files belongs to, for the section titles.
FAMILIES = (
    ("convolutionize", "dense prediction (convolutionize)"),
    ("forward", "compiled forward and construction (training code)"),
    ("construction", "compiled forward and construction (training code)"),
    ("torch", "compiled forward and construction (training code)"),
    ("analysis_speed", "static analysis against counting with torch's FlopCounterMode"),
)


def discover() -> list[Path]:
    return sorted(p for p in HERE.glob("*.py") if p.stem not in OWN)


def title(path: Path) -> str:
    for prefix, name in FAMILIES:
        if path.stem.startswith(prefix):
            return name
    return path.stem


def run_all(expected: tuple[str, ...] = ("convolutionize", "torch_vs_torchvision")) -> list[dict]:
    """Run each as `python benchmarks/NAME.py` and keep what it printed; say which expected ones do not exist yet."""
    found = discover()
    rows = []
    for path in found:
        started = time.perf_counter()
        run = run_process([sys.executable, str(path.relative_to(ROOT))])
        rows.append({
            "file": str(path.relative_to(ROOT)),
            "title": title(path),
            "seconds": time.perf_counter() - started,
            "returncode": run.returncode,
            "output": run.output.strip(),
        })
        print(f"  {path.name}: exit {run.returncode} after {rows[-1]['seconds']:.0f} s", file=sys.stderr)
    for prefix in expected:
        if not any(p.stem.startswith(prefix) for p in found):
            rows.append({"file": f"benchmarks/{prefix}*.py", "title": title(Path(prefix)), "missing": True})
    return rows
