"""An explicit `inplace=true` that the in-place rule refuses: a located warning that says why, and
torch confirms each reason (the in-place module computes something else, or cannot train)."""
from __future__ import annotations

import json

import pytest

import netspec
from netspec.analysis.diagnostics import inplace_warnings
from netspec.cli import main

CASES = {
    # name: (body, the layer that asks, what the reason names)
    "read-again": ("conv 4 3x3 pad=1 as features\nrelu inplace=true as act\nadd(features, act)\n",
                   "act", "'features' is also read by 'add'"),
    "network-input": ("relu inplace=true as act\nconv 4 3x3\n", "act", "the network input"),
    "output": ("conv 4 3x3 as c\nrelu inplace=true as act\noutput c, act\n", "act", "an output of the network"),
    "saved-for-backward": ("conv 4 3x3\nsigmoid as s\nrelu inplace=true as act\nconv 2 1x1\n",
                           "act", "'s' keeps its output for backward"),
    "view-read-later": ("conv 4 3x3 as c\nflatten as f\nr = f | relu inplace=true\n"
                        "k = c | zeropad 1 | flatten\noutput r, k\n",
                        "r", "shares storage with 'c', which 'k.zeropad' reads afterwards"),
}


def spec(body: str) -> str:
    return "network t\ninput 3x8x8\n" + body


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_warning_names_the_layer_and_the_reason(case):
    body, layer, reason = CASES[case]
    graph = netspec.analyze(spec(body)).graph
    warnings = inplace_warnings(graph)
    assert list(warnings) == [layer]
    warning = warnings[layer]
    assert reason in warning.message and warning.code == "inplace" and warning.severity == "warning"
    assert "inplace=true" in warning.render().splitlines()[1]  # the statement is shown under its position
    # without the request the rule keeps it out of place, and nothing is said
    quiet = netspec.analyze(spec(body.replace(" inplace=true", ""))).graph
    assert not inplace_warnings(quiet)


def _both(body: str):
    """The compiled module as asked (in place) and the same spec without inplace=true, same weights."""
    torch = pytest.importorskip("torch")
    asked = netspec.compile(spec(body)).double()
    plain = netspec.compile(spec(body.replace(" inplace=true", ""))).double()
    plain.load_state_dict(asked.state_dict())
    return torch, asked, plain


@pytest.mark.parametrize("case", ["read-again", "output", "view-read-later"])
def test_torch_computes_something_else_in_place(case):
    torch, asked, plain = _both(CASES[case][0])
    torch.manual_seed(0)
    x = torch.randn(2, 3, 8, 8, dtype=torch.float64)
    got, expected = asked.eval()(x.clone()), plain.eval()(x.clone())
    got, expected = (got, expected) if isinstance(got, (tuple, list)) else ((got,), (expected,))
    assert any(not torch.equal(g, e) for g, e in zip(got, expected))


def test_torch_overwrites_the_callers_tensor():
    torch, asked, _ = _both(CASES["network-input"][0])
    x = torch.randn(2, 3, 8, 8, dtype=torch.float64)
    before = x.clone()
    asked.eval()(x)
    assert (before < 0).any() and not torch.equal(x, before)


def test_torch_refuses_the_backward():
    torch, asked, plain = _both(CASES["saved-for-backward"][0])
    x = torch.randn(2, 3, 8, 8, dtype=torch.float64)
    plain.train()(x).sum().backward()  # out of place it trains
    with pytest.raises(RuntimeError, match="inplace operation"):
        asked.train()(x).sum().backward()


def test_check_summary_and_build_report_it(tmp_path, capsys):
    path = tmp_path / "unsafe.net"
    path.write_text(spec(CASES["read-again"][0]))
    assert main(["check", str(path)]) == 0
    assert f"{path}:4:1: warning: 'act' runs in place" in capsys.readouterr().err
    assert main(["check", str(path), "--format", "json"]) == 0
    (diagnostic,) = json.loads(capsys.readouterr().out)["diagnostics"]
    assert (diagnostic["line"], diagnostic["col"], diagnostic["code"]) == (4, 1, "inplace")
    assert main(["summary", str(path), "--format", "json"]) == 0
    (warning,) = json.loads(capsys.readouterr().out)["warnings"]
    assert warning == diagnostic
    assert main(["build", str(path), "-o", str(tmp_path / "out")]) == 0
    assert "warning: 'act' runs in place" in capsys.readouterr().err
    page = (tmp_path / "out" / "t.html").read_text()
    assert "&#39;act&#39; runs in place as inplace=true asks" in page and 'href="#layer-act"' in page
