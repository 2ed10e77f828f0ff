"""Dense pass vs sliding window: VGG-16 made fully convolutional, on a 448×448 image, on CPU.

The converted network (netspec.convolutionize of torchvision's vgg16) gives a 1000×8×8 map
in one pass. The alternative is to run the original network on each of the 64 windows of
224×224 at stride 32 (the output stride), which gives the same 64 classifications up to
the border effect of padding. Both are timed in the same run, interleaved (dense, windows,
dense, windows, ...), and the medians compared; the MAC counts come from the static
analysis of the converted spec (`netspec convolutionize specs/vgg16.net`).

    OMP_NUM_THREADS=1 python benchmarks/convolutionize_vgg16.py [--repeats 3] [--threads 1]
"""
from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch
import torchvision

import netspec
from netspec.compiler.convolutionize_analysis import convolutionize_spec

ROOT = Path(__file__).resolve().parents[1]
SIZE, WINDOW, STRIDE = 448, 224, 32


def windows_of(image: torch.Tensor) -> torch.Tensor:
    """The 64 windows of WINDOW×WINDOW at STRIDE, as one batch, cell (i, j) at index i·8 + j."""
    positions = range(0, SIZE - WINDOW + 1, STRIDE)
    return torch.cat([image[:, :, i: i + WINDOW, j: j + WINDOW] for i in positions for j in positions])


def timed(function) -> float:
    started = time.perf_counter()
    function()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="timed repeats of each (default 3)")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    parser.add_argument("--chunk", type=int, default=8, help="windows per batch for the original (default 8)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    converted_spec = convolutionize_spec(ROOT / "specs" / "vgg16.net")
    run = next(r for r in converted_spec.runs if r.input_shape == (3, SIZE, SIZE))

    original = torchvision.models.vgg16().eval()
    dense_model = netspec.convolutionize(original, (3, WINDOW, WINDOW))
    image = torch.randn(1, 3, SIZE, SIZE)
    crops = windows_of(image)

    def dense():
        with torch.no_grad():
            return dense_model(image)

    def windows():
        with torch.no_grad():
            return torch.cat([original(chunk) for chunk in crops.split(args.chunk)])

    out = dense()
    assert out.shape == (1, 1000, 8, 8), out.shape
    assert windows().shape == (64, 1000)

    dense_times, window_times = [], []
    for _ in range(args.repeats):
        dense_times.append(timed(dense))
        window_times.append(timed(windows))
    dense_s, windows_s = statistics.median(dense_times), statistics.median(window_times)

    print(f"VGG-16 on a {SIZE}x{SIZE} image, CPU, {args.threads} thread(s), torch {torch.__version__}, "
          f"median of {args.repeats} interleaved repeats")
    print(f"  dense pass        output 1000x8x8   {run.dense_macs / 1e9:8.2f} G MACs   {dense_s:8.2f} s")
    print(f"  64 windows        output 64x1000    {run.windows_macs / 1e9:8.2f} G MACs   {windows_s:8.2f} s")
    print(f"  ratio (windows / dense)             {run.ratio:8.2f}x MACs     {windows_s / dense_s:8.2f}x wall time")


if __name__ == "__main__":
    main()
