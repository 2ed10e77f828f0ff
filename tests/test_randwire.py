"""Randomly wired networks: the weighted_sum op's function, the generator against the paper, the wiring.

Expected figures come from Xie, Kirillov, Girshick & He, "Exploring Randomly Wired Neural
Networks for Image Recognition" (ICCV 2019): Table 2 (small regime, RandWire-WS C = 78:
583 M multiply-adds ("FLOPs") and 5.6 M parameters, means over five sampled networks) and
Table 3 (regular regime, C = 109: 4.0 B and 31.9 M).
"""
from __future__ import annotations

import math
import statistics

import networkx as nx
import pytest
import torch

import netspec
from netspec.generators.randwire import RandWireConfig, randwire_spec, stages
from netspec.ir.elaborate import elaborate
from netspec.ops import lookup

SEEDS = range(5)


@pytest.fixture(scope="module")
def small_ws():
    """The five sampled small-regime WS(32, 4, 0.75) networks of Table 2, C = 78: seed → spec text."""
    return {seed: randwire_spec(RandWireConfig(graph="ws", nodes=32, k=4, p=0.75, seed=seed, channels=78)) for seed in SEEDS}


def test_weighted_sum_is_sigmoid_weighted():
    op = lookup("weighted_sum")
    shapes = [(2, 3, 3)] * 3
    namespace = {"nn": torch.nn, "torch": torch}
    exec(op.helper, namespace)
    module = eval(op.module(op.prepare({}, shapes), shapes).render(), namespace)
    with torch.no_grad():
        module.weight.copy_(torch.tensor([-1.0, 0.0, 2.0]))
    xs = [torch.randn(4, *s) for s in shapes]
    expected = sum(x / (1 + math.exp(-w)) for x, w in zip(xs, (-1.0, 0.0, 2.0)))
    torch.testing.assert_close(module(xs), expected)

    mean = eval(op.module(op.prepare({"learned": False}, shapes), shapes).render(), namespace)
    assert list(mean.parameters()) == []
    torch.testing.assert_close(mean(xs), (xs[0] + xs[1] + xs[2]) / 3)


def test_small_regime_matches_table_2(small_ws):
    totals = [netspec.analyze(text).totals for text in small_ws.values()]
    params = statistics.mean(t.params for t in totals)
    macs = statistics.mean(t.macs for t in totals)
    assert params == pytest.approx(5.6e6, rel=0.05)
    assert macs == pytest.approx(583e6, rel=0.05)


def test_regular_regime_matches_table_3():
    totals = [netspec.analyze(randwire_spec(RandWireConfig(seed=s, regime="regular", channels=109))).totals for s in (0, 1)]
    assert statistics.mean(t.params for t in totals) == pytest.approx(31.9e6, rel=0.05)
    assert statistics.mean(t.macs for t in totals) == pytest.approx(4.0e9, rel=0.05)


def test_same_seed_same_bytes_other_seed_other_graph(small_ws):
    again = randwire_spec(RandWireConfig(graph="ws", nodes=32, k=4, p=0.75, seed=3, channels=78))
    assert again.encode() == small_ws[3].encode()
    assert len(set(small_ws.values())) == len(SEEDS)


def _stage_wiring(graph, stage: str) -> nx.DiGraph:
    """The random nodes of a stage (scopes `stage.nK`) and the edges between them, read back from the IR."""
    owner = {}
    for node in graph.layers():
        parts = node.name.split(".")
        if parts[0] == stage and len(parts) > 2:
            owner[node.name] = parts[1]
    wiring = nx.DiGraph()
    wiring.add_nodes_from(set(owner.values()))
    for node in graph.layers():
        for source in node.inputs:
            if node.name in owner and source in owner and owner[source] != owner[node.name]:
                wiring.add_edge(owner[source], owner[node.name])
    return wiring


