"""The benchmark suite keeps working: tiny runs of each section (no timing is asserted)."""
from __future__ import annotations

import math

import pytest

import netspec
from benchmarks import results, scaling, zoo
from benchmarks.common import Timing, run_process
from benchmarks.tools import available_tools


@pytest.mark.parametrize("shape", sorted(scaling.SHAPES))
def test_generated_specs_have_the_layers_asked_for(shape):
    # chain and repeat: 60 layers are 30 conv+relu pairs; wide: 6 modules of 8 branch convs, a concat and a conv
    assert len(netspec.analyze(scaling.SHAPES[shape](60)).layers) == 60


def test_growth_exponent_of_exact_power_laws():
    sizes = [1_000, 10_000, 100_000]
    assert scaling.fitted_exponent(sizes, [2e-6 * n for n in sizes]) == pytest.approx(1.0)
    assert scaling.fitted_exponent(sizes, [3e-9 * n * n for n in sizes]) == pytest.approx(2.0)
    assert scaling.fitted_exponent(sizes, [5e-7 * n * math.log(n) for n in sizes]) == pytest.approx(1.12, abs=0.01)


def test_timing_summary():
    timing = Timing.of([0.003, 0.001, 0.002])
    assert (timing.median, timing.low, timing.high, timing.runs) == (0.002, 0.001, 0.003, 3)
    assert timing.show() == "2.0 ms (1.0–3.0 ms, n=3)"
    assert Timing.of([0.0004, 0.002, 0.07]).show() == "2.0 ms (400 µs–70.0 ms, n=3)"


def test_a_process_reports_its_own_peak_memory(tmp_path):
    # 50 MB allocated by the child is in its peak; this test process's own memory is not
    small = run_process(["python3", "-c", "pass"], cwd=tmp_path)
    big = run_process(["python3", "-c", "b = bytearray(50 * 2**20); b[::4096] = b'x' * len(b[::4096])"], cwd=tmp_path)
    assert small.returncode == big.returncode == 0
    assert big.peak_rss_mb - small.peak_rss_mb > 45
    assert small.peak_rss_mb < 100


def test_scaling_section_and_its_report(tmp_path):
    found = {"scaling": scaling.scaling((20, 40), repeats=1, big_repeats=1)}
    for shape in scaling.SHAPES:
        rows = found["scaling"]["shapes"][shape]["rows"]
        assert [r["layers"] for r in rows] == [20, 40]
    text = "\n".join(results._scaling(found["scaling"]))
    assert "| chain | 40 |" in text and "grows as layers^" in text


def test_zoo_section_agrees_with_every_tool_on_lenet5():
    pytest.importorskip("torch")
    if not available_tools():
        pytest.skip("no counting tool installed (pip install -e '.[bench]')")
    rows = zoo.in_process(["lenet5"], repeats=1, tool_repeats=1)
    tools = rows[0]["tools"]
    for name, row in tools.items():
        assert row["agree"], (name, row["their_total"], row["netspec_in_their_convention"])
    # lenet5: 281,640 MACs (README); torchinfo adds the 16 + 6 conv and 120 + 84 + 10 linear biases
    # over their outputs: 6·24·24 + 16·8·8 + 214 = 4,694
    if "torchinfo" in tools:
        assert tools["torchinfo"]["their_total"] == 281_640 + 6 * 24 * 24 + 16 * 8 * 8 + 120 + 84 + 10
    assert "| lenet5 ¹ | 12 |" in "\n".join(results._zoo(rows))
