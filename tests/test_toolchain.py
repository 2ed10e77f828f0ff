"""Compiled modules survive what training code does to a model: trace, fx, compile, ONNX, copies, devices.

Each check runs on lenet5, resnet50 and googlenet with its auxiliary heads (small inputs keep
it cheap: every one of them pools globally or adaptively). torch.jit.script and pickling of
whole modules are tested with the code generator. The oracle is always the eager module.
"""
from __future__ import annotations

import copy
import io

import pytest

torch = pytest.importorskip("torch")

import netspec  # noqa: E402
from tests.conftest import ROOT  # noqa: E402

CASES = {
    "lenet5": ("lenet5", {}, (1, 28, 28)),
    "resnet50": ("resnet50", {}, (3, 64, 64)),
    "googlenet_aux": ("googlenet", {"aux": True}, (3, 64, 64)),
}


@pytest.fixture(scope="module", params=list(CASES))
def case(request):
    stem, params, shape = CASES[request.param]
    torch.manual_seed(0)
    model = netspec.compile(ROOT / "specs" / f"{stem}.net", **params).eval()
    return request.param, model, shape


def batch(shape, n=2, seed=1):
    return torch.randn(n, *shape, generator=torch.Generator().manual_seed(seed))


def outputs(result) -> tuple:
    return result if isinstance(result, tuple) else (result,)


def assert_same(got, expected, rel=1e-5):
    got, expected = outputs(got), outputs(expected)
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        assert g.shape == e.shape
        assert (g.float() - e.float()).abs().max().item() <= rel * e.abs().max().item()


def eager(model, x):
    with torch.no_grad():
        return model(x)


@pytest.mark.filterwarnings("ignore:`torch.jit.trace")
def test_jit_trace(case):
    _, model, shape = case
    traced = torch.jit.trace(model, batch(shape), check_trace=False)
    x = batch(shape, n=3, seed=2)  # another batch size: the trace is not tied to the example's
    assert_same(eager(traced, x), eager(model, x))


def test_fx_symbolic_trace_keeps_the_module_paths(case):
    name, model, shape = case
    graph_module = torch.fx.symbolic_trace(model)
    x = batch(shape)
    assert_same(eager(graph_module, x), eager(model, x))
    called = {node.target for node in graph_module.graph.nodes if node.op == "call_module"}
    parameter_holders = {n for n, m in model.named_modules() if list(m.parameters(recurse=False))}
    if name == "googlenet_aux":  # the heads are `output ... when training`: an eval trace has none of them
        assert not any(str(target).startswith(("aux1.", "aux2.")) for target in called)
        parameter_holders = {n for n in parameter_holders if not n.startswith(("aux1.", "aux2."))}
    assert parameter_holders <= called  # every layer with weights is a call_module node under its own path
    if name == "resnet50":
        assert "layer1.0.downsample.0" in called


def test_onnx_export_runs_the_same_in_onnxruntime(case, tmp_path):
    ort = pytest.importorskip("onnxruntime")
    from netspec.compiler.export import export_onnx

    _, model, shape = case
    path = tmp_path / "model.onnx"
    data, exporter = export_onnx(model, shape)
    assert exporter == "torch.onnx torchscript-based exporter"  # the fast one suffices at this size
    path.write_bytes(data)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    x = batch(shape, n=3)  # the batch axis is dynamic
    got = session.run(None, {"input": x.numpy()})
    assert_same(tuple(torch.from_numpy(g) for g in got), eager(model, x), rel=1e-4)


def test_deepcopy_is_independent(case):
    _, model, shape = case
    twin = copy.deepcopy(model)
    x = batch(shape)
    assert_same(eager(twin, x), eager(model, x))
    first = next(model.parameters())
    assert next(twin.parameters()).data_ptr() != first.data_ptr()


def test_state_dict_round_trips_through_torch_save(case):
    name, model, shape = case
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    buffer.seek(0)
    stem, params, _ = CASES[name]
    fresh = netspec.compile(ROOT / "specs" / f"{stem}.net", **params).eval()
    fresh.load_state_dict(torch.load(buffer, weights_only=True), strict=True)
    x = batch(shape)
    assert_same(eager(fresh, x), eager(model, x), rel=0)


