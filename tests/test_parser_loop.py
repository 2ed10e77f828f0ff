"""The parser's own LALR loop (netspec/syntax/parser.py, `_FastLoop`) builds exactly what lark's loop builds.

Differential: each text is parsed by both loops over the same tables and callbacks. On a valid
text both give equal ASTs (every node and span); on an invalid one the fast loop gives up
(None), so that lark's loop raises its own error, and lark's loop does raise one.
"""
from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from lark import UnexpectedInput

from netspec.errors import Source
from netspec.syntax import parser
from tests.conftest import ROOT
from tests.test_front_end_properties import mutated_sample, token_soup


def both_loops(text: str):
    """(fast loop's AST or None, lark loop's AST or the exception it raised)."""
    text = text if text.endswith("\n") else text + "\n"
    results, source = [], Source("<t>", text)
    for run in (lambda: parser._fast_parser().parse(text), lambda: parser._lark().parse(text)):
        building = parser._builder.set(parser._ToAst(source))
        try:
            built = run()
            results.append(None if built is None else built.value)
        except (UnexpectedInput, parser._BadDedent) as error:
            results.append(error)
        finally:
            parser._builder.reset(building)
    return results


def assert_same(text: str) -> None:
    fast, lark_result = both_loops(text)
    if isinstance(lark_result, Exception):
        assert fast is None
    else:
        assert fast is not None, "the fast loop gave up on a text lark's loop parses"
        assert fast == lark_result


def test_every_zoo_spec_and_block_file():
    paths = sorted((ROOT / "specs").rglob("*.net"))
    assert len(paths) > 20
    for path in paths:
        fast, slow = both_loops(path.read_text(encoding="utf-8"))
        assert fast is not None and fast == slow, path


def test_every_catalogue_example():
    import re

    text = (ROOT / "docs" / "errors.md").read_text(encoding="utf-8")
    bodies = re.findall(r"```net\n(.*?)```", text, re.S)
    assert len(bodies) > 20
    for body in bodies:
        assert_same(body)


def test_an_empty_text_and_a_text_without_a_newline():
    assert_same("")
    assert_same("network n()\ninput 3x8x8\nrelu")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(token_soup())
def test_token_soup(text):
    assert_same(text)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_sample())
def test_mutated_spec(text):
    assert_same(text)
