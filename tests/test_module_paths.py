"""Module paths a spec chooses: `sequential` numbering, `inline` blocks and branches, and
the zoo's state_dict keys, which must be torchvision's own (torchvision is the oracle)."""
from __future__ import annotations

import pytest

import netspec
from tests.test_language import agree
from tests.test_zoo_reference import SPECS, TWINS


def layer_names(text: str, **params) -> list[str]:
    return [layer.name for layer in agree(text, **params).layers]


def test_sequential_block_numbers_its_items_from_zero_across_repeats_and_ifs():
    names = layer_names("""
network n()
input 3x8x8
sequential block stage(convs, bn):
    repeat convs:
        conv 4 3x3 pad=1
        if bn:
            batchnorm
        relu
    maxpool 2x2 stride=2
stage(2, true) as features
stage(1, false) as more
""")
    assert names == [
        "features.0", "features.1", "features.2", "features.3", "features.4", "features.5", "features.6",
        "more.0", "more.1", "more.2",
    ]


def test_a_named_item_keeps_its_name_and_its_position():
    assert layer_names("""
network n()
input 3x8x8
sequential features:
    conv 4 3x3 as conv0; relu
    conv 4 3x3
""") == ["features.conv0", "features.1", "features.2"]


def test_block_calls_in_a_sequential_scope_are_numbered_scopes_like_torchvision_layers():
    names = layer_names("""
network n()
input 4x8x8
block unit():
    residual:
        conv 4 3x3 pad=1 bias=false as conv1; batchnorm as bn1
    shortcut when in.channels != 4:
        sequential downsample:
            conv 4 1x1; batchnorm
    relu
sequential block layer(blocks):
    repeat blocks:
        unit()
layer(2) as layer1
""")
    assert names == [
        "layer1.0.conv1", "layer1.0.bn1", "layer1.0.add", "layer1.0.relu",
        "layer1.1.conv1", "layer1.1.bn1", "layer1.1.add", "layer1.1.relu",
    ]


def test_projection_shortcut_named_by_its_sequential_scope():
    names = layer_names("""
network n()
input 3x8x8
residual:
    conv 4 3x3 pad=1
shortcut:
    sequential downsample:
        conv 4 1x1; batchnorm
""")
    assert names == ["conv", "downsample.0", "downsample.1", "add"]


def test_inline_block_layers_join_the_callers_scope_and_numbering():
    names = layer_names("""
network n()
input 3x8x8
inline block pair(width):
    conv width 3x3 pad=1; relu
sequential block body():
    pair(4)
    pair(8)
    maxpool 2x2
body() as features
pair(2)
""")
    assert names == [f"features.{i}" for i in range(5)] + ["conv", "relu"]


def test_inline_branch_names_its_layers_beside_the_merge_and_other_branches_keep_their_number():
    names = layer_names("""
network n()
input 3x8x8
block unit():
    concat:
        branch: conv 2 1x1
        inline branch: conv 2 1x1 as left_a; conv 2 3x3 pad=1 as left_b
        branch:
            sequential pooled:
                maxpool 3x3 stride=1 pad=1; conv 2 1x1
        branch: conv 2 1x1; relu
unit() as u
""")
    assert names == [
        "u.branch1", "u.left_a", "u.left_b", "u.pooled.0", "u.pooled.1", "u.branch4.conv", "u.branch4.relu", "u.concat",
    ]


def test_a_layer_named_after_an_op_is_a_module_name_not_a_value():
    # `relu as relu` names the layer; a later bare `relu` is still the op, not a reference
    names = layer_names("""
network n()
input 3x8x8
conv 4 3x3 as conv; relu as relu
relu
""")
    assert names == ["conv", "relu", "relu_1"]  # the unnamed relu steps aside, as for any taken name


def test_specs_that_do_not_ask_keep_their_readable_names():
    names = [layer.name for layer in netspec.analyze(SPECS / "cifar_vgg.net").layers]
    assert names[:3] == ["stage1.conv1", "stage1.relu1", "stage1.conv2"]


@pytest.mark.parametrize("case", list(TWINS))
def test_zoo_state_dict_keys_are_torchvisions(case):
    torch = pytest.importorskip("torch")
    torchvision = pytest.importorskip("torchvision")
    stem, params, builder, kwargs, _ = TWINS[case]
    with torch.device("meta"):
        theirs = getattr(torchvision.models, builder)(weights=None, **kwargs)
        ours = netspec.compile(SPECS / f"{stem}.net", **params)
    assert list(ours.state_dict()) == list(theirs.state_dict())
