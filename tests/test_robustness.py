"""Issue 13, front end and IR: every hostile or careless input gets a located error, fast, never a traceback."""
from __future__ import annotations

import math
import os
from pathlib import Path

import pytest

from netspec.errors import MAX_DIAGNOSTICS, LimitError, NetspecError
from netspec.ir.elaborate import MAX_FAN_IN, MAX_NESTING, MAX_NODES, MAX_WORK, elaborate
from netspec.ir.values import MAX_EXPRESSION_DEPTH
from netspec.syntax.text import MAX_LINE_CHARS, MAX_SPEC_BYTES

HEAD = "network a\ninput 3x8x8\n"


def error_of(source: str | Path, **params) -> NetspecError:
    with pytest.raises(NetspecError) as caught:
        elaborate(source, params)
    return caught.value


def only(error: NetspecError):
    assert len(error.diagnostics) == 1, error.render()
    return error.diagnostics[0]


def write(tmp_path: Path, text: str | bytes, name: str = "spec.net") -> Path:
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    return path


# ---- where the caret goes


@pytest.mark.parametrize("separator", ["\u2028", "\u2029", "\x0b", "\x0c", "\x85", "\x1c", "\x1d", "\x1e"])
def test_line_separators_in_comments_do_not_shift_the_line_shown(separator):
    diagnostic = only(error_of(HEAD + f"# one{separator}two{separator}\nrelu\nconv 0 3x3\n"))
    assert (diagnostic.span.line, diagnostic.span.column) == (5, 6)
    assert diagnostic.span.source.line(5) == "conv 0 3x3"
    assert " 5 | conv 0 3x3\n   |      ^" in diagnostic.render()


def test_the_caret_lands_under_its_character_after_wide_and_combining_characters():
    # 中 takes two terminal columns (Unicode East Asian Width "W"); the combining acute accent
    # after "e" takes none. So `"中中é"` is 1 + 2 + 2 + 1 + 0 + 1 = 7 columns wide, on 6 characters.
    rendered = error_of(HEAD + 'dropout "中中e\u0301"; conv 0 3x3\n').render().splitlines()
    assert rendered[1] == ' 3 | dropout "中中e\u0301"; conv 0 3x3'
    assert rendered[2] == "   | " + " " * len("dropout ") + "^" + "~" * (7 - 1)
    assert rendered[5] == "   | " + " " * (len("dropout ") + 7 + len("; conv ")) + "^"


def test_a_utf8_byte_order_mark_is_accepted(tmp_path):
    graph = elaborate(write(tmp_path, b"\xef\xbb\xbf" + HEAD.encode() + b"relu\n"))
    assert [n.name for n in graph.nodes] == ["input", "relu"]


def test_a_file_with_old_mac_line_endings_is_a_located_error(tmp_path):
    diagnostic = only(error_of(write(tmp_path, HEAD.replace("\n", "\r") + "relu\r")))
    assert (diagnostic.span.line, diagnostic.span.column, diagnostic.code) == (1, 10, "encoding")
    assert "lone carriage return" in diagnostic.message


def test_crlf_line_endings_are_read(tmp_path):
    graph = elaborate(write(tmp_path, (HEAD + "relu\nconv 4 3x3\n").replace("\n", "\r\n")))
    assert graph.nodes[-1].shape == (4, 6, 6)


def test_a_very_long_line_is_refused_at_its_limit_and_not_echoed_whole(tmp_path):
    error = error_of(write(tmp_path, HEAD + "relu  # " + "x" * 900_000 + "\n"))
    diagnostic = only(error)
    assert isinstance(error, LimitError)
    assert (diagnostic.span.line, diagnostic.span.column) == (3, MAX_LINE_CHARS + 1)
    assert "900,008 characters" in diagnostic.message
    assert len(error.render()) < 1_000


def test_a_huge_file_is_refused_without_reading_or_echoing_it(tmp_path):
    path = tmp_path / "huge.net"
    with open(path, "wb") as stream:  # sparse: 1 GB on paper, nothing on disk
        stream.write(b"x" * 100)
        stream.truncate(1 << 30)
    error = error_of(path)
    assert "1,073,741,824 bytes" in only(error).message and f"{MAX_SPEC_BYTES:,}" in only(error).message
    assert len(error.render()) < 1_000


