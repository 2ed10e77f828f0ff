"""Benchmark plumbing: repeated timing with medians and spread, whole-process runs, the machine's description."""
from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

ROOT = Path(__file__).resolve().parents[1]
SPECS = ROOT / "specs"


@dataclass(frozen=True)
class Timing:
    """Seconds over repeats: the median, the spread (min and max), and how many runs."""

    median: float
    low: float
    high: float
    runs: int

    @classmethod
    def of(cls, seconds: Sequence[float]) -> "Timing":
        return cls(statistics.median(seconds), min(seconds), max(seconds), len(seconds))

    def as_dict(self) -> dict:
        return {"median_s": self.median, "min_s": self.low, "max_s": self.high, "runs": self.runs}

    def show(self) -> str:
        """`12.3 ms (11.9–13.0, n=5)`."""
        return f"{human_seconds(self.median)} ({spread(self.low, self.high)}, n={self.runs})"


def spread(low: float, high: float) -> str:
    """`11.9–13.0 ms`, or `380 µs–65 ms` when the ends are in different units."""
    low_text, high_text = human_seconds(low), human_seconds(high)
    if low_text.split()[-1] == high_text.split()[-1]:
        return f"{low_text.split()[0]}–{high_text}"
    return f"{low_text}–{high_text}"


def human_seconds(seconds: float, unit: bool = True) -> str:
    if seconds >= 1:
        text, suffix = f"{seconds:.2f}", " s"
    elif seconds >= 1e-3:
        text, suffix = f"{seconds * 1e3:.1f}" if seconds < 0.1 else f"{seconds * 1e3:.0f}", " ms"
    else:
        text, suffix = f"{seconds * 1e6:.0f}", " µs"
    return text + suffix if unit else text


def time_calls(function: Callable[[], object], repeats: int, warmup: int = 1) -> Timing:
    """Wall time of `function()`, `repeats` times after `warmup` untimed calls."""
    for _ in range(warmup):
        function()
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        seconds.append(time.perf_counter() - start)
    return Timing.of(seconds)


@dataclass(frozen=True)
class ProcessRun:
    """One whole process: wall time, CPU time (user + system) and peak resident memory."""

    wall: float
    cpu: float
    peak_rss_mb: float
    returncode: int
    output: str


# Linux carries a process's peak memory across fork and exec: a command started straight from
# this (large, torch-importing) process would report our peak as its own. A small launcher
# process starts the command instead and reports the command's own rusage.
LAUNCHER = """
import json, os, subprocess, sys, time
start = time.perf_counter()
child = subprocess.Popen(sys.argv[2:], stdout=sys.stdout, stderr=subprocess.STDOUT)
_, status, usage = os.wait4(child.pid, 0)
wall = time.perf_counter() - start
with open(sys.argv[1], "w") as report:
    json.dump({"wall": wall, "cpu": usage.ru_utime + usage.ru_stime, "peak_kb": usage.ru_maxrss,
               "returncode": os.waitstatus_to_exitcode(status)}, report)
"""


def run_process(argv: Sequence[str], cwd: Path = ROOT) -> ProcessRun:
    """Run a command to completion: its wall time, CPU time and peak memory (its own, see LAUNCHER)."""
    environment = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    # as installed: Python's bytecode cache is used, and written by a first (untimed) run if missing;
    # a CI or container setting that forbids it would time compiling netspec's sources on every run
    environment.pop("PYTHONDONTWRITEBYTECODE", None)
    with tempfile.TemporaryDirectory(prefix="netspec-bench-") as folder:
        report = Path(folder) / "rusage.json"
        done = subprocess.run([sys.executable, "-c", LAUNCHER, str(report), *map(str, argv)], cwd=cwd, env=environment,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        if not report.exists():
            raise RuntimeError(f"could not run {' '.join(map(str, argv))}:\n{done.stdout.decode(errors='replace')}")
        usage = json.loads(report.read_text())
    return ProcessRun(usage["wall"], usage["cpu"], usage["peak_kb"] / 1024, usage["returncode"],
                      done.stdout.decode(errors="replace"))


def time_process(argv: Sequence[str], repeats: int, cwd: Path = ROOT, warmup: bool = True) -> tuple[Timing, list[ProcessRun]]:
    """Whole-process wall time over repeats (by default one untimed run first, to warm the file cache)."""
    runs = [run_process(argv, cwd) for _ in range(repeats + warmup)]
    failed = [r for r in runs if r.returncode != 0]
    if failed:
        raise RuntimeError(f"{' '.join(map(str, argv))} failed:\n{failed[0].output}")
    runs = runs[warmup:]
    return Timing.of([r.wall for r in runs]), runs


def python() -> str:
    return sys.executable


def netspec_command() -> list[str]:
    """The installed CLI next to this interpreter, as a user runs it."""
    script = Path(sys.executable).with_name("netspec")
    return [str(script)] if script.exists() else [sys.executable, "-m", "netspec.cli"]


def machine() -> dict:
    """What the figures were measured on."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = {}
    for package in ("torch", "torchvision", "torchinfo", "fvcore", "ptflops", "lark"):
        try:
            from importlib.metadata import version

            versions[package] = version(package)
        except Exception:  # noqa: BLE001 - not installed: say so
            versions[package] = "not installed"
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "versions": versions,
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS", "unset"),
        "commit": commit or "unknown",
        "date_utc": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }


def dump_json(data: dict, path: Path) -> None:
    path.write_text(json.dumps(data, indent=2, sort_keys=False) + "\n", encoding="utf-8")
