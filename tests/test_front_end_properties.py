"""Property tests for the front end: whatever the text, netspec answers with a result or a NetspecError."""
from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from netspec.errors import NetspecError
from netspec.ir.elaborate import elaborate
from tests.conftest import ROOT

TOKENS = [
    "network", "net", "(", ")", "classes", "=", "10", "input", "3x32x32", "1x8", "block", "b", ":",
    "conv", "16", "3x3", "pad=1", "stride=2", "relu", "maxpool", "2", "flatten", "linear", "residual",
    "shortcut", "when", "in.channels", "!=", "repeat", "as", "x", "concat", "branch", "add(x, x)", "output",
    "if", "else", "true", "false", "sequential", "inline", "-", "*", "//", "/", "0", "1.5", ";", "|", ",", "#", "batchnorm",
    "\n", "\n    ", "\n        ", "b(", "global_avgpool", "dropout", "1e9", "99999999",
]

SAMPLE = """network small(classes = 10)
input 3x32x32
block unit(c, stride = 1):
    residual:
        conv c 3x3 stride=stride pad=1 bias=false; batchnorm; relu
        conv c 3x3 pad=1 bias=false; batchnorm
    shortcut when stride != 1 or in.channels != c:
        conv c 1x1 stride=stride bias=false; batchnorm
    relu
conv 16 3x3 pad=1
unit(16)
unit(32, stride=2) as u2
concat:
    branch: conv 8 1x1
    branch: maxpool 3x3 stride=1 pad=1
global_avgpool; flatten
linear classes
"""


def token_soup() -> st.SearchStrategy[str]:
    """Up to 40 of the language's tokens in any order."""
    return st.lists(st.sampled_from(TOKENS), max_size=40).map(" ".join)


@st.composite
def mutated_sample(draw) -> str:
    """SAMPLE after one to four random deletions, insertions or replacements of tokens or characters."""
    text = SAMPLE
    for _ in range(draw(st.integers(1, 4))):
        position = draw(st.integers(0, len(text)))
        action = draw(st.sampled_from(["delete", "insert", "replace"]))
        if action == "delete":
            text = text[:position] + text[position + draw(st.integers(1, 8)):]
        else:
            piece = draw(st.sampled_from(TOKENS) | st.text(max_size=3))
            cut = position + (len(piece) if action == "replace" else 0)
            text = text[:position] + piece + text[cut:]
    return text



def outcome(text: str) -> None:
    try:
        elaborate(text + "\n" if not text.endswith("\n") else text)
    except NetspecError as error:
        rendered = error.render()
        assert rendered.strip(), "an error must say something"
        for diagnostic in error.diagnostics:
            if diagnostic.span is not None:
                assert 1 <= diagnostic.span.line and 1 <= diagnostic.span.column


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(token_soup())
def test_token_soup_never_crashes(text):
    outcome(text)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_sample())
def test_mutated_spec_never_crashes(text):
    outcome(text)


def test_sample_is_valid():
    elaborate(SAMPLE)


def test_every_spec_prefix_never_crashes():
    text = (ROOT / "specs" / "lenet5.net").read_text()
    for cut in range(0, len(text), 7):
        outcome(text[:cut])


def test_grammar_has_no_conflicts_or_colliding_tokens():
    """lark's strict mode refuses shift/reduce conflicts and terminals that can match the same text."""
    from lark import Lark

    from netspec.syntax.parser import GRAMMAR, _SpecIndenter

    Lark(GRAMMAR.read_text(), parser="lalr", postlex=_SpecIndenter(), strict=True)
