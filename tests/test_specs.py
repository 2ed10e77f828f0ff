"""Differential test over every spec in specs/: the static analysis equals what the compiled module does."""
from __future__ import annotations

import netspec
from tests.torch_oracle import buffer_count, meta_module, param_count, run_on_meta


def test_analysis_equals_compiled_module(spec_path):
    analysis = netspec.analyze(spec_path)
    module = meta_module(lambda: netspec.compile(spec_path))
    shapes, macs = run_on_meta(module, analysis.input_shape)

    for layer in analysis.layers:
        assert layer.name in shapes, f"no module ran for layer {layer.name}"
        assert shapes[layer.name] == layer.output_shape, layer.name
    assert param_count(module) == analysis.totals.params
    assert buffer_count(module) == analysis.totals.buffers
    assert macs == analysis.totals.macs


def test_compiled_module_runs_on_real_tensors_for_small_specs(spec_path):
    import pytest
    import torch

    analysis = netspec.analyze(spec_path)
    if analysis.totals.macs > 2e9:
        pytest.skip("a real forward of this size is slow on CPU; the meta-device test covers its shapes")
    module = netspec.compile(spec_path).eval()
    with torch.no_grad():
        out = module(torch.randn(2, *analysis.input_shape))
    outs = out if isinstance(out, tuple) else (out,)
    assert [tuple(o.shape[1:]) for o in outs] == list(analysis.outputs.values())
    assert all(torch.isfinite(o).all() for o in outs)