def test_channels_last(case):
    _, model, shape = case
    x = batch(shape)
    expected = eager(model, x)
    fast = copy.deepcopy(model).to(memory_format=torch.channels_last)
    assert_same(eager(fast, x.to(memory_format=torch.channels_last)), expected, rel=1e-4)


def test_cpu_autocast_bfloat16(case):
    _, model, shape = case
    x = batch(shape)
    expected = eager(model, x)
    with torch.autocast("cpu", dtype=torch.bfloat16), torch.no_grad():
        got = model(x)
    assert outputs(got)[0].dtype == torch.bfloat16  # the final linear layer ran in bfloat16
    assert_same(got, expected, rel=0.1)  # bfloat16 keeps about 3 significant digits


@pytest.mark.parametrize("device", ["cpu", "cuda"])
def test_to_device_and_back(case, device):
    if device == "cuda" and not torch.cuda.is_available():
        pytest.skip("no CUDA device on this machine")
    _, model, shape = case
    x = batch(shape)
    expected = eager(model, x)
    moved = copy.deepcopy(model).to(device)
    assert all(p.device.type == device for p in moved.parameters())
    got = eager(moved, x.to(device))
    assert_same(tuple(g.cpu() for g in outputs(got)), expected, rel=1e-4)


def test_googlenet_outputs_come_in_torchvisions_order():
    """`output fc, aux2, aux1`: the compiled module returns its outputs in the order of the spec's
    `output` line, which for GoogLeNet is torchvision's (logits, aux_logits2, aux_logits1)."""
    torchvision = pytest.importorskip("torchvision")
    from tests.test_zoo_reference import random_weights

    with torch.device("meta"):
        theirs = torchvision.models.googlenet(weights=None, aux_logits=True, init_weights=False)
    theirs = theirs.to_empty(device="cpu")
    random_weights(theirs)
    ours = netspec.compile(ROOT / "specs" / "googlenet.net", aux=True, weights=theirs)
    for model in (theirs, ours):  # training mode, so the heads run; dropout off, so both are deterministic
        model.train()
        for module in model.modules():
            if isinstance(module, torch.nn.Dropout):
                module.eval()
    x = batch((3, 64, 64))
    with torch.no_grad():
        expected = tuple(theirs(x))
        got = outputs(ours(x))
    assert len(got) == 3
    assert_same(got, expected, rel=1e-5)


def test_torch_compile_lenet5_in_one_graph():
    """torch.compile traces the whole forward without a graph break (CPU; AOT autograd, forward
    and backward), with the gradient taken with respect to the input as well."""
    model = netspec.compile(ROOT / "specs" / "lenet5.net").eval()
    compiled = torch.compile(model, backend="aot_eager", fullgraph=True)
    x = batch((1, 28, 28)).requires_grad_()
    got = compiled(x)
    got.sum().backward()
    expected_grad = torch.autograd.grad(model(x).sum(), x)[0]
    assert_same(got.detach(), eager(model, x.detach()))
    assert_same(x.grad, expected_grad)
    torch._dynamo.reset()


def test_torch_compile_default_backend_trains_and_infers(tmp_path, monkeypatch):
    """The default backend (inductor: generated C++ kernels) from a cold cache, as a user meets
    it: one training step with gradients, then eval, both equal to the eager module."""
    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", str(tmp_path))  # nothing reused from earlier runs
    torch.manual_seed(0)
    model = netspec.compile(ROOT / "specs" / "lenet5.net")
    compiled = torch.compile(model, fullgraph=True)
    x = batch((1, 28, 28), n=4)
    try:
        got = compiled(x)
        got.square().sum().backward()
        compiled_grads = [p.grad.clone() for p in model.parameters()]
        model.zero_grad()
        expected = model(x)
        expected.square().sum().backward()
        assert_same(got.detach(), expected.detach())
        for mine, reference in zip(compiled_grads, (p.grad for p in model.parameters())):
            assert_same(mine, reference)
        model.eval()
        assert_same(eager(compiled, x), eager(model, x))
    finally:
        torch._dynamo.reset()
