"""The generated code: golden sources, TorchScript and pickling of every zoo network, and names
that once broke the generator (Python keywords, nn.Module attributes, look-alike names).

Golden files live in tests/golden/; after a reviewed change of the generator, rewrite them
with `NETSPEC_UPDATE_GOLDEN=1 pytest tests/test_codegen.py` and read the diff.
"""
from __future__ import annotations

import io
import os
import pickle
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import torch

import netspec
from netspec.compiler.build import build_module
from netspec.compiler.codegen import generate
from netspec.ir.elaborate import elaborate, elaborate_spec
from netspec.ir.liveness import liveness
from netspec.ir.loader import load
from netspec.ir.module_names import MODULE_ATTRIBUTES
from tests.conftest import SPECS
from tests.torch_oracle import buffer_count, meta_module, param_count, run_on_meta

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = Path(__file__).resolve().parent / "golden"
ZOO = [(path, {}) for path in SPECS] + [
    (ROOT / "specs" / "googlenet.net", {"aux": True}),
    (ROOT / "specs" / "inception_v3.net", {"aux": True}),
]


def zoo_id(case) -> str:
    path, params = case
    return path.stem + "".join(f"-{k}={v}" for k, v in params.items())


# ---- golden sources ------------------------------------------------------------------------


@pytest.mark.parametrize("stem", ["lenet5", "vgg16", "resnet50", "mobilenet_v2"])
def test_generated_source_is_the_reviewed_one(stem, monkeypatch):
    monkeypatch.chdir(ROOT)  # the spec path is shown as written: specs/NAME.net
    source = generate(elaborate(Path("specs") / f"{stem}.net")).source
    golden = GOLDEN / f"{stem}.py"
    if os.environ.get("NETSPEC_UPDATE_GOLDEN"):
        golden.write_text(source)
    assert source == golden.read_text(), f"generated source differs from {golden}"


def test_golden_files_run_as_plain_python_and_import_only_torch():
    for golden in sorted(GOLDEN.glob("*.py")):
        imports = [line for line in golden.read_text().splitlines() if line.startswith(("import ", "from "))]
        assert imports and all(line in ("import torch", "from torch import nn", "from collections import OrderedDict") for line in imports)


def test_generate_returns_the_root_class_name():
    generated = generate(elaborate("network add\ninput 3x8x8\nconv 4 3x3 as a\nconv 4 1x1 as b\nadd(a, b)\n"))
    # the network's class is reserved first; the helper of the `add` op yields to it
    assert generated.class_name == "Add"
    assert "class Add_1(nn.Module):" in generated.source



def test_an_equal_elaboration_reuses_its_generation_and_any_change_to_the_spec_does_not(tmp_path):
    spec = tmp_path / "tiny.net"
    spec.write_text("network tiny\ninput 3x8x8\nconv 4 3x3\nrelu\n")
    first, again = generate(elaborate(spec)), generate(elaborate(spec))
    assert again is first  # two elaborations, equal graphs: one generation
    assert generate(elaborate(spec), inplace=False) is not first
    spec.write_text("network tiny\ninput 3x8x8\nconv 5 3x3\nrelu\n")  # same path and length, other text
    changed = generate(elaborate(spec))
    assert "nn.Conv2d(3, 5" in changed.source and "nn.Conv2d(3, 4" in first.source
    spec.write_text("network tiny\ninput 3x8x8\nconv 4 3x3\nrelu  \n")  # a change only the text shows
    assert generate(elaborate(spec)) is not first

# ---- TorchScript and pickle on the whole zoo -----------------------------------------------------


@pytest.mark.parametrize("case", ZOO, ids=zoo_id)
def test_zoo_scripts_and_pickles(case):
    path, params = case
    analysis = netspec.analyze(path, **params)
    module = meta_module(lambda: netspec.compile(path, **params)).eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # torch.jit.script is deprecated, not gone
        scripted = torch.jit.script(module)
    out = scripted(torch.empty(1, *analysis.input_shape, device="meta"))
    outs = out if isinstance(out, tuple) else (out,)
    in_eval = [tuple(s) for o, s in zip(analysis.graph.outputs, analysis.outputs.values()) if not o.training_only]
    assert [tuple(o.shape[1:]) for o in outs if o is not None] == in_eval  # training-only outputs are None

    buffer = io.BytesIO()
    torch.save(module, buffer)
    buffer.seek(0)
    loaded = torch.load(buffer, weights_only=False)
    assert type(loaded) is type(module)
    assert [(k, v.shape) for k, v in loaded.state_dict().items()] == [(k, v.shape) for k, v in module.state_dict().items()]


