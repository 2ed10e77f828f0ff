"""The parser's own LALR loop (netspec/syntax/fast_loop.py, `FastLoop`) builds exactly what lark's loop builds.

Differential: each text is parsed by both loops over the same tables and callbacks. On a valid
text both give equal ASTs (every node and span); on an invalid one the fast loop gives up
(None), so that lark's loop raises its own error, and lark's loop does raise one.
"""
from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from lark import UnexpectedInput

from netspec.errors import Source
from netspec.syntax import fast_loop, parser, reductions
from tests.conftest import ROOT
from tests.test_front_end_properties import mutated_sample, token_soup


def setup_module():
    """The fast loop reduces with compiled callbacks from a rule's first reduction here (not
    after COMPILE_AFTER), so that every text below compares them with lark's general ones."""
    global _compile_after
    _compile_after, fast_loop.COMPILE_AFTER = fast_loop.COMPILE_AFTER, 1


def teardown_module():
    fast_loop.COMPILE_AFTER = _compile_after


def both_loops(text: str):
    """(fast loop's AST or None, lark loop's AST or the exception it raised), each loop's tokens
    checked against the other's: the fast loop lexes and indents on its own (`FastLoop.tokens`)."""
    text = text if text.endswith("\n") else text + "\n"
    results, source = [], Source("<t>", text)
    fast, connector = fast_loop.fast_parser(parser._lark()), parser._lark().parser.lexer
    fast_tokens, lark_tokens = [], []
    fast.tokens = lambda text, states: _recorded(type(fast).tokens(fast, text, states), fast_tokens)
    connector.lex = lambda *states: _recorded(type(connector).lex(connector, *states), lark_tokens)
    try:
        for run in (lambda: fast.parse(text), lambda: parser._lark().parse(text)):
            building = reductions.ast_builder.set(parser._ToAst(source))
            try:
                built = run()
                results.append(None if built is None else built.value)
            except (UnexpectedInput, parser._BadDedent) as error:
                results.append(error)
            finally:
                reductions.ast_builder.reset(building)
    finally:
        del fast.tokens, connector.lex
    if results[0] is not None:
        assert fast_tokens == lark_tokens
    else:  # it gave up where lark's lexer or loop stopped, or sooner
        assert fast_tokens == lark_tokens[: len(fast_tokens)]
    return results


def _recorded(tokens, seen: list):
    for token in tokens:
        seen.append((token.type, str(token), token.start_pos, token.line, token.column,
                     token.end_line, token.end_column, token.end_pos,
                     token.end_line is token.line))  # shared as lark shares it: spans keep these ints
        yield token


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


def test_a_text_longer_than_the_small_integers():
    """Past line 256 each line number is an int object of its own: a one-line token's end line
    must be the same object as its line, as in lark's tokens (spans keep them: 10 MB more on
    100,000 lines otherwise)."""
    assert_same("network n()\ninput 3x8x8\n" + "conv 8 3x3 pad=1 # a comment\n  \nrelu\n" * 200)


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


def test_every_rule_compiled_as_the_general_callback_reduces():
    """Each rule's compiled callback (fast loop) against the general one (lark's loop), called
    directly on children of every kind a reduction can see: tokens, rule results with and
    without a position, helper results to splice."""
    from itertools import product

    from lark import Token

    class Recording:  # stands for `_ToAst`: answers with what it was given
        def __getattr__(self, method):
            return lambda built, values: (method, built.line, built.column, built.end_line, built.end_column, list(values))

    def children(rule, kinds):
        made, kinds = [], iter(kinds)
        for index, symbol in enumerate(rule.expansion):
            at = (index + 1, 2 * index + 1, index + 2, 2 * index + 3)
            if symbol.is_term:
                made.append(Token(symbol.name, f"t{index}", 0, *at))
                continue
            kind = next(kinds)
            value = [f"a{index}", f"b{index}"] if symbol.name.startswith("_") else f"v{index}"
            made.append(Token("NAME", f"n{index}", 0, *at) if kind == "token"
                        else reductions.Built(value, *(at if kind == "positioned" else (None, None, None, None))))
        return made

    def outcome(result):
        return (result.value, result.line, result.column, result.end_line, result.end_column)

    building = reductions.ast_builder.set(Recording())
    compared = 0
    try:
        for rule in parser._lark().rules:
            general, compiled = parser._rule_callback(rule, True), fast_loop.compiled_callback(rule, True)
            if compiled is None:
                assert general is parser._pass_through
                continue
            rules = [s for s in rule.expansion if not s.is_term]
            choices = [("positioned", "empty") if s.name.startswith("_") else ("positioned", "empty", "token") for s in rules]
            for kinds in product(*choices):
                assert outcome(compiled(children(rule, kinds))) == outcome(general(children(rule, kinds))), (rule, kinds)
                compared += 1
    finally:
        reductions.ast_builder.reset(building)
    assert compared > 200


def test_a_lark_without_the_internals_the_fast_loop_reads_parses_with_its_own_loop(monkeypatch):
    text = (ROOT / "specs" / "resnet50.net").read_text()
    expected = parser.parse(text, "resnet50.net")
    fast_loop.fast_parser.cache_clear()
    monkeypatch.setattr(fast_loop.FastLoop, "__init__", lambda self, lark: (_ for _ in ()).throw(AttributeError("_parse_table")))
    try:
        assert fast_loop.fast_parser(parser._lark()) is None
        parser.clear_cache()
        assert repr(parser.parse(text, "resnet50.net")) == repr(expected)  # lark's own loop: the same AST, span by span
    finally:
        fast_loop.fast_parser.cache_clear()
        parser.clear_cache()
