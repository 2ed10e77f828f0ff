"""`python -m benchmarks.targets`: issue 9's speed targets alone, on CPU time, in a few minutes.

CPU time (user + system of the measured process, or `time.process_time` in-process) is what a
shared machine disturbs least; the figures are medians over repeats. The full suite
(`python -m benchmarks`) measures more, and wall time as well.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import ROOT, SPECS, netspec_command, run_process
from benchmarks.scaling import chain_spec, repeat_spec

TARGETS = {  # what the issue asks, in CPU seconds (whole `netspec check` processes)
    "check specs/resnet50.net": 0.15,
    "check chain of 10,000 lines": 0.5,
    "check chain of 10,000 lines, 3x3": 0.5,
    "check 10,000 layers by repeat": 0.3,
    "check chain of 100,000 lines": 5.0,
}
RATIO_TARGET = 100


def cpu_median(function, repeats: int) -> float:
    """Median CPU seconds of `function()` in this process, after one untimed call."""
    function()
    seconds = []
    for _ in range(repeats):
        start = time.process_time()
        function()
        seconds.append(time.process_time() - start)
    return statistics.median(seconds)


def zoo_ratios(repeats: int, tool_repeats: int, stems: list[str] | None = None) -> list[tuple[str, int, float, float]]:
    """(network, layers, netspec CPU s, torchinfo CPU s) on every spec with a torchvision twin."""
    import torch

    from benchmarks.tools import TOOLS, twin_model
    from benchmarks.zoo import analyze_once, zoo_stems

    torch.set_num_threads(1)
    torchinfo = next(t for t in TOOLS if t.name == "torchinfo")
    rows = []
    for stem in stems or zoo_stems():
        model = twin_model(stem)
        if model is None:
            continue
        path = SPECS / f"{stem}.net"
        analysis = analyze_once(path)
        ours = cpu_median(lambda: analyze_once(path), repeats)
        shape = analysis.input_shape
        with torch.no_grad():
            theirs = cpu_median(lambda: torchinfo.count(model, shape), tool_repeats)
        rows.append((stem, len(analysis.layers), ours, theirs))
        print(f"  {stem:<18} {len(analysis.layers):>4} layers  netspec {ours * 1e3:7.2f} ms  "
              f"torchinfo {theirs * 1e3:8.1f} ms  ×{theirs / ours:,.0f}", file=sys.stderr)
    return rows


def cli_figures(repeats: int, big_repeats: int, checkout: Path | None = None) -> dict[str, float]:
    """Median CPU seconds of whole `netspec check` processes on the issue's specs (of the
    netspec in another `checkout`, for before/after figures, when given)."""
    command = netspec_command() if checkout is None else ["env", f"PYTHONPATH={checkout}", sys.executable, "-m", "netspec.cli"]
    found = {}
    with tempfile.TemporaryDirectory(prefix="netspec-targets-") as folder:
        specs = {
            "check specs/resnet50.net": (SPECS / "resnet50.net", repeats),
            "check chain of 10,000 lines": (_write(folder, "chain10k", chain_spec(10_000)), repeats),
            "check chain of 10,000 lines, 3x3": (_write(folder, "chain10k3", chain_spec(10_000, "conv 8 3x3 pad=1")), repeats),
            "check 10,000 layers by repeat": (_write(folder, "repeat10k", repeat_spec(10_000)), repeats),
            "check chain of 100,000 lines": (_write(folder, "chain100k", chain_spec(100_000)), big_repeats),
        }
        for label, (path, count) in specs.items():
            runs = [run_process([*command, "check", str(path)], cwd=checkout or ROOT) for _ in range(count + 1)][1:]
            bad = [r for r in runs if r.returncode != 0]
            if bad:
                raise RuntimeError(f"{label} failed:\n{bad[0].output}")
            found[label] = statistics.median(r.cpu for r in runs)
            peak = max(r.peak_rss_mb for r in runs)
            print(f"  {label:<32} {found[label]:6.3f} s CPU (target {TARGETS[label]} s)  peak {peak:.0f} MB",
                  file=sys.stderr)
    return found


def _write(folder: str, name: str, text: str) -> Path:
    path = Path(folder) / f"{name}.net"
    path.write_text(text, encoding="utf-8")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.targets", description=__doc__)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--skip-zoo", action="store_true")
    parser.add_argument("--skip-cli", action="store_true")
    parser.add_argument("--networks", nargs="*")
    parser.add_argument("--checkout", type=Path, help="measure the CLI of another netspec source tree (before/after)")
    args = parser.parse_args(argv)
    import os

    print(f"load average at start: {', '.join(f'{x:.1f}' for x in os.getloadavg())}", file=sys.stderr)
    if not args.skip_cli:
        cli_figures(args.repeats, max(1, args.repeats // 3), args.checkout.resolve() if args.checkout else None)
    if not args.skip_zoo:
        rows = zoo_ratios(args.repeats * 3, args.repeats, args.networks)
        below = [r[0] for r in rows if r[3] / r[2] < RATIO_TARGET]
        print(f"  below ×{RATIO_TARGET}: {', '.join(below) or 'none'}", file=sys.stderr)
    print(f"load average at end: {', '.join(f'{x:.1f}' for x in os.getloadavg())}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