def test_pickled_module_keeps_its_weights_and_function():
    torch.manual_seed(0)
    model = netspec.compile(ROOT / "specs" / "lenet5.net").eval()
    copy = pickle.loads(pickle.dumps(model))
    x = torch.randn(2, 1, 28, 28)
    assert torch.equal(copy(x), model(x))


def test_saved_module_loads_in_a_fresh_process_without_the_generated_file(tmp_path):
    """torch.save(model) then, in a new interpreter that never compiled the spec, torchvision's
    usual torch.load(path, weights_only=False): the same classes, weights and outputs; a child
    module saved alone loads too. deepcopy and TorchScript still work on the compiled module."""
    torch.manual_seed(0)
    model = netspec.compile(ROOT / "specs" / "resnet18.net", classes=5).eval()
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        layer_input = model.layer1(torch.randn(2, 64, 8, 8))
        expected, expected_layer = model(x), model.layer2(layer_input)
    torch.save(model, tmp_path / "model.pt")
    torch.save(model.layer2, tmp_path / "layer2.pt")
    torch.save({"x": x, "layer_input": layer_input}, tmp_path / "inputs.pt")
    child = (
        "import sys, torch\n"
        "model = torch.load(sys.argv[1] + '/model.pt', weights_only=False)\n"
        "layer2 = torch.load(sys.argv[1] + '/layer2.pt', weights_only=False)\n"
        "inputs = torch.load(sys.argv[1] + '/inputs.pt')\n"
        "with torch.no_grad():\n"
        "    torch.save({'out': model(inputs['x']), 'layer': layer2(inputs['layer_input']),\n"
        "                'classes': [type(m).__name__ for m in model.modules()][:3]}, sys.argv[1] + '/outputs.pt')\n"
    )
    subprocess.run([sys.executable, "-c", child, str(tmp_path)], check=True, cwd=tmp_path,
                   env={**os.environ, "OMP_NUM_THREADS": "1"})
    got = torch.load(tmp_path / "outputs.pt")
    assert torch.equal(got["out"], expected)
    assert torch.equal(got["layer"], expected_layer)
    assert got["classes"] == ["Resnet18", "Conv2d", "BatchNorm2d"]

    import copy
    twin = copy.deepcopy(model)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        scripted = torch.jit.script(model)
    with torch.no_grad():
        assert torch.equal(twin(x), expected)
        assert torch.equal(scripted(x), expected)


# ---- one class per block definition, its variants' differences written as the spec's conditions ---


def test_mobilenet_v2_inverted_residual_is_one_class_making_torchvisions_choices():
    """torchvision builds every block with one InvertedResidual: `use_res_connect` decides the
    residual add, and the expansion layer opens `conv` only when expand_ratio != 1."""
    import torchvision

    with torch.device("meta"):
        model = netspec.compile(ROOT / "specs" / "mobilenet_v2.net")
        theirs = torchvision.models.mobilenet_v2()
    blocks = [(i, m) for i, m in enumerate(theirs.features) if isinstance(m, torchvision.models.mobilenetv2.InvertedResidual)]
    assert len(blocks) == 17  # the paper's Table 2: 1 + 2 + 3 + 4 + 3 + 3 + 1 blocks
    assert {type(model.features[i]) for i, _ in blocks} == {type(model.features[1])}
    assert model.netspec_source.count("class InvertedResidual") == 1
    for i, block in blocks:
        ours = model.features[i]
        assert (ours.add is not None) == block.use_res_connect, i
        assert [type(m).__name__ for m in ours.conv] == [
            "ConvBnRelu6" if type(m).__name__ == "Conv2dNormActivation" else type(m).__name__ for m in block.conv
        ], i


SMALL = "network n\ninput 3x16x16\n"
UNIT = SMALL + """block unit(width, kernel, pool):
    conv width kernel pad=(kernel - 1) // 2
    if pool:
        maxpool 2x2 stride=2
    relu
unit(4, 3, true)
unit(6, 5, false)
unit(8, 1, true)
"""


