"""How long netspec's static analysis takes against counting by running the model, in one run.

The alternatives a user would otherwise reach for count parameters and MACs by building
the torchvision model and running a forward pass under a counter. We time, per network:
  netspec    netspec.analyze(spec): parse, elaborate, check, count (no torch)
  flop-cpu   torchvision model built on CPU + one forward under torch's FlopCounterMode
  flop-meta  the same on the meta device (no real arithmetic, no weight init)
and report each as a ratio to netspec. Run: .venv/bin/python benchmarks/analysis_speed.py
"""
from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

NETWORKS = {"resnet50": (3, 224, 224), "vgg16": (3, 224, 224), "googlenet": (3, 224, 224)}


def best_of(function, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    import torch
    import torchvision
    from torch.utils.flop_counter import FlopCounterMode

    import netspec

    def count_by_running(name: str, shape, device: str):
        with torch.device(device):
            model = getattr(torchvision.models, name)(weights=None).eval()
            counter = FlopCounterMode(display=False)
            with counter, torch.no_grad():
                model(torch.empty(1, *shape) if device == "meta" else torch.randn(1, *shape))
        return counter.get_total_flops() // 2

    print(f"{'network':<10} {'netspec':>9} {'flop-cpu':>9} {'ratio':>7} {'flop-meta':>10} {'ratio':>7}  MACs agree")
    ratios = []
    for name, shape in NETWORKS.items():
        spec = ROOT / "specs" / f"{name}.net"
        ours = best_of(lambda: netspec.analyze(spec))
        cpu = best_of(lambda: count_by_running(name, shape, "cpu"), repeat=1)
        meta = best_of(lambda: count_by_running(name, shape, "meta"))
        agree = netspec.analyze(spec).totals.macs == count_by_running(name, shape, "meta")
        ratios.append(cpu / ours)
        print(f"{name:<10} {ours:>8.3f}s {cpu:>8.3f}s {cpu / ours:>6.1f}x {meta:>9.3f}s {meta / ours:>6.1f}x  {agree}")
    print(f"netspec is {statistics.geometric_mean(ratios):.1f}x faster than counting by a CPU forward (geometric mean)")


if __name__ == "__main__":
    main()
