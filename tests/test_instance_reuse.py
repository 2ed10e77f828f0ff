"""Replaying equal block instances (netspec/ir/instances.py) gives exactly what elaborating each one gives.

Differential: every spec is elaborated twice, with instances replayed and with every body run,
and the two graphs (names, ops, attributes, inputs, shapes, spans, scopes), warnings, errors
and analyses must be equal.
"""
from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from netspec.analysis import Analysis
from netspec.errors import NetspecError
from netspec.ir import elaborate as elaboration
from netspec.ir.elaborate import elaborate_spec
from netspec.ir.loader import load
from netspec.ir.values import Tensor
from tests.conftest import ROOT
from tests.sample_specs import BOTTLENECK, INCEPTION

SPECS = sorted((ROOT / "specs").glob("*.net"))


def outcome(source, reuse: bool, **overrides):
    """The graph and its warnings, or the error text."""
    spec, library = load(source)
    try:
        graph = elaborate_spec(spec, library, dict(overrides), reuse_instances=reuse)
    except NetspecError as error:
        return "error", error.render(), error.more
    return "graph", graph, [w.render() for w in graph.warnings]


def assert_same(source, **overrides):
    replayed, elaborated = outcome(source, True, **overrides), outcome(source, False, **overrides)
    assert replayed[0] == elaborated[0], (replayed, elaborated)
    if replayed[0] == "error":
        assert replayed == elaborated
        return None
    fast, slow = replayed[1], elaborated[1]
    assert fast == slow  # every node: name, op, attributes, inputs, shape, source span, scope frames
    assert [n.scope for n in fast.nodes] == [n.scope for n in slow.nodes]
    assert [str(n.span) for n in fast.nodes] == [str(n.span) for n in slow.nodes]
    assert replayed[2] == elaborated[2]
    assert Analysis(fast).as_dict() == Analysis(slow).as_dict()
    return fast


def count_replays(source) -> int:
    """How many instances one elaboration replays (so the tests above are known to exercise it)."""
    replays = []
    original = elaboration.InstanceCache.replay

    def counting(self, *args):
        result = original(self, *args)
        replays.append(isinstance(result, Tensor))
        return result

    spec, library = load(source)
    elaboration.InstanceCache.replay = counting
    try:
        elaborate_spec(spec, library, {})
    finally:
        elaboration.InstanceCache.replay = original
    return sum(replays)


@pytest.mark.parametrize("path", SPECS, ids=lambda p: p.stem)
def test_every_zoo_spec_is_the_same_with_instances_replayed(path: Path):
    assert_same(path)


@pytest.mark.parametrize("stem", ["googlenet", "inception_v3"])
def test_auxiliary_heads_are_the_same_with_instances_replayed(stem):
    assert_same(ROOT / "specs" / f"{stem}.net", aux=True)


def test_resnet50_replays_its_repeated_bottlenecks():
    # per stage (3, 4, 6, 3 bottlenecks) the first projects; the others are equal, and the first
    # two of them are elaborated (the second is recorded): 0 + 1 + 3 + 0 = 4 are replayed
    assert count_replays(ROOT / "specs" / "resnet50.net") == 4
    # resnet152 (3, 8, 36, 3): 0 + 5 + 33 + 0
    assert count_replays(ROOT / "specs" / "resnet152.net") == 38


EDGE_CASES = {
    "two instances under one explicit name (a clash, reported the same way)": """
network n()
input 4x8x8
block b(c):
    conv c 3x3 pad=1
    relu
b(4) as x
b(4) as x
""",
    "two instances at one path, named after an op (no value is bound, so no duplicate-name error)": """
network n()
input 4x8x8
block b(c):
    conv c 3x3 pad=1
    relu
b(4) as relu
b(4) as relu
b(4) as b
b(4) as b
""",
    "nested blocks, a repeat inside, sequential numbering, an instance that adds no layer": """
network n()
input 4x8x8
block unit(c):
    conv c 1x1; relu
block none():
    if in.channels < 0:
        relu
sequential block stage(c, k):
    repeat k as i:
        unit(c)
    none()
    if i == k - 1:
        conv c 1x1
stage(4, 3)
stage(4, 3)
stage(8, 2) as named
stage(8, 2)
none()
""",
    "inline blocks and residuals with and without projection": BOTTLENECK + """
inline block pair(c):
    conv c 3x3 pad=1; relu
network n()
input 16x8x8
bottleneck(4)
bottleneck(4)
bottleneck(8, 2)
bottleneck(8)
bottleneck(8)
pair(32); pair(32)
""",
    "inception modules with branches and auxiliary-style named values": INCEPTION + """
network n(classes = 10)
input 8x16x16
inception(4, 2, 4, 2, 4, 4) as a
inception(4, 2, 4, 2, 4, 4) as b
inception(4, 2, 4, 2, 4, 4)
side = a | global_avgpool | flatten | linear classes
global_avgpool; flatten; linear classes as fc
output fc, side
""",
    "an error inside the third instance, and a block that names a layer twice": """
network n()
input 4x8x8
block b(c):
    conv c 3x3
    relu
block twice():
    relu as r
    relu as r
b(4); b(4); b(4); b(4); b(4)
twice(); twice()
""",
    "values of every type as arguments": """
network n()
input 4x16x16
block b(k, s = 1, p = 0.5, flag = true):
    conv 4 k stride=s pad=1 bias=flag
    dropout p
b(3x3); b(3x3); b(3, 1); b(3, 1.0); b(3x3, flag=false); b(3x3, 1, 0.5, true); b(3, 1.0)
""",
}