def test_a_blocks_variants_are_one_class_built_under_the_specs_conditions_and_expressions():
    source = generate(elaborate(UNIT)).source
    assert source.count("class Unit") == 1
    assert "padding=(kernel - 1) // 2" in source  # the spec's expression, not a parameter per value
    assert "        if pool:" in source
    assert_module_equals_analysis(UNIT)
    model = netspec.compile(UNIT)
    assert model.unit2.maxpool is None and model.unit1.maxpool is not None
    assert [model.unit1.conv.padding, model.unit2.conv.padding, model.unit3.conv.padding] == [(1, 1), (2, 2), (0, 0)]


NUMBERED = SMALL + """sequential block conv_bn(c, bn):
    conv c 3x3 pad=1 bias=not bn
    if bn:
        batchnorm
    relu
conv_bn(8, true)
conv_bn(8, false)
"""


def test_items_numbered_by_position_stay_one_class_when_some_instances_lack_one():
    """As torchvision's make_layers appends BatchNorm2d only with batch_norm=True: the relu is
    item 2 of the first instance and item 1 of the second."""
    source = generate(elaborate(NUMBERED)).source
    assert source.count("class ConvBn") == 1
    assert "        if bn:  #" in source and "bias=not bn" in source
    assert_module_equals_analysis(NUMBERED)
    model = netspec.compile(NUMBERED)
    assert [type(m).__name__ for m in model.conv_bn1] == ["Conv2d", "BatchNorm2d", "ReLU"]
    assert [type(m).__name__ for m in model.conv_bn2] == ["Conv2d", "ReLU"]
    assert model.conv_bn1[0].bias is None and model.conv_bn2[0].bias is not None


def test_only_the_condition_around_a_member_decides_it_not_one_that_happens_to_agree():
    # the pool exists in the first instance only (16x16 in, 8x8 in the second), as does the
    # batchnorm under `if bn:`; bn must not be read as the pool's condition
    text = SMALL + """sequential block two(c, bn):
    conv c 3x3 pad=1
    if bn:
        batchnorm
    relu
    if in.height > 8:
        maxpool 2x2 stride=2
two(8, true)
two(8, false)
"""
    source = generate(elaborate(text)).source
    assert source.count("class Two") == 1 and source.count("if bn:") == 1
    assert "def __init__(self, in_channels, bn, maxpool=False):" in source
    assert_module_equals_analysis(text)


def test_a_condition_python_cannot_write_over_the_parameters_becomes_a_flag():
    text = SMALL + "block down(c):\n    conv c 3x3 pad=1\n    if in.height > 4:\n" \
        "        maxpool 2x2 stride=2\ndown(4)\ndown(4)\ndown(4)\n"
    source = generate(elaborate(text)).source
    assert source.count("class Down") == 1
    assert "def __init__(self, in_channels, maxpool=False):" in source  # 16 and 8 pool, 4 does not
    assert_module_equals_analysis(text)


# ---- names that collide with Python, torch or each other ------------------------------------------


def assert_module_equals_analysis(text: str) -> None:
    """The compiled module has the analysis's layers (as module paths), shapes, parameters and buffers."""
    analysis = netspec.analyze(text)
    module = meta_module(lambda: netspec.compile(text))
    shapes, macs = run_on_meta(module, analysis.input_shape)
    for layer in analysis.layers:
        assert shapes.get(layer.name) == layer.output_shape, layer.name
    assert param_count(module) == analysis.totals.params
    assert buffer_count(module) == analysis.totals.buffers
    assert macs == analysis.totals.macs
    layer_names = {layer.name for layer in analysis.layers}
    assert {key.rsplit(".", 1)[0] for key in module.state_dict()} <= layer_names
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        torch.jit.script(module)


