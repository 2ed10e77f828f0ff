"""Sections 2 and 3: the CLI's cold start against `import torch`, and how `netspec check` grows with the size of a spec."""
from __future__ import annotations

import math
import sys
import tempfile
from pathlib import Path

from benchmarks.common import SPECS, Timing, netspec_command, time_process
from netspec.syntax.text import MAX_SPEC_BYTES

# ---- generated specs: `layers` layers each, in three shapes --------------------------------


def chain_spec(layers: int, conv: str = "conv 8 1x1") -> str:
    """conv+relu pairs written out line by line: the text grows with the network.

    1×1 convolutions keep 100,000 lines under the 1 MiB limit on a spec file
    (`conv 8 3x3 pad=1` would take 1.1 MB)."""
    lines = ["network chain()", "input 8x32x32"]
    lines += [f"{conv}\nrelu"] * (layers // 2)
    return "\n".join(lines) + "\n"


def repeat_spec(layers: int) -> str:
    """The same network from a few lines: `repeat` expands it (nested, as a repeat count is capped at 10,000)."""
    pairs = layers // 2
    outer = max(1, math.ceil(pairs / 5000))
    return (
        "network repeated()\ninput 3x32x32\n"
        f"repeat {outer}:\n    repeat {pairs // outer}:\n        conv 8 3x3 pad=1\n        relu\n"
    )


BRANCHES = 8


def wide_spec(layers: int) -> str:
    """Inception-like modules written out: a concat of 8 one-conv branches, then a 1×1 conv (10 layers each)."""
    module = "concat:\n" + "".join("    branch: conv 4 1x1\n" for _ in range(BRANCHES)) + "conv 8 1x1\n"
    return "network wide()\ninput 8x16x16\n" + module * (layers // (BRANCHES + 2))


SHAPES = {"chain": chain_spec, "repeat": repeat_spec, "wide": wide_spec}


def fitted_exponent(sizes: list[int], seconds: list[float]) -> float:
    """k in time ∝ size^k, by least squares on log-log (1 = linear)."""
    xs = [math.log(s) for s in sizes]
    ys = [math.log(t) for t in seconds]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)


def scaling(sizes: tuple[int, ...], repeats: int, big_repeats: int) -> dict:
    """`netspec check` as whole processes: wall time, CPU time and peak memory per size and shape.

    The startup (Python, imports, grammar) is measured apart on an empty network and
    subtracted for the fit, so that the exponent describes the work that grows. The exponent
    is fitted to CPU time (user + system), which other work on a shared machine disturbs far
    less than wall time, of each size's fastest run minus the fastest startup; the wall-time
    fit is kept beside it."""
    results: dict = {"sizes": list(sizes), "shapes": {}}
    with tempfile.TemporaryDirectory(prefix="netspec-scaling-") as folder:
        empty = Path(folder) / "empty.net"
        empty.write_text("network empty()\ninput 3x32x32\nrelu\n")
        baseline, runs = time_process([*netspec_command(), "check", str(empty)], 3 * repeats)
        startup_cpu = min(r.cpu for r in runs)
        results["startup"] = {**baseline.as_dict(), "cpu_s": sorted(r.cpu for r in runs)[len(runs) // 2],
                              "cpu_min_s": startup_cpu, "peak_rss_mb": max(r.peak_rss_mb for r in runs)}
        for shape, generate in SHAPES.items():
            rows: list[dict] = []
            skipped: list[dict] = []
            for size in sizes:
                path = Path(folder) / f"{shape}_{size}.net"
                text = generate(size)
                if len(text.encode()) > MAX_SPEC_BYTES:  # netspec refuses it (a robustness limit), so nothing to time
                    skipped.append({"size": size, "bytes": len(text.encode())})
                    print(f"  {shape:<7} {size:>7,} layers: not measured, the text is {len(text.encode()):,} bytes "
                          f"(over the {MAX_SPEC_BYTES:,}-byte limit on a spec file)", file=sys.stderr)
                    continue
                path.write_text(text)
                timing, runs = time_process([*netspec_command(), "check", str(path)], big_repeats if size >= 100_000 else repeats)
                layers = int(runs[0].output.split(" layers")[0].rsplit(" ", 1)[-1].replace(",", ""))
                rows.append({
                    "size": size,
                    "layers": layers,
                    "lines": path.read_text().count("\n"),
                    **timing.as_dict(),
                    "cpu_s": sorted(r.cpu for r in runs)[len(runs) // 2],
                    "cpu_min_s": min(r.cpu for r in runs),
                    "peak_rss_mb": max(r.peak_rss_mb for r in runs),
                })
                print(f"  {shape:<7} {size:>7,} layers: {timing.show():<30} peak {rows[-1]['peak_rss_mb']:.0f} MB",
                      file=sys.stderr)
            layers = [r["layers"] for r in rows]
            # the fastest runs: a startup of ~0.1 s varies by tens of ms, as much as 1,000 layers cost,
            # and a median of it makes the small sizes' work (and so the exponent) noise
            cpu_work = [max(r["cpu_min_s"] - startup_cpu, 1e-3) for r in rows]
            wall_work = [max(r["median_s"] - baseline.median, 1e-3) for r in rows]
            results["shapes"][shape] = {
                "rows": rows,
                "skipped": skipped,
                "exponent_cpu": fitted_exponent(layers, cpu_work) if len(rows) > 1 else None,
                "exponent_time": fitted_exponent(layers, wall_work) if len(rows) > 1 else None,
                "exponent_memory": fitted_exponent(
                    [r["layers"] for r in rows],
                    [max(r["peak_rss_mb"] - results["startup"]["peak_rss_mb"], 0.1) for r in rows],
                ) if len(rows) > 1 else None,
            }
    return results


def cold_start(repeats: int, spec: str = "resnet50") -> dict:
    """`netspec check specs/resnet50.net` against `python -c "import torch"` and an empty Python."""
    path = str((SPECS / f"{spec}.net").relative_to(SPECS.parent))
    commands = {
        f"netspec check specs/{spec}.net": [*netspec_command(), "check", path],
        'python -c "import torch"': [sys.executable, "-c", "import torch"],
        'python -c "pass"': [sys.executable, "-c", "pass"],
    }
    rows = {}
    for label, argv in commands.items():
        timing, runs = time_process(argv, repeats)
        rows[label] = {**timing.as_dict(), "peak_rss_mb": max(r.peak_rss_mb for r in runs)}
        print(f"  {label:<36} {timing.show()}", file=sys.stderr)
    return rows


__all__ = ["scaling", "cold_start", "fitted_exponent", "SHAPES", "Timing"]
