"""Compiled modules against their torchvision twins: forward time and construction time, in one run.

Forward: eval mode, CPU, no_grad, batch 1 and 32 at 224x224 (GoogLeNet too); the compiled
module holds torchvision's weights (loaded with strict=True). The two models run
interleaved after a warm-up, in alternating order (ours then theirs, theirs then ours, ...) so
that neither always runs in the other's wake and load on the machine hits both alike; the
figure is the ratio of the medians, ours / torchvision's (< 1: faster), with the ratio of the
fastest runs next to it (the figure a loaded machine disturbs least).

Construction: `netspec.compile(spec)` (parse, elaborate, generate and execute the code,
build the modules, initialize the weights) against torchvision's constructor with its
default initialization, interleaved, medians; both in a warm process, where netspec has
the spec's parse and its generated code cached in-process. The first call is reported apart
and is cold: the parse, the generation and the executed module are all forgotten before it.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/torch_vs_torchvision.py [--repeats 7] [--threads 1]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# spec -> (torchvision builder, its keyword arguments)
NETWORKS = {
    "resnet50": ("resnet50", {}),
    "vgg16": ("vgg16", {}),
    "googlenet": ("googlenet", {"aux_logits": False, "init_weights": True}),
    "mobilenet_v2": ("mobilenet_v2", {}),
}


def timed(function) -> float:
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def interleaved(first, second, repeats: int, warmup: int = 1) -> tuple[list[float], list[float]]:
    """Seconds of each run of `first` and of `second`, run alternately, each going first in
    every other round."""
    for _ in range(warmup):
        first()
        second()
    a, b = [], []
    for round_ in range(repeats):
        if round_ % 2:
            b.append(timed(second))
            a.append(timed(first))
        else:
            a.append(timed(first))
            b.append(timed(second))
    return a, b


def ratios(mine: list[float], reference: list[float]) -> str:
    """`median ratio (fastest-run ratio)`, ours over theirs."""
    return f"{statistics.median(mine) / statistics.median(reference):.3f} ({min(mine) / min(reference):.3f})"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads (default 1)")
    parser.add_argument("--batches", default="1,32")
    parser.add_argument("--networks", default=",".join(NETWORKS))
    args = parser.parse_args(argv)

    import torch
    import torchvision

    import netspec
    from netspec.compiler.build import clear_cache as clear_generated_modules
    from netspec.compiler.codegen import clear_cache as clear_generation_cache
    from netspec.syntax.parser import clear_cache as clear_parse_cache

    torch.set_num_threads(args.threads)
    names = args.networks.split(",")
    batches = [int(b) for b in args.batches.split(",")]
    print(f"torch {torch.__version__}, torchvision {torchvision.__version__}, {args.threads} thread(s), "
          f"{args.repeats} interleaved repeats, medians\n")

    print("| network | batch | netspec (ms) | torchvision (ms) | ratio (fastest runs) |")
    print("|---|---:|---:|---:|---:|")
    for name in names:
        builder, kwargs = NETWORKS[name]
        theirs = getattr(torchvision.models, builder)(weights=None, **kwargs).eval()
        ours = netspec.compile(ROOT / "specs" / f"{name}.net", weights=theirs).eval()
        for batch in batches:
            x = torch.randn(batch, 3, 224, 224)
            with torch.no_grad():
                torch.testing.assert_close(ours(x), theirs(x), rtol=1e-4, atol=1e-4)
                mine, reference = interleaved(lambda: ours(x), lambda: theirs(x), args.repeats)
            print(f"| {name} | {batch} | {statistics.median(mine) * 1e3:.1f} | "
                  f"{statistics.median(reference) * 1e3:.1f} | {ratios(mine, reference)} |", flush=True)
        del theirs, ours

    print("\n| network | netspec.compile (ms) | first call (ms) | torchvision constructor (ms) | ratio (fastest runs) |")
    print("|---|---:|---:|---:|---:|")
    for name in names:
        builder, kwargs = NETWORKS[name]
        spec = ROOT / "specs" / f"{name}.net"
        clear_parse_cache()
        clear_generation_cache()
        clear_generated_modules()
        first = timed(lambda: netspec.compile(spec))
        mine, reference = interleaved(
            lambda: netspec.compile(spec), lambda: getattr(torchvision.models, builder)(weights=None, **kwargs),
            args.repeats,
        )
        print(f"| {name} | {statistics.median(mine) * 1e3:.0f} | {first * 1e3:.0f} | "
              f"{statistics.median(reference) * 1e3:.0f} | {ratios(mine, reference)} |", flush=True)


if __name__ == "__main__":
    main()