NET = "network n\ninput 3x8x8\n"
COLLISIONS = {
    # two spec names that a careless generator maps to one attribute
    "x and x_": NET + "conv 4 1x1 as x\nconv 4 1x1 as x_\n",
    "out and out_": NET + "conv 4 1x1 as out\nconv 4 1x1 as out_\n",
    "class and class_": NET + "conv 4 1x1 as class\nconv 4 1x1 as class_\n",
    # block parameters named like the generated constructor argument, keywords and file names
    "block parameter in_channels": NET + "block b(in_channels):\n    conv in_channels 3x3\nb(8)\nb(16)\n",
    "block parameters class lambda self nn super": NET
    + "block b(class, lambda, self, nn, super):\n"
    + "    conv class 1x1; conv lambda 1x1; conv self 1x1; conv nn 1x1; conv super 1x1\n"
    + "b(2, 3, 4, 5, 6)\nb(3, 4, 5, 6, 7)\n",
    "network none": "network none\ninput 3x8x8\nconv 4 3x3\n",
    "network add": "network add\ninput 3x8x8\nconv 4 3x3 as a\nconv 4 1x1 as b\nadd(a, b)\n",
    "network stage with a block stage": "network stage\ninput 3x8x8\nblock stage(c):\n    conv c 3x3\nstage(4)\nstage(8)\n",
    "block none": NET + "block none(c):\n    conv c 3x3\nnone(4)\nnone(6)\n",
    "three merge inputs named relu": NET
    + "block br():\n    conv 4 1x1; relu\nbr() as a\nbr() as b\nbr() as c\nz = add(a, b, c) | relu | conv 2 1x1\noutput z\n",
    # layer names nn.Module uses for itself, dunders and name mangling
    "nn.Module attributes": NET
    + "".join(f"conv 4 1x1 as {name}\n" for name in ("forward", "eval", "train", "to", "parameters", "state_dict", "_modules", "__class__"))
    + "conv 4 1x1 as forward_\n",
    "dunder and mangled names": NET + "conv 4 1x1 as __debug__\nconv 4 1x1 as __foo\nconv 4 1x1 as _\n",
    "numeric-looking and builtin names": NET + "conv 4 1x1 as range\nconv 4 1x1 as getattr\nconv 4 1x1 as torch\nconv 4 1x1 as Add\n"
    + "add(range, torch) as list\n",
}


@pytest.mark.parametrize("text", COLLISIONS.values(), ids=COLLISIONS.keys())
def test_colliding_names_give_the_module_the_analysis_describes(text):
    assert_module_equals_analysis(text)


def test_names_torch_reserves_are_renamed_in_the_ir_and_others_kept():
    analysis = netspec.analyze(COLLISIONS["nn.Module attributes"])
    names = [layer.name for layer in analysis.layers]
    assert names == ["forward__", "eval_", "train_", "to_", "parameters_", "state_dict_", "_modules_", "__class___", "forward_"]
    kept = netspec.analyze(COLLISIONS["class and class_"])
    assert [layer.name for layer in kept.layers] == ["class", "class_"]  # legal module names stay as written
    assert list(meta_module(lambda: netspec.compile(COLLISIONS["class and class_"])).state_dict())[:2] == ["class.weight", "class.bias"]


def test_reserved_module_attributes_cover_torch():
    assert set(dir(torch.nn.Module())) | set(dir(torch.nn.Sequential())) <= MODULE_ATTRIBUTES


