"""Each language construct, end to end: the analysis, hand arithmetic and the compiled module agree."""
from __future__ import annotations

import pytest

import netspec
from netspec.errors import NetspecError
from tests.sample_specs import INCEPTION
from tests.torch_oracle import meta_module, param_count, run_on_meta


def agree(text: str, **params):
    """Analyse and compile `text`; assert they agree layer by layer; return the analysis."""
    analysis = netspec.analyze(text, **params)
    module = meta_module(lambda: netspec.compile(text, **params))
    shapes, macs = run_on_meta(module, analysis.input_shape)
    for layer in analysis.layers:
        assert shapes[layer.name] == layer.output_shape, layer.name
    assert param_count(module) == analysis.totals.params
    assert macs == analysis.totals.macs
    return analysis


def test_inception_branches_concat_channels():
    a = agree("network inc\ninput 192x28x28\n" + INCEPTION + "inception(64, 96, 128, 16, 32, 32)\n")
    assert a.outputs == {"inception": (64 + 128 + 32 + 32, 28, 28)}
    # GoogLeNet's inception (3a) weights, biases included: 1x1, 3x3 reduce+3x3, 5x5 reduce+5x5, pool proj
    expected = (192 * 64 + 64) + (192 * 96 + 96) + (96 * 9 * 128 + 128) + (192 * 16 + 16) + (16 * 25 * 32 + 32) + (192 * 32 + 32)
    assert a.totals.params == expected


def test_named_values_add_and_several_outputs():
    a = agree("""
network dag(classes = 10)
input 3x32x32
conv 16 3x3 pad=1 as stem
left = stem | conv 16 3x3 pad=1 | relu
right = stem | conv 16 1x1
add(left, right) | relu | global_avgpool | flatten | linear classes as logits
aux = stem | global_avgpool | flatten | linear classes
output logits, aux
""")
    assert list(a.outputs) == ["logits", "aux"]
    assert a.outputs["logits"] == (10,) and a.outputs["aux"] == (10,)


def test_output_switched_by_a_parameter():
    text = """
network heads(aux = false)
input 3x16x16
conv 8 3x3 pad=1 as trunk
head = trunk | global_avgpool | flatten | linear 4
main = trunk | flatten | linear 2
output main
if aux:
    output head
"""
    off = agree(text)
    assert list(off.outputs) == ["main"]
    assert not any(layer.name.startswith("head") for layer in off.layers)  # left out, with a warning:
    assert [w.message for w in off.graph.warnings] == [
        "'head.linear' is computed but never reaches an output; it is left out of the network"
    ]
    on = agree(text, aux=True)
    assert list(on.outputs) == ["main", "head"]
    assert on.totals.params == agree(text).totals.params + (8 * 4 + 4)


def test_repeat_index_and_conditionals():
    a = agree("""
network widen
input 3x32x32
repeat 3 as i:
    conv 16 * (i + 1) 3x3 pad=1
    if i == 2:
        maxpool 2
    else:
        relu
""")
    assert a.outputs == {"maxpool": (48, 16, 16)}
    assert a.totals.params == (3 * 9 * 16 + 16) + (16 * 9 * 32 + 32) + (32 * 9 * 48 + 48)


def test_in_properties_and_residual_when():
    a = agree("""
network mbv2_like
input 32x16x16
block inverted(c, out, stride, t):
    residual when stride == 1 and in.channels == out:
        conv c * t 1x1 bias=false; batchnorm; relu6
        conv in.channels 3x3 stride=stride pad=1 groups=in.channels bias=false; batchnorm; relu6
        conv out 1x1 bias=false; batchnorm
inverted(32, 32, 1, 6)
inverted(32, 64, 2, 6)
""")
    assert a.outputs == {"inverted2": (64, 8, 8)}
    ops = [layer.op for layer in a.layers]
    assert ops.count("add") == 1  # only the first block keeps its skip


def test_input_of_rank_one_and_three():
    one = agree("""
network audio
input 1x16000
conv 32 80 stride=16; batchnorm; relu; maxpool 4
conv 32 3 pad=same; batchnorm; relu
global_avgpool; flatten; linear 10
""")
    assert one.layers[0].output_shape == (32, (16000 - 80) // 16 + 1)
    three = agree("""
network video
input 3x8x32x32
conv 16 3x3x3 pad=1; batchnorm; relu; maxpool 1x2x2
dropout2d 0.2
conv 32 3 pad=1 stride=2; relu
global_avgpool; flatten; linear 5
""")
    assert three.layers[3].output_shape == (16, 8, 16, 16)


def test_every_op_family_in_one_network():
    agree("""
network kitchen_sink
input 8x16x16
conv 16 3x3 pad=same dilation=2; prelu per_channel=true; groupnorm 4
deconv 8 2x2 stride=2; leaky_relu slope=0.2; layernorm
avgpool 3 stride=2 pad=1 ceil=true count_pad=false; elu; lrn 3
zeropad 1; upsample 2 mode=linear; adaptive_maxpool 5x5
mul:
    branch: identity
    branch: global_maxpool; sigmoid
channel_shuffle 2
a = chunk 2 index=0
b = chunk(2, index=1) | hardswish
concat(a, b) | split (4, 4) index=1 | gelu | silu | tanh | hardsigmoid | relu6
reshape (4, 25) | flatten | dropout 0.1 | linear 10 | softmax
""")


def test_parameters_override_and_unknown_parameter():
    text = "network p(classes = 1000, width = 8)\ninput 3x8x8\nconv width 3x3\nflatten\nlinear classes\n"
    assert netspec.analyze(text, classes=7, width=4).outputs == {"linear": (7,)}
    with pytest.raises(NetspecError, match="has no parameter 'clases'; did you mean 'classes'"):
        netspec.analyze(text, clases=7)


def test_imports_share_blocks_and_refuse_escaping_the_project(tmp_path):
    project = tmp_path / "project"
    (project / "blocks").mkdir(parents=True)
    (project / "blocks" / "unit.net").write_text("block unit(c):\n    conv c 3x3 pad=1; relu\n")
    (project / "net.net").write_text('import "blocks/unit.net"\nnetwork net\ninput 3x8x8\nunit(4)\nunit(8)\n')
    assert netspec.analyze(project / "net.net").outputs == {"unit2": (8, 8, 8)}
    (tmp_path / "outside.net").write_text("block far(c):\n    conv c 1x1\n")
    (project / "escape.net").write_text('import "../outside.net"\nnetwork e\ninput 3x8x8\nfar(2)\n')
    with pytest.raises(NetspecError, match="leaves the project folder"):
        netspec.analyze(project / "escape.net")
    assert netspec.analyze(project / "escape.net", allow_outside_imports=True).outputs == {"far": (2, 8, 8)}


def test_compiled_module_trains_on_digits():
    """A compiled spec is an ordinary module: it learns scikit-learn-sized data in a few steps."""
    import torch

    torch.manual_seed(0)
    model = netspec.compile("""
network tiny(classes = 4)
input 1x8x8
conv 8 3x3 pad=1; relu; maxpool 2
flatten; linear classes
""")
    x = torch.randn(64, 1, 8, 8)
    y = (x.mean(dim=(1, 2, 3)) > 0).long() + 2 * (x[:, 0, :4].mean(dim=(1, 2)) > 0).long()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
    first = None
    for _ in range(60):
        loss = torch.nn.functional.cross_entropy(model(x), y)
        first = first if first is not None else loss.item()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert loss.item() < first / 3
