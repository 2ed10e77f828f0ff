"""What the fast paths share must never be stale or conflate values: the parse cache and shared attribute values."""
from __future__ import annotations

import netspec
from netspec.ops.base import Attrs
from netspec.syntax.parser import clear_cache, parse


def test_parses_are_cached_by_text_and_name():
    clear_cache()
    text = "network n()\ninput 3x8x8\nconv 4 3x3\n"
    first = parse(text, "a.net")
    assert parse(text, "a.net") is first
    assert parse(text, "b.net") is not first  # the name is in every span
    assert parse(text.replace("conv 4", "conv 5"), "a.net") is not first


def test_an_edited_file_is_parsed_again(tmp_path):
    spec = tmp_path / "n.net"
    spec.write_text("network n()\ninput 3x8x8\nconv 4 3x3\n")
    assert netspec.analyze(spec).totals.params == 4 * 3 * 9 + 4
    spec.write_text("network n()\ninput 3x8x8\nconv 5 3x3\n")  # same size, maybe the same mtime
    assert netspec.analyze(spec).totals.params == 5 * 3 * 9 + 5


def test_equal_attribute_values_are_shared_but_equal_looking_ones_of_other_types_are_not():
    items = (("kernel", (1, 1)), ("bias", True))
    shared = Attrs.shared(items)
    assert Attrs.shared((("kernel", (1, 1)), ("bias", True))) is shared
    # Python deems these equal (and equally hashed); as attributes they differ
    for other in ((("kernel", (True, 1)), ("bias", True)), (("kernel", (1, 1)), ("bias", 1)),
                  (("kernel", (1.0, 1)), ("bias", True))):
        assert Attrs.shared(other) is not shared
        assert Attrs.shared(other).items_ == other
    unhashable = (("sizes", [1, 2]),)
    assert Attrs.shared(unhashable)["sizes"] == [1, 2]


def test_layers_of_a_repeat_share_their_attributes():
    graph = netspec.analyze("network n()\ninput 3x8x8\nrepeat 3:\n    conv 3 3x3 pad=1\n").graph
    convs = [n for n in graph.nodes if n.op == "conv"]
    assert len(convs) == 3 and convs[0].attrs is convs[1].attrs is convs[2].attrs