def test_a_hostile_file_name_stays_inside_string_literals_and_comments(tmp_path):
    spec = tmp_path / 'a\nimport os; os.system("touch PWNED")\n#{x}.net'
    spec.write_text("network evil\ninput 3x8x8\nblock b(c):\n    conv c 1x1\nb(4)\nb(8)\n")
    out = tmp_path / "out"
    result = subprocess.run(
        [sys.executable, "-m", "netspec.cli", "build", spec.name, "-o", str(out)],
        cwd=tmp_path, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert result.returncode == 0, result.stderr
    source = (out / "evil.py").read_text()
    assert not any(line.lstrip().startswith("import os") for line in source.splitlines())
    namespace: dict = {"__name__": "evil"}
    exec(compile(source, "evil.py", "exec"), namespace)
    namespace["Evil"]()
    assert not (tmp_path / "PWNED").exists()
    model = netspec.compile(spec)  # the in-process path runs the same source
    assert param_count(model) == (3 * 4 + 4) + (4 * 8 + 8)
    assert not (tmp_path / "PWNED").exists() and not Path("PWNED").exists()


# ---- in-place layers -----------------------------------------------------------------------------


def small_graph(stem: str, shape: tuple[int, ...], **params):
    """A zoo network on a smaller input: the same layers and in-place decisions, a cheaper forward."""
    spec, library = load(ROOT / "specs" / f"{stem}.net")
    return elaborate_spec(spec, library, params, input_override=shape)


IN_PLACE_CASES = [("resnet50", (3, 32, 32), {}), ("mobilenet_v2", (3, 64, 64), {}), ("densenet121", (3, 64, 64), {}),
                  ("googlenet", (3, 96, 96), {"aux": True})]


@pytest.mark.parametrize("stem, shape, params", IN_PLACE_CASES, ids=[c[0] for c in IN_PLACE_CASES])
def test_in_place_layers_are_where_liveness_allows_and_change_neither_outputs_nor_gradients(stem, shape, params):
    graph = small_graph(stem, shape, **params)
    fast, slow = build_module(graph), build_module(graph, inplace=False)
    allowed = set(liveness(graph).inplace)
    assert allowed, "the zoo network should have layers that can run in place"
    in_place = {name for name, m in fast.named_modules() if getattr(m, "inplace", False) is True}
    assert in_place == allowed
    assert not any(getattr(m, "inplace", False) is True for m in slow.modules())

    slow.load_state_dict(fast.state_dict())
    results = []
    for model in (fast, slow):
        model.double().train()
        torch.manual_seed(0)
        x = torch.randn(2, *shape, dtype=torch.float64, requires_grad=True)
        outs = model(x)
        outs = outs if isinstance(outs, tuple) else (outs,)
        torch.manual_seed(1)
        loss = sum((o * torch.randn_like(o)).sum() for o in outs)
        loss.backward()
        results.append((outs, x.grad, {k: p.grad for k, p in model.named_parameters()}))
    (fast_outs, fast_dx, fast_grads), (slow_outs, slow_dx, slow_grads) = results
    for a, b in zip(fast_outs, slow_outs):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    torch.testing.assert_close(fast_dx, slow_dx, rtol=0, atol=0)
    assert fast_grads.keys() == slow_grads.keys()
    for key in fast_grads:
        torch.testing.assert_close(fast_grads[key], slow_grads[key], rtol=0, atol=0, msg=key)


# ---- outputs computed in training only -------------------------------------------------------------


HEADS = """
network heads
input 3x16x16
conv 8 3x3 pad=1 as trunk
head = trunk | global_avgpool | flatten | linear 4
main = trunk | flatten | linear 2
output main
output head when training
"""

# the head made inside a named scope, whole or in part (its last layer outside)
HEADS_IN_A_SCOPE = """
network heads
input 3x16x16
sequential features:
    conv 8 3x3 pad=1 as trunk
    relu as r
    head = r | global_avgpool | flatten | linear 4
    conv 8 3x3 pad=1 as last
main = last | flatten | linear 2
output main
output head when training
"""
HEAD_ACROSS_SCOPES = """
network heads
input 3x16x16
sequential features:
    conv 8 3x3 pad=1 as trunk
    relu as r
    pooled = r | global_avgpool | flatten
    conv 8 3x3 pad=1 as last
main = last | flatten | linear 2
head = pooled | linear 4
output main
output head when training
"""


@pytest.mark.parametrize("text", [HEADS, HEADS_IN_A_SCOPE, HEAD_ACROSS_SCOPES], ids=["top level", "in a scope", "across scopes"])
def test_training_only_outputs_run_and_return_only_in_training(text):
    analysis = netspec.analyze(text)
    assert [o.training_only for o in analysis.graph.outputs] == [False, True]
    model = netspec.compile(text)
    ran: list[str] = []
    for name, child in model.named_modules():
        if name:
            child.register_forward_hook(lambda m, i, o, name=name: ran.append(name))
    x = torch.randn(2, 3, 16, 16)
    model.eval()
    out = model(x)
    assert isinstance(out, torch.Tensor) and out.shape == (2, 2)
    assert not any(name.startswith(("head", "features.head", "features.pooled")) for name in ran)  # the head does not even run
    ran.clear()
    model.train()
    main, head = model(x)
    assert main.shape == (2, 2) and head.shape == (2, 4)
    assert {layer.name for layer in analysis.layers} <= set(ran)  # in training every layer runs
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        scripted = torch.jit.script(netspec.compile(text))  # a model without the Python hooks
    assert scripted.eval()(x)[1] is None  # TorchScript has one return type: the head is None in eval
    assert scripted.train()(x)[1].shape == (2, 4)


def test_googlenet_aux_heads_run_only_in_training_as_torchvisions():
    import torchvision

    model = meta_module(lambda: netspec.compile(ROOT / "specs" / "googlenet.net", aux=True))
    theirs = meta_module(lambda: torchvision.models.googlenet(weights=None, aux_logits=True, init_weights=False))
    x = torch.empty(2, 3, 224, 224, device="meta")
    for training in (False, True):
        ours_out, their_out = model.train(training)(x), theirs.train(training)(x)
        ours_out = ours_out if isinstance(ours_out, tuple) else (ours_out,)
        their_out = tuple(their_out) if isinstance(their_out, tuple) else (their_out,)
        assert [o.shape for o in ours_out] == [o.shape for o in their_out]


# ---- execution order: the forward's, which liveness and the memory analysis follow ---------------


def called_in_order(model: torch.nn.Module, x: torch.Tensor) -> list[str]:
    """The modules a training-mode forward calls, by path, in the order they return."""
    ran: list[str] = []
    hooks = [child.register_forward_hook(lambda m, i, o, name=name: ran.append(name))
             for name, child in model.named_modules() if name]
    model.train()(x)
    for hook in hooks:
        hook.remove()
    return ran


def test_googlenet_runs_each_aux_head_right_after_its_input_as_torchvisions():
    import torchvision

    ours = meta_module(lambda: netspec.compile(ROOT / "specs" / "googlenet.net", aux=True))
    theirs = meta_module(lambda: torchvision.models.googlenet(weights=None, aux_logits=True, init_weights=False))
    x = torch.empty(2, 3, 224, 224, device="meta")
    top = lambda names: [n for n in names if "." not in n]  # noqa: E731
    their_order = top(called_in_order(theirs, x))
    assert their_order.index("aux1") == their_order.index("inception4a") + 1  # torchvision's own order
    assert [n for n in top(called_in_order(ours, x)) if n in their_order] == their_order


LATE_HEAD_IN_A_SCOPE = """
network heads
input 3x16x16
sequential features:
    conv 8 3x3 pad=1 as trunk
    conv 8 3x3 pad=1 as middle
    head = trunk | global_avgpool | flatten | linear 4
    conv 8 3x3 pad=1 as last
main = last | flatten | linear 2
output main
output head when training
"""
# the head reads the stem through a view and has a relu that could overwrite it; `body` reads the stem too
HEAD_THROUGH_A_VIEW = """
network heads
input 3x8x8
conv 4 3x3 pad=1 as stem
global_avgpool as body
head = stem | flatten | relu{} | linear 4
main = body | flatten | linear 2
output main
output head when training
"""
ORDER_CASES = [
    pytest.param(lambda: elaborate(ROOT / "specs" / "googlenet.net", {"aux": True}), id="googlenet-aux"),
    pytest.param(lambda: elaborate(ROOT / "specs" / "inception_v3.net", {"aux": True}), id="inception_v3-aux"),
    *(pytest.param(lambda text=text: netspec.analyze(text).graph, id=name) for name, text in [
        ("top level", HEADS), ("in a scope", HEADS_IN_A_SCOPE), ("across scopes", HEAD_ACROSS_SCOPES),
        ("late in a scope", LATE_HEAD_IN_A_SCOPE), ("through a view", HEAD_THROUGH_A_VIEW.format("")),
        ("asking for in-place", HEAD_THROUGH_A_VIEW.format(" inplace=true"))]),
]


@pytest.mark.parametrize("make_graph", ORDER_CASES)
def test_the_forward_calls_layers_in_the_order_liveness_assumes(make_graph):
    graph = make_graph()
    model = meta_module(lambda: build_module(graph))
    modules = dict(model.named_modules())
    expected = [name for name in liveness(graph).order if name in modules]
    called = called_in_order(model, torch.empty(2, *graph.input.shape, device="meta"))
    assert [name for name in called if name in set(expected)] == expected


def test_a_head_moves_ahead_of_a_layer_that_does_not_feed_it():
    order = liveness(netspec.analyze(LATE_HEAD_IN_A_SCOPE).graph).order
    assert order.index("features.head.linear") < order.index("features.middle")  # it reads only the trunk


@pytest.mark.parametrize("request_inplace", [False, True], ids=["relu", "relu inplace=true"])
def test_a_moved_head_never_overwrites_what_a_later_layer_reads(request_inplace):
    text = HEAD_THROUGH_A_VIEW.format(" inplace=true" if request_inplace else "")
    live = liveness(netspec.analyze(text).graph)
    if request_inplace:  # asked for in-place on the stem's storage: it stays after `body`, where that is safe
        assert live.order.index("body") < live.order.index("head.relu") and "head.relu" in live.inplace
    else:  # moved ahead of `body`, which reads the stem afterwards: the relu must not overwrite it
        assert live.order.index("head.relu") < live.order.index("body") and "head.relu" not in live.inplace
    model = netspec.compile(text)
    x = torch.randn(2, 3, 8, 8)
    # eval skips the head; had it overwritten the stem before `body`, training would change `main`
    torch.testing.assert_close(model.train()(x)[0], model.eval()(x), rtol=0, atol=0)