def test_control_characters_never_reach_the_terminal(tmp_path):
    rendered = error_of(HEAD + 'import "\x1b[2Jevil.net"\n# \x1b[31m\nconv 0 3x3\n').render()
    assert "\x1b" not in rendered
    assert "\\x1b[2Jevil.net" in rendered


# ---- numbers


def test_an_integer_beyond_python_s_conversion_limit_is_located():
    diagnostic = only(error_of(HEAD + "conv " + "9" * 5000 + " 3x3\n"))
    assert (diagnostic.span.line, diagnostic.span.column, diagnostic.code) == (3, 6, "limit")
    assert "5,000 digits" in diagnostic.message


def test_digits_in_a_comment_are_fine():
    elaborate(HEAD + "relu  # " + "7" * 5000 + "\n")


@pytest.mark.parametrize(
    "statement, column",
    [
        ("maxpool 2x2 stride=" + "9" * 60, 20),
        ("dropout " + "9" * 60, 9),
        ("conv 4 3x3 pad=" + "9" * 60, 16),
        ("conv 4*" + "3" * 18 + "*" + "3" * 18 + " 3x3", 6),
    ],
    ids=["pool", "dropout", "pad", "product"],
)
def test_integers_beyond_64_bits_are_located(statement, column):
    diagnostic = only(error_of(HEAD + statement + "\n"))
    assert (diagnostic.span.line, diagnostic.span.column, diagnostic.code) == (3, column, "limit")


@pytest.mark.parametrize(
    "statement, column",
    [("batchnorm eps=1e999", 15), ("conv int(1e999) 3x3", 10), ("batchnorm eps=1e300*1e300", 15), ("dropout 1e400", 9)],
)
def test_non_finite_numbers_are_errors_at_the_attribute(statement, column):
    diagnostic = only(error_of(HEAD + statement + "\n"))
    assert (diagnostic.span.line, diagnostic.span.column, diagnostic.code) == (3, column, "value")
    assert "not finite" in diagnostic.message


def test_a_huge_output_size_is_a_limit_not_an_overflow():
    text = HEAD + "repeat 40:\n    upsample scale=4\n"
    diagnostic = only(error_of(text))
    assert diagnostic.code == "limit" and "too large" in diagnostic.message


# ---- amounts of work


def test_nested_repeats_are_refused_before_looping():
    diagnostic = only(error_of(HEAD + "repeat 10000:\n    repeat 10000:\n        repeat 10000:\n            relu\n"))
    assert (diagnostic.span.line, diagnostic.span.column) == (4, 12)
    assert "100,000,000 times" in diagnostic.message and f"{MAX_WORK:,}" in diagnostic.message


def test_work_through_block_calls_counts_too():
    text = HEAD + "block inner():\n    repeat 1000:\n        relu\nrepeat 5000:\n    inner()\n"
    diagnostic = only(error_of(text))
    assert diagnostic.code == "limit" and diagnostic.span.line == 4


def test_the_node_limit_stops_at_once():
    text = HEAD + "repeat 10000:\n    repeat 21:\n        relu\n"
    error = error_of(text)
    assert only(error).code == "limit" and f"{MAX_NODES:,} layers" in only(error).message


def test_errors_past_the_limit_are_counted_not_kept():
    error = error_of(HEAD + "conv 0 3x3\n" * (MAX_DIAGNOSTICS + 50))
    assert len(error.diagnostics) == MAX_DIAGNOSTICS and error.more == 50


def test_merge_fan_in_is_limited():
    branches = "".join("    branch: relu\n" for _ in range(MAX_FAN_IN + 1))
    diagnostic = only(error_of(HEAD + "concat:\n" + branches))
    assert (diagnostic.span.line, diagnostic.code) == (3, "limit")
    many = ", ".join(["x"] * (MAX_FAN_IN + 1))
    assert only(error_of(HEAD + f"relu as x\nconcat({many})\n")).code == "limit"


def test_deep_expressions_point_at_their_line():
    depth = MAX_EXPRESSION_DEPTH + 20
    diagnostic = only(error_of(HEAD + "relu\nconv " + "1+" * depth + "1 3x3\n"))
    assert (diagnostic.span.line, diagnostic.code) == (4, "limit")


def test_a_very_long_sum_points_at_its_line():
    """4,000 terms nest 4,000 deep: too deep for the parser's tree walk or for the evaluator."""
    diagnostic = only(error_of(HEAD + "relu\nconv " + "+".join(["1"] * 4000) + " 3x3\n"))
    assert (diagnostic.span.line, diagnostic.code) == (4, "limit")