@pytest.mark.parametrize("text", EDGE_CASES.values(), ids=EDGE_CASES.keys())
def test_edge_cases_are_the_same_with_instances_replayed(text):
    assert_same(text)


def test_the_edge_cases_replay_instances():
    assert count_replays(EDGE_CASES["nested blocks, a repeat inside, sequential numbering, an instance that adds no layer"]) >= 3
    # b(3x3) three times (the last with its defaults written out): one replay; b(3, 1) and b(3, 1.0)
    # are different instances (were they taken for one, the last b(3, 1.0) would be a second replay)
    assert count_replays(EDGE_CASES["values of every type as arguments"]) == 1


def test_the_work_limit_stops_at_the_same_statement(monkeypatch):
    # each instance runs 3 statements; the limit falls inside the fourth instance
    monkeypatch.setattr(elaboration, "MAX_WORK", 13)
    text = "network n()\ninput 4x8x8\nblock b():\n    relu\n    relu\n    relu\nb(); b(); b(); b(); b()\n"
    kind, message, _ = outcome(text, True)
    assert kind == "error" and "more than 13 statements" in message
    assert outcome(text, True) == outcome(text, False)


def test_the_layer_limit_stops_at_the_same_layer(monkeypatch):
    monkeypatch.setattr(elaboration, "MAX_NODES", 9)
    text = "network n()\ninput 4x8x8\nblock b():\n    relu\n    relu\n    relu\nb(); b(); b(); b(); b()\n"
    assert outcome(text, True)[0] == "error"
    assert outcome(text, True) == outcome(text, False)


@st.composite
def block_specs(draw) -> str:
    """Blocks (plain, sequential, inline) with repeats, conditions on `in`, residuals and
    nested calls, called several times with few distinct arguments and colliding names."""
    body = []
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["conv", "relu", "repeat", "if", "residual", "inner", "named", "pool"]))
        if kind == "conv":
            body.append(f"conv {draw(st.sampled_from(['c', 'c * 2', 'in.channels', '2']))} 1x1")
        elif kind == "relu":
            body.append("relu")
        elif kind == "pool":
            body.append("maxpool 2x2 stride=2 ceil=true")
        elif kind == "repeat":
            body += [f"repeat {draw(st.integers(0, 2))} as i:", "    conv c 1x1", "    inner(c + i)"]
        elif kind == "if":
            body += ["if in.channels == c:", "    relu", "else:", "    conv c 1x1"]
        elif kind == "residual":
            body += ["residual:", "    conv c 1x1", "shortcut when in.channels != c:", "    conv c 1x1"]
        elif kind == "inner":
            body.append("inner(c)")
        else:
            body.append(f"relu as {draw(st.sampled_from(['r', 'relu', 's']))}")
    kind = draw(st.sampled_from(["", "sequential ", "inline "]))
    inner_kind = draw(st.sampled_from(["", "sequential ", "inline "]))
    lines = ["network n()", f"input {draw(st.integers(1, 3))}x8x8",
             f"{inner_kind}block inner(c):", "    conv c 1x1; relu",
             f"{kind}block b(c):", *("    " + line for line in body)]
    for _ in range(draw(st.integers(1, 6))):
        name = draw(st.sampled_from(["", "", " as x", " as y"]))
        lines.append(f"b({draw(st.integers(1, 2))}){name}")
    if draw(st.booleans()):
        lines += ["repeat 3:", "    b(2)"]
    return "\n".join(lines) + "\n"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(block_specs())
def test_generated_block_specs_are_the_same_with_instances_replayed(text):
    assert_same(text)


def test_the_fields_rebuilt_positionally_are_all_the_fields():
    # ir/naming.py and ir/instances.py build Node and Frame positionally (faster than
    # dataclasses.replace); a field added to either must be added there too, or it is dropped
    from dataclasses import fields

    from netspec.ir.graph import Frame, Node

    assert [f.name for f in fields(Node)] == ["name", "op", "attrs", "inputs", "shape", "span", "scope"]
    assert [f.name for f in fields(Frame)] == ["name", "block", "span", "args", "definition"]