def test_every_stage_is_a_dag_whose_nodes_all_reach_the_output(small_ws):
    config = RandWireConfig(seed=0)
    graph = elaborate(small_ws[0])
    for stage in stages(config):
        wiring = _stage_wiring(graph, stage.name)
        assert wiring.number_of_nodes() == stage.nodes
        # Watts-Strogatz rewiring moves edges but keeps their number: N·K/2
        assert wiring.number_of_edges() == stage.nodes * config.k // 2
        assert nx.is_directed_acyclic_graph(wiring)
        stage_nodes = [n.name for n in graph.layers() if n.name.split(".")[0] == stage.name]
        result = stage_nodes[-1]  # the stage's output: the last layer in execution order
        assert all(graph.digraph.has_node(n) and (n == result or nx.has_path(graph.digraph, n, result)) for n in stage_nodes)


def test_compiled_module_trains(small_ws):
    torch.manual_seed(0)
    model = netspec.compile(small_ws[0], classes=10)
    assert sum(p.numel() for p in model.parameters()) == netspec.analyze(small_ws[0], classes=10).totals.params
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    images, labels = torch.randn(4, 3, 64, 64), torch.randint(0, 10, (4,))
    weights = [p for name, p in model.named_parameters() if name.endswith("weighted_sum.weight")]
    before = [w.detach().clone() for w in weights]
    losses = []
    for _ in range(4):
        loss = torch.nn.functional.cross_entropy(model(images), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert all(torch.isfinite(torch.tensor(losses)))
    assert losses[-1] < losses[0]
    assert weights and all(not torch.equal(b, w) for b, w in zip(before, weights))


@pytest.mark.parametrize("graph, options", [("er", ["--p", "0.2"]), ("ba", ["--m", "3"])])
def test_cli_writes_a_spec_that_checks(graph, options, tmp_path):
    from tests.test_cli import run

    out = tmp_path / "rw.net"
    args = ["randwire", "--graph", graph, *options, "--nodes", "8", "--seed", "7", "--channels", "16", "-o", str(out)]
    result = run(*args)
    assert result.returncode == 0, result.stderr
    first = out.read_bytes()
    assert run(*args).returncode == 0 and out.read_bytes() == first
    checked = run("check", str(out))
    assert checked.returncode == 0, checked.stderr
    assert f"randwire_{graph}_seed7" in checked.stdout


def test_cli_rejects_an_impossible_graph_without_a_traceback(tmp_path):
    from tests.test_cli import run

    result = run("randwire", "--graph", "ws", "--k", "3", "--seed", "0", "-o", str(tmp_path / "x.net"))
    assert result.returncode == 2  # a usage error, as for every command
    assert "--k must be even" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "x.net").exists()


def test_report_draws_each_stage_next_to_the_layer_table():
    import shutil

    from netspec.analysis import Analysis
    from netspec.report import write_report_text

    text = randwire_spec(RandWireConfig(graph="ws", nodes=8, k=4, seed=2, channels=8))
    page, _ = write_report_text(Analysis(elaborate(text)), text, "rw.net")
    wiring = page[page.index('<section id="wiring">'):]
    wiring = wiring[: wiring.index("</section>")]
    assert page.index('id="layers"') < page.index('id="wiring"')
    for stage in ("conv3", "conv4", "conv5"):
        assert f"<code>{stage}</code></a>: 8 nodes, 16 edges" in wiring  # WS keeps N·K/2 = 8·4/2 edges
    if shutil.which("dot"):
        assert wiring.count("<svg") == 3
        assert wiring.count('class="edge"') >= 3 * 16


def test_report_of_a_hand_written_spec_has_no_wiring_section():
    from netspec.analysis import Analysis
    from netspec.report import write_report_text
    from tests.conftest import ROOT

    path = ROOT / "specs" / "googlenet.net"
    page, _ = write_report_text(Analysis(elaborate(path)), path.read_text(), str(path))
    assert 'id="wiring"' not in page
