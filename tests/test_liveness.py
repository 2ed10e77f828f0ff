"""The liveness analysis and its in-place rule: hand-made graphs, and torch as the oracle.

The rule is checked the only way that matters: running a network with every node the
rule allows in place must give the same outputs and the same gradients (inputs and
parameters) as running it entirely out of place; and torch must object (an autograd
error, or different numbers) when a node the rule refuses is forced in place anyway.
"""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

import netspec
from netspec.ir.liveness import liveness
from tests.graph_runner import GraphRunner, graph_at

ROOT = Path(__file__).resolve().parents[1]


def analyse(body: str, input_shape: str = "3x8x8"):
    graph = netspec.analyze(f"network t\ninput {input_shape}\n{body}").graph
    return graph, liveness(graph)


# ---- order, last use, storage -------------------------------------------------------------


def test_order_is_graph_order_and_last_use_is_the_last_reader():
    graph, live = analyse("conv 4 3x3 as a\nb = a | relu\nc = a | conv 4 1x1\nadd(b, c) as s\n")
    assert live.order == tuple(n.name for n in graph.nodes)
    assert live.last_use["a"] == live.position["c"]  # read by b, then by c
    assert live.last_use["b"] == live.position["s"]
    assert live.last_use["s"] == len(graph.nodes)  # a graph output lives to the end
    assert live.last_use["input"] == live.position["a"]


def test_training_only_units_run_as_soon_as_what_they_read_exists():
    from netspec.ir.order import run_early

    # a chain 0 → 1 → 2 → 3; unit 4 reads 0, unit 5 reads 4 and 2
    reads = [set(), {0}, {1}, {2}, {0}, {4, 2}]
    assert run_early(reads, early=[4, 5]) == [0, 4, 1, 2, 5, 3]
    assert run_early(reads, early=[]) == [0, 1, 2, 3, 4, 5]
    # the liveness order of a head written last: it runs right after the value it reads
    graph, live = analyse("conv 4 3x3 as a\nconv 4 3x3 as b\nconv 4 3x3 as c\nhead = a | flatten | linear 2\n"
                          "main = c | flatten | linear 2\noutput main\noutput head when training\n")
    assert [n for n in live.order if "." not in n] == ["input", "a", "b", "c"]
    assert live.order.index("head.linear") < live.order.index("b")
    assert live.last_use["a"] == live.position["b"]  # no longer held for the head's place in the spec


def test_views_share_their_inputs_storage():
    graph, live = analyse("conv 4 3x3 as a\nflatten as f\nreshape (4, 6, 6) as r\nflatten\nlinear 2 as l\n", "3x8x8")
    assert live.storage["f"] == live.storage["r"] == "a"
    assert live.allocates("a") and not live.allocates("f") and live.allocates("l")
    assert live.storage_last_use("a") == live.position["l"]


# ---- the rule on hand-made graphs ----------------------------------------------------------------


def test_relu_after_conv_runs_in_place_but_not_after_relu():
    # conv keeps its input for backward, not its output: the first relu may overwrite it.
    # relu keeps its output: the second relu may not overwrite the first one's result.
    _, live = analyse("conv 4 3x3 as c\nrelu as r1\nrelu as r2\n")
    assert live.inplace == {"r1": 0}


def test_never_the_network_input_nor_an_output_nor_a_shared_value():
    assert not analyse("relu\n")[1].inplace  # the caller's tensor
    _, live = analyse("conv 4 3x3 as c\nr = c | relu\nd = c | conv 4 1x1\noutput r, d\n")
    assert "r" not in live.inplace  # c is read again later
    _, live = analyse("conv 4 3x3 as c\nr = c | relu\noutput c, r\n")
    assert "r" not in live.inplace  # c is an output


def test_sigmoid_output_is_kept_so_a_following_relu_copies():
    _, live = analyse("conv 4 3x3\nsigmoid\nrelu as r\n")
    assert "r" not in live.inplace
    _, live = analyse("conv 4 3x3\ngelu\nrelu as r\n")  # gelu keeps its input, not its output
    assert "r" in live.inplace


def test_add_overwrites_its_first_operand_only_when_it_is_the_last_reader():
    _, live = analyse("conv 4 3x3 pad=1 as a\nb = a | conv 4 3x3 pad=1\nadd(b, a) as s\n")
    assert live.inplace["s"] == 0  # b is read only by the add
    _, live = analyse("conv 4 3x3 pad=1 as a\nb = a | conv 4 3x3 pad=1\nadd(a, b) as s\nrelu\n")
    assert "s" not in live.inplace  # a is read by b and by the add


def test_alias_chains_are_followed():
    # relu on a view of c: allowed when nothing else reads c ...
    _, live = analyse("conv 4 3x3 as c\nflatten\nrelu as r\n")
    assert "r" in live.inplace
    # ... refused when c is read after the relu (through another view as well) ...
    _, live = analyse("conv 4 3x3 as c\nr = c | flatten | relu\nk = c | flatten | linear 2\noutput r, k\n")
    assert "r.relu" not in live.inplace and not any(n.endswith("relu") for n in live.inplace)
    # ... and refused when the storage's producer keeps its output (relu -> flatten -> relu).
    _, live = analyse("conv 4 3x3\nrelu as r1\nflatten\nrelu as r2\n")
    assert "r1" in live.inplace and "r2" not in live.inplace


def test_an_earlier_reader_that_keeps_the_value_for_backward_blocks_the_overwrite():
    body = "conv 4 3x3 as c\nflatten as f\nk = c | {reader} | flatten\nr = f | relu\noutput k, r\n"
    _, saving = analyse(body.format(reader="conv 2 1x1"))  # conv keeps its input c
    assert "r" not in saving.inplace
    _, not_saving = analyse(body.format(reader="zeropad 1"))  # padding keeps nothing
    assert "r" in not_saving.inplace