def test_deep_block_call_chains_point_at_a_call():
    blocks = "".join(f"block b{i}():\n    b{i + 1}()\n" for i in range(MAX_NESTING + 20))
    blocks += f"block b{MAX_NESTING + 20}():\n    relu\n"
    diagnostic = only(error_of(HEAD + blocks + "b0()\n"))
    assert diagnostic.code == "limit" and diagnostic.span.line > 3


def test_deeply_nested_statements_point_inside_the_spec():
    depth = MAX_NESTING + 10
    body = "".join(" " * level + "repeat 1:\n" for level in range(depth)) + " " * depth + "relu\n"
    diagnostic = only(error_of(HEAD + body))
    assert diagnostic.code == "limit" and diagnostic.span.line > 3


@pytest.mark.parametrize("n, o", [(100_000_000, 1), (100_000_000, 7), (10**18, 3), (5, 3), (3, 5), (224, 7)])
def test_adaptive_pool_window_in_closed_form(n, o):
    """The widest window of adaptive pooling, i.e. max over i of ceil((i+1)n/o) - floor(in/o)
    (PyTorch's start and end indices), computed here by the brute definition where it is small and
    by its two candidates otherwise."""
    from netspec.ops import lookup
    from netspec.ops.base import Attrs

    window = lookup("adaptive_avgpool").window(Attrs((("size", (1, o)),)), [(3, 1, n)])
    if o <= 1000:
        expected = max(-(-(i + 1) * n // o) - (i * n // o) for i in range(o))
    else:
        expected = math.ceil(n / o) + (n % o != 0)
    assert window.kernel[1] == expected


def test_a_huge_adaptive_pool_analyses_without_looping():
    import netspec

    analysis = netspec.analyze("network a\ninput 1x1x100000000\nadaptive_avgpool 1x100000000\n")
    assert analysis.layers[0].output_shape == (1, 1, 100_000_000)


# ---- imports


@pytest.mark.parametrize(
    "path, reason",
    [("a\x00b.net", "NUL"), ("x" * 300 + ".net", "too long"), ("loop/x.net", "loop of symbolic links"), ("", "empty")],
    ids=["nul", "300-chars", "symlink-loop", "empty"],
)
def test_bad_import_paths_are_located(tmp_path, path, reason):
    os.symlink(tmp_path / "loop", tmp_path / "loop")
    spec = write(tmp_path, f'import "{path}"\n' + HEAD + "relu\n")
    diagnostic = only(error_of(spec))
    assert (diagnostic.span.line, diagnostic.span.column, diagnostic.code) == (1, 1, "import")
    assert reason in diagnostic.message


# ---- names in the IR


def test_a_value_named_input_is_refused():
    diagnostic = only(error_of(HEAD + "conv 4 3x3 as input\nrelu\n"))
    assert (diagnostic.span.line, diagnostic.span.column, diagnostic.code) == (3, 15, "reserved-name")


@pytest.mark.parametrize("later", [["c1", "c_1"], ["c_1", "c1"], ["c1", "c_1", "c_1_2"], ["c2", "c_2"]])
def test_numbered_names_never_collide_with_spec_names(later):
    text = HEAD + "repeat 3:\n    conv 3 1x1 as c\n" + "".join(f"conv 3 1x1 as {name}\n" for name in later)
    graph = elaborate(text)
    names = [n.name for n in graph.nodes]
    assert len(names) == len(set(names)) == 4 + len(later)
    assert set(later) <= set(names)
    # each layer reads the one before it: the renaming kept the wiring
    assert [n.inputs for n in graph.nodes[1:]] == [(names[i],) for i in range(len(names) - 1)]


@pytest.mark.parametrize(
    "text, line, message",
    [
        ("relu as relu\nrelu as relu\n", 4, "two layers are named 'relu'"),
        ("block b():\n    conv 4 3x3 as c\nb() as b\nrelu as b\n", 6, "'b' names this layer and also the scope holding 'b.c'"),
    ],
    ids=["op-named-twice", "layer-named-like-a-scope"],
)
def test_module_paths_never_clash(text, line, message):
    """Names that are not bound as values (`relu as relu`, a block call named after its block)
    still claim their module path: a second layer there would silently become the same module."""
    diagnostic = only(error_of(HEAD + text))
    assert (diagnostic.span.line, diagnostic.code) == (line, "duplicate-name")
    assert diagnostic.message.startswith(message)
