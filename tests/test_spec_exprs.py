"""The spec's expressions written as Python for generated classes: same value as the spec's
evaluator for every argument tried, brackets included, and only for what Python can say."""
from __future__ import annotations

import itertools

import pytest

from netspec.compiler.spec_exprs import conditions, values
from netspec.syntax.parser import parse

VALUES = ["a - (b - c)", "(a - b) - c", "a - b - c", "-(a + b) * c", "a // (b + 1) % (c + 2)",
          "(a + b) // 2 * c", "max(a, b - c) + abs(c)", "2 * (a + 1) - -b", "(a - 1) // 2"]
CONDITIONS = ["not (a == 1 and b != 2) or c > 1", "a == 1 and not b >= 2", "(a == 1 or b == 2) and c != 0",
              "not a == b", "a < b or b >= c"]


def block(body: str):
    spec = parse("network n\ninput 3x8x8\nblock t(a, b, c):\n" + body + "t(1, 2, 3)\n")
    return spec.blocks[0]


@pytest.mark.parametrize("text", VALUES)
def test_a_value_written_as_python_evaluates_as_the_spec_does(text):
    [candidate] = values(block(f"    conv({text}, 1x1)\n"))
    source = candidate.python(lambda name: name)
    for a, b, c in itertools.product([-3, 0, 1, 2, 7], repeat=3):
        args = {"a": a, "b": b, "c": c}
        expected = candidate.value(args, None)
        if expected is None:  # the spec refuses it (a division by zero)
            continue
        assert eval(source, {}, dict(args)) == expected, (source, args)  # noqa: S307 - test of our own output


@pytest.mark.parametrize("text", CONDITIONS)
def test_a_condition_and_its_negation_written_as_python_evaluate_as_the_spec_does(text):
    found = conditions(block(f"    if {text}:\n        relu\n    else:\n        conv 4 1x1\n"))
    assert len(found) == 2  # the condition for `then`, its negation for `else`
    for candidate in found:
        source = candidate.python(lambda name: name)
        for a, b, c in itertools.product([0, 1, 2], repeat=3):
            args = {"a": a, "b": b, "c": c}
            assert eval(source, {}, dict(args)) == candidate.value(args, None), (source, args)  # noqa: S307
    assert {c.value({"a": 1, "b": 2, "c": 0}, None) for c in found} == {True, False}


def test_only_what_python_can_say_over_the_parameters_is_offered():
    found = values(block("    conv a / 2 1x1\n    conv in.height 1x1\n    conv classes 1x1\n    conv (a if b > 1 else c) 1x1\n"
                         "    conv 2 * in.channels 1x1\n"
                         # `and`/`or` give a bool in the spec but an operand in Python: not a value
                         "    conv 4 1x1 bias=(a == 1 and b)\n    conv 4 1x1 bias=(a or b == 2)\n"))
    assert [c.python(lambda name: {"in.channels": "in_channels"}.get(name, name)) for c in found] == ["2 * in_channels"]


def test_a_nested_if_offers_the_conjunction_of_the_conditions_around_it():
    found = conditions(block("    if a == 1:\n        relu\n    elif b == 2:\n        conv 4 1x1\n"))
    elif_branch = [c for c in found if c.python(lambda name: name) == "a != 1 and b == 2"]
    assert len(elif_branch) == 1
    truth = {(a, b): a != 1 and b == 2 for a in range(3) for b in range(3)}
    assert all(elif_branch[0].value({"a": a, "b": b, "c": 0}, None) == want for (a, b), want in truth.items())