def test_dropout_after_a_relu_is_not_in_place_after_a_linear_it_is():
    _, live = analyse("flatten\nlinear 8\nrelu as r\ndropout as d1\nlinear 8\ndropout as d2\nlinear 2\n")
    assert "r" in live.inplace
    assert "d1" not in live.inplace  # relu keeps its output
    assert "d2" in live.inplace


def test_an_explicit_inplace_attribute_runs_in_place_and_is_flagged_when_unsafe():
    _, live = analyse("conv 4 3x3\nrelu\nrelu inplace=true as r2\n")
    assert "r2" in live.inplace and live.unsafe_inplace == ("r2",)


def test_ops_with_an_in_place_form_provide_its_module():
    graph, _ = analyse("conv 4 3x3\nrelu\ndropout\nleaky_relu\nelu\nrelu6\nsilu\nhardswish\nhardsigmoid\n")
    for node in graph.layers():
        shapes = graph.input_shapes(node)
        if node.opdef.inplace_operand(node.attrs, shapes) is not None:
            assert "inplace=True" in node.opdef.inplace_module(node.attrs, shapes).render()


# ---- torch as the oracle -------------------------------------------------------------------------


def outputs_and_gradients(graph, inplace, seed: int = 0):
    torch.manual_seed(seed)
    runner = GraphRunner(graph).double()
    reference_state = runner.state_dict()
    results = []
    for chosen in ((), inplace):
        model = GraphRunner(graph, chosen).double()
        model.load_state_dict(reference_state)
        model.train()
        torch.manual_seed(seed + 1)
        x = torch.randn(2, *graph.input.shape, dtype=torch.float64, requires_grad=True)
        torch.manual_seed(seed + 2)
        outs = model(x)
        loss = sum((o * torch.linspace(-1, 1, o.numel(), dtype=o.dtype).view_as(o)).sum() for o in outs)
        loss.backward()
        grads = [x.grad] + [p.grad for p in model.parameters()]
        results.append(([o.detach() for o in outs], grads))
    return results


def assert_same(results):
    (outs_a, grads_a), (outs_b, grads_b) = results
    for a, b in zip(outs_a, outs_b):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-9)
    for a, b in zip(grads_a, grads_b):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-9)


# Zoo networks at small inputs (global pooling lets them run below 224) — enough to exercise
# every in-place pattern they contain: relu after batchnorm, residual adds, relu6, dropout.
ZOO_CASES = [
    ("lenet5", None),  # relu after conv, relu after linear
    ("resnet18", (3, 32, 32)),  # relu after batchnorm, residual adds
    ("mobilenet_v2", (3, 32, 32)),  # relu6, adds without a final relu, dropout
    ("googlenet", (3, 32, 32)),  # branches read one value, concatenation
    ("densenet121", (3, 32, 32)),  # identity branches and repeated concatenation
]


@pytest.mark.parametrize("spec, input_shape", ZOO_CASES, ids=[c[0] for c in ZOO_CASES])
def test_in_place_where_the_rule_allows_changes_nothing(spec, input_shape):
    graph = graph_at(ROOT / "specs" / f"{spec}.net", input_shape)
    live = liveness(graph)
    assert live.inplace, "the zoo network has in-place opportunities"
    assert_same(outputs_and_gradients(graph, set(live.inplace)))


def test_hand_made_patterns_agree_with_torch():
    bodies = [
        "conv 4 3x3 pad=1 as a\nb = a | conv 4 3x3 pad=1 | batchnorm | relu\nadd(b, a) | relu\n",
        "conv 4 3x3 as c\nflatten\nrelu\nlinear 3\nrelu\ndropout\nlinear 2\n",
        "conv 4 3x3 as c\nflatten as f\nk = c | zeropad 1 | flatten\nr = f | relu\noutput k, r\n",
        "conv 4 3x3\nleaky_relu\nelu\nrelu6\nsilu\nhardswish\nhardsigmoid\nglobal_avgpool\n",
    ]
    for body in bodies:
        graph, live = analyse(body)
        assert live.inplace
        assert_same(outputs_and_gradients(graph, set(live.inplace)))


@pytest.mark.parametrize(
    "body, forced",
    [
        ("conv 4 3x3\nrelu\nrelu as r2\nflatten\nlinear 1\n", "r2"),  # relu keeps its output
        ("conv 4 3x3\nsigmoid\nrelu as r\nflatten\nlinear 1\n", "r"),  # sigmoid keeps its output
        ("conv 4 3x3 as c\nflatten as f\nk = c | conv 2 1x1 | flatten\nr = f | relu\noutput k, r\n", "r"),  # conv keeps c
        ("conv 4 3x3 pad=1 as a\nb = a | relu\nadd(b, a) | flatten | linear 1\n", "b"),  # a is read later
    ],
)
def test_torch_objects_when_a_refused_node_is_forced_in_place(body, forced):
    """The oracle can fail: overriding the rule breaks gradients or outputs."""
    graph, live = analyse(body, "3x6x6")
    assert forced not in live.inplace
    try:
        results = outputs_and_gradients(graph, set(live.inplace) | {forced})
    except RuntimeError as error:
        assert "inplace" in str(error) or "in-place" in str(error)
        return
    with pytest.raises(AssertionError):
        assert_same(results)


def test_dead_after_lists_the_values_a_node_reads_last():
    graph, live = analyse("conv 4 3x3 as a\nb = a | relu\nc = a | conv 4 1x1\nadd(b, c) as s\n")
    assert live.dead_after("c") == ("a",)
    assert live.dead_after("s") == ("b", "c")
    assert live.dead_after("a") == ("input",)
