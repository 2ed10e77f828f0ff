"""Receptive fields (Araujo et al., Distill 2019): hand arithmetic, published figures, and torch autograd as the oracle."""
from __future__ import annotations

import subprocess
import sys
import textwrap
from fractions import Fraction

import pytest

import netspec
from netspec.analysis.receptive import ReceptiveField, receptive_fields
from tests.conftest import ROOT
from tests.sample_specs import BOTTLENECK, INCEPTION


def fields(text: str) -> dict[str, ReceptiveField]:
    return receptive_fields(netspec.analyze(textwrap.dedent(text)).graph)


def last(text: str) -> ReceptiveField:
    analysis = netspec.analyze(textwrap.dedent(text))
    return receptive_fields(analysis.graph)[analysis.graph.nodes[-1].name]


# ---- hand arithmetic: r_l = r_{l-1} + (k'_l - 1)·j_{l-1};  j_l = j_{l-1}·s_l;  start_l = start_{l-1} - p_l·j_{l-1}


def test_input_is_one_pixel():
    rf = fields("network t\ninput 3x8x8\nrelu\n")["input"]
    assert rf == ReceptiveField((1, 1), (1, 1), (0, 0))


def test_two_3x3_convs_see_5x5():
    # 1 + 2·1 = 3, then 3 + 2·1 = 5; each pad=1 moves the start one pixel left
    rf = last("""
        network t
        input 3x32x32
        conv 8 3x3 pad=1
        relu
        conv 8 3x3 pad=1
    """)
    assert rf.size == (5, 5) and rf.stride == (1, 1) and rf.start == (-2, -2)
    assert rf.center == (0, 0)  # symmetric padding keeps output 0 centred on input 0


def test_strided_conv_then_conv():
    # conv3 s2: r=3, j=2; conv3: r = 3 + 2·2 = 7
    rf = last("""
        network t
        input 1x32x32
        conv 4 3x3 stride=2
        conv 4 3x3
    """)
    assert rf.size == (7, 7) and rf.stride == (2, 2) and rf.start == (0, 0)


def test_maxpool_after_conv():
    # conv3: r=3; maxpool 2 s2: r = 3 + 1·1 = 4, j = 2; conv3: 4 + 2·2 = 8
    f = fields("""
        network t
        input 1x32x32
        conv 4 3x3 pad=1
        maxpool 2x2
        conv 4 3x3 pad=1
    """)
    assert f["maxpool"].size == (4, 4) and f["maxpool"].stride == (2, 2)
    # starts: conv pad 1 → -1; the pool has no padding → -1; conv pad 1 at j=2 → -1 - 2 = -3
    assert f["conv2"].size == (8, 8) and f["conv2"].start == (-3, -3)


def test_dilation_and_rectangular_kernels():
    # dilation 2: effective kernel 2·(3-1)+1 = 5; a 1x7 kernel grows only the width
    rf = last("""
        network t
        input 1x32x32
        conv 4 3x3 dilation=2 pad=2
        conv 4 1x7 pad=(0, 3)
    """)
    assert rf.size == (5, 11) and rf.start == (-2, -5)


def test_lenet_c5_sees_the_whole_input():
    # 32 → conv5 (r5) → pool2 (r6, j2) → conv5 (r14) → pool2 (r16, j4) → conv5 on 5x5 (r32) = the whole 32x32
    f = fields("""
        network lenet
        input 1x32x32
        conv 6 5x5; tanh; avgpool 2x2
        conv 16 5x5; tanh; avgpool 2x2
        conv 120 5x5; tanh
        flatten; linear 84; tanh; linear 10
    """)
    assert f["avgpool2"].size == (16, 16) and f["avgpool2"].stride == (4, 4)
    assert f["conv3"].size == (32, 32) and f["conv3"].covers_whole_input
    assert not f["avgpool2"].covers_whole_input
    assert f["linear2"].covers_whole_input and f["linear2"].describe() == "global"


def test_global_pooling_and_linear_are_global():
    f = fields("""
        network t
        input 3x32x32
        conv 8 3x3 pad=1
        global_avgpool
        flatten
        linear 10
    """)
    assert not f["conv"].covers_whole_input
    assert f["global_avgpool"].covers_whole_input
    assert f["linear"].covers_whole_input


def test_valid_convs_that_drop_border_pixels_do_not_cover():
    # 7 wide, 2x2 stride 2 windows read columns 0..5 only: even flatten + linear never sees column 6
    f = fields("""
        network t
        input 1x7x7
        conv 4 2x2 stride=2
        flatten
        linear 3
    """)
    assert f["flatten"].size == (6, 6)
    assert not f["flatten"].covers_whole_input and not f["linear"].covers_whole_input


def test_flat_input_mlp():
    f = fields("network mlp\ninput 784\nrelu\nlinear 10\n")
    assert not f["relu"].covers_whole_input
    assert f["linear"].covers_whole_input


def test_squeeze_excitation_gate_makes_the_product_global():
    f = fields("""
        network t
        input 8x16x16
        conv 8 3x3 pad=1 as x
        g = x | global_avgpool | conv 2 1x1 | relu | conv 8 1x1 | sigmoid
        y = mul(x, g)
        output y
    """)
    assert f["y"].covers_whole_input


def test_residual_block_takes_the_larger_path():
    # main path: 1x1, 3x3 s2, 1x1 → r = 1 + 2·1 = 3, j = 2; projection shortcut 1x1 s2 → r = 1
    f = fields("network t\ninput 16x32x32\n" + BOTTLENECK + "bottleneck(8, 2)\nbottleneck(8)\n")
    assert f["bottleneck1.add"].size == (3, 3) and f["bottleneck1.add"].stride == (2, 2)
    assert f["bottleneck1.add"].aligned
    # second block: + (3 - 1)·2 = 7
    assert f["bottleneck2.add"].size == (7, 7)


def test_inception_concat_is_the_widest_branch():
    # branches: 1x1 (r1), 1x1→3x3 (r3), 1x1→5x5 (r5), maxpool 3 → 1x1 (r3): concat r = 5
    rf = last("network t\ninput 16x28x28\n" + INCEPTION + "inception(8, 8, 8, 4, 4, 4)\n")
    assert rf.size == (5, 5) and rf.start == (-2, -2) and rf.aligned


def test_misaligned_paths_are_flagged():
    # 3x3 s2 p1 covers [-1, 1] (centre 0); 2x2 s2 p0 covers [0, 1] (centre ½): union [-1, 1]
    rf = last("""
        network t
        input 4x8x8
        concat:
            branch: conv 4 3x3 stride=2 pad=1
            branch: conv 4 2x2 stride=2
    """)
    assert rf.size == (3, 3) and rf.start == (-1, -1)
    assert not rf.aligned


def test_upsampling_gives_a_fractional_stride():
    rf = last("""
        network t
        input 4x16x16
        conv 4 3x3 stride=2 pad=1
        upsample 2
    """)
    assert rf.stride == (1, 1) and rf.size == (3, 3) and not rf.exact
    rf = last("""
        network t
        input 4x16x16
        conv 4 3x3 pad=1
        upsample 2
    """)
    assert rf.stride == (Fraction(1, 2),) * 2 and rf.describe() == "≈3"


def test_zeropad_moves_the_start():
    rf = last("network t\ninput 1x8x8\nzeropad 2\nconv 1 3x3\n")
    assert rf.start == (-2, -2) and rf.size == (3, 3)


# ---- published figures: Araujo et al., Table 1 ------------------------------------------------

VGG16 = """
    network vgg16(classes = 1000)
    input 3x224x224
    block stage(channels, convs):
        repeat convs:
            conv channels 3x3 pad=1
            relu
        maxpool 2x2 stride=2
    stage(64, 2)
    stage(128, 2)
    stage(256, 3)
    stage(512, 3)
    stage(512, 3)
    flatten
    linear 4096; relu; dropout 0.5
    linear 4096; relu; dropout 0.5
    linear classes
"""


def test_vgg16_pool5_is_212():
    # Table 1, vgg_16: r = 212 at pool5 (the last layer before the classifier), effective stride 32.
    # Hand check: conv5_3 = 196 (= 100 + 3·2·16); pool5 = 196 + 1·16 = 212.
    f = fields(VGG16)
    assert f["stage5.conv3"].size == (196, 196)
    assert f["stage5.maxpool"].size == (212, 212) and f["stage5.maxpool"].stride == (32, 32)
    assert f["linear3"].covers_whole_input


def test_alexnet_pool5_is_195():
    # Table 1, alexnet_v2: r = 195. torchvision's AlexNet has the same windows and strides
    # (11 s4, pool 3 s2, 5, pool 3 s2, 3, 3, 3, pool 3 s2); only padding and widths differ,
    # and padding moves the field without changing its size.
    f = fields("""
        network alexnet
        input 3x224x224
        conv 64 11x11 stride=4 pad=2; relu; maxpool 3x3 stride=2
        conv 192 5x5 pad=2; relu; maxpool 3x3 stride=2
        conv 384 3x3 pad=1; relu
        conv 256 3x3 pad=1; relu
        conv 256 3x3 pad=1; relu; maxpool 3x3 stride=2 as pool5
        flatten
        linear 4096; relu
        linear 1000
    """)
    assert f["pool5"].size == (195, 195) and f["pool5"].stride == (32, 32)


RESNET50 = (
    "network resnet50\ninput 3x224x224\n"
    + BOTTLENECK
    + """\
block stage(width, blocks, first_stride, last_stride):
    bottleneck(width, first_stride)
    repeat blocks - 2:
        bottleneck(width)
    bottleneck(width, last_stride)
conv 64 7x7 stride=2 pad=3 bias=false; batchnorm; relu
maxpool 3x3 stride=2 pad=1
stage(64, 3, 1, {s1}) as layer1
stage(128, 4, {f2}, {s2}) as layer2
stage(256, 6, {f3}, {s3}) as layer3
stage(512, 3, {f4}, 1) as layer4
global_avgpool
flatten
linear 1000
"""
)


@pytest.mark.parametrize(
    "layout, strides, expected",
    [
        # Table 1, resnet_v1_50 (TF-slim): the stride-2 unit is the LAST of blocks 1-3.
        # conv1 7 (j2) → pool 11 (j4); block1: 11 + 3·8 = 35 (j8); block2: 35 + 4·16 = 99 (j16);
        # block3: 99 + 6·32 = 291 (j32); block4: 291 + 3·64 = 483.
        ("tf-slim", dict(s1=2, f2=1, s2=2, f3=1, s3=2, f4=1), (35, 99, 291, 483)),
        # torchvision puts the stride in the FIRST unit of layers 2-4, so the paper's 483 does not apply.
        # By hand: pool 11 (j4); layer1: 11 + 3·8 = 35; layer2: 35 + 8 + 3·16 = 91 (j8→16);
        # layer3: 91 + 16 + 5·32 = 267; layer4: 267 + 32 + 2·64 = 427.
        ("torchvision", dict(s1=1, f2=2, s2=1, f3=2, s3=1, f4=2), (35, 91, 267, 427)),
    ],
)
def test_resnet50_receptive_field_by_layout(layout, strides, expected):
    f = fields(RESNET50.format(**strides))
    ends = ["layer1.bottleneck3.relu3", "layer2.bottleneck4.relu3", "layer3.bottleneck6.relu3", "layer4.bottleneck3.relu3"]
    assert [f[name].size for name in ends] == [(r, r) for r in expected]
    assert f[ends[-1]].stride == (32, 32)
    assert f["global_avgpool"].covers_whole_input


def test_analysis_does_not_import_torch():
    code = (
        "import sys, netspec\n"
        "from netspec.analysis.receptive import receptive_fields\n"
        f"receptive_fields(netspec.analyze({textwrap.dedent(VGG16)!r}).graph)\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# ---- brute force: autograd on the compiled module ----------------------------------------------

BRUTE_FORCE = {
    "conv_stack": """
        network t
        input 2x23x23
        conv 3 3x3 pad=1
        conv 3 3x3 stride=2
        conv 3 3x3 dilation=2 pad=1
        avgpool 2x2
    """,
    "rectangular": """
        network t
        input 2x21x24
        conv 3 1x5 pad=(0, 2)
        conv 3 5x1 stride=(2, 1)
        avgpool 3x2 stride=(1, 2) pad=1
    """,
    "residual": """
        network t
        input 4x20x20
        block bottleneck(width, stride = 1):
            residual:
                conv width 1x1; tanh
                conv width 3x3 stride=stride pad=1; tanh
                conv 4*width 1x1
            shortcut when stride != 1 or in.channels != 4*width:
                conv 4*width 1x1 stride=stride
        bottleneck(2, 2)
        bottleneck(2)
    """,
    "inception": """
        network t
        input 3x17x17
        conv 4 3x3 stride=2
        concat:
            branch: conv 2 1x1
            branch: conv 2 1x1; conv 2 3x3 pad=1
            branch: conv 2 5x5 pad=2
            branch: avgpool 3x3 stride=1 pad=1; conv 2 1x1
    """,
    "misaligned": """
        network t
        input 2x16x16
        concat:
            branch: conv 2 3x3 stride=2 pad=1
            branch: conv 2 2x2 stride=2
        conv 2 3x3 pad=1
    """,
    "zeropad": """
        network t
        input 2x12x12
        zeropad 2
        conv 2 3x3 stride=2
        conv 2 3x3
    """,
}


# The closed form counts padded positions of intermediate layers as if they were real. So the
# nets above avoid a strided layer that drops trailing pixels *followed by* a padded layer on
# the same axis (e.g. 20 rows, 5x1 stride 2, then pad 1): there the field of the last position
# would include a real row that no real position reads. Everywhere else the match is exact.


@pytest.mark.parametrize("name", sorted(BRUTE_FORCE))
def test_receptive_field_matches_autograd(name):
    """For every output position, the input pixels with a non-zero gradient fill exactly our field."""
    torch = pytest.importorskip("torch")
    text = textwrap.dedent(BRUTE_FORCE[name])
    analysis = netspec.analyze(text)
    rf = receptive_fields(analysis.graph)[analysis.graph.nodes[-1].name]
    assert rf.exact

    torch.manual_seed(0)
    module = netspec.compile(text).double().eval()
    shape = analysis.graph.input.shape
    x = torch.randn(1, *shape, dtype=torch.float64, requires_grad=True)
    out = module(x)
    out = out[0] if isinstance(out, (tuple, list)) else out
    _, height, width = out.shape[1:]
    for i in range(height):
        for k in range(width):
            (grad,) = torch.autograd.grad(out[0, :, i, k].sum(), x, retain_graph=True)
            touched = grad[0].abs().sum(0).nonzero()
            rows, cols = touched[:, 0], touched[:, 1]
            expected = []
            for index, pos, n in ((0, i, shape[1]), (1, k, shape[2])):
                lo = rf.start[index] + pos * rf.stride[index]
                hi = lo + rf.size[index] - 1
                expected.append((max(lo, 0), min(hi, n - 1)))
            got = [(int(rows.min()), int(rows.max())), (int(cols.min()), int(cols.max()))]
            assert got == expected, f"output ({i}, {k}): gradient spans {got}, field says {expected}"


def test_interior_size_matches_autograd_for_vgg_like_net():
    """A deeper net whose field fits inside the input: the gradient's extent is exactly r × r."""
    torch = pytest.importorskip("torch")
    text = """
        network t
        input 1x64x64
        conv 2 3x3 pad=1; conv 2 3x3 pad=1; avgpool 2x2
        conv 2 3x3 pad=1; conv 2 3x3 pad=1; avgpool 2x2
        conv 2 3x3 pad=1
    """
    analysis = netspec.analyze(textwrap.dedent(text))
    rf = receptive_fields(analysis.graph)["conv5"]
    # 3, 5, 6 (j2), 10, 14, 16 (j4), 24
    assert rf.size == (24, 24) and rf.stride == (4, 4)
    torch.manual_seed(1)
    module = netspec.compile(textwrap.dedent(text)).double()
    x = torch.randn(1, 1, 64, 64, dtype=torch.float64, requires_grad=True)
    out = module(x)
    (grad,) = torch.autograd.grad(out[0, :, 8, 8].sum(), x)
    touched = grad[0, 0].nonzero()
    extent = (touched.max(0).values - touched.min(0).values + 1).tolist()
    assert extent == [24, 24]


@pytest.mark.parametrize(
    "body",
    [
        "conv 2 3x3 pad=1\ndeconv 2 4x4 stride=2 pad=1",
        "conv 2 3x3 stride=2 pad=1\ndeconv 2 3x3 stride=2 pad=1 output_pad=1",
        "conv 2 3x3 pad=1\nupsample 2",
        "conv 2 3x3 pad=1\nupsample 2 mode=linear",
        "conv 2 3x3 stride=2 pad=1\nupsample 2 mode=linear\nconv 2 3x3 pad=1",
    ],
)
def test_upsampling_size_is_the_widest_window(body):
    """After upsampling the field is not uniform; `size` is the widest one an interior position has."""
    torch = pytest.importorskip("torch")
    text = "network t\ninput 2x16x16\n" + body + "\n"
    analysis = netspec.analyze(text)
    rf = receptive_fields(analysis.graph)[analysis.graph.nodes[-1].name]
    assert not rf.exact
    torch.manual_seed(2)
    module = netspec.compile(text).double()
    x = torch.randn(1, 2, 16, 16, dtype=torch.float64, requires_grad=True)
    out = module(x)
    widths = set()
    for i in range(out.shape[2]):
        (grad,) = torch.autograd.grad(out[0, :, i, i].sum(), x, retain_graph=True)
        rows = grad[0].abs().sum(0).sum(1).nonzero()[:, 0]
        lo, hi = int(rows.min()), int(rows.max())
        if 0 < lo and hi < 15:  # not clipped by the input's border
            widths.add(hi - lo + 1)
    assert max(widths) == rf.size[0]


# ---- strides keep multiplying after the field covers the whole input ------------------------


COVERED_THEN_STRIDED = """
    network t
    input 1x{n}x{n}
    conv 2 3x3 stride=2 pad=1
    conv 2 5x5 stride=2 pad=2
    conv 2 3x3 stride=2 pad=1
"""


def test_stride_after_the_field_covers_the_input_matches_autograd():
    """At 6x6 the second conv's field already holds the whole input; the third conv's stride
    must still double it. The oracle: autograd on the same layers at 64x64, where nothing is
    clipped, measures the field's size and the shift between neighbouring cells' fields."""
    torch = pytest.importorskip("torch")
    small = fields(COVERED_THEN_STRIDED.format(n=6))
    assert small["conv2"].covers_whole_input and small["conv3"].covers_whole_input

    torch.manual_seed(3)
    module = netspec.compile(textwrap.dedent(COVERED_THEN_STRIDED.format(n=64))).double()
    x = torch.randn(1, 1, 64, 64, dtype=torch.float64, requires_grad=True)
    out = module(x)  # 8x8 cells
    spans = []
    for i in (3, 4):
        (grad,) = torch.autograd.grad(out[0, :, i, i].sum(), x, retain_graph=True)
        rows = grad[0, 0].abs().sum(1).nonzero()[:, 0]
        spans.append((int(rows.min()), int(rows.max())))
    measured_stride = spans[1][0] - spans[0][0]
    measured_size = spans[0][1] - spans[0][0] + 1
    # by hand: r = 3 → 3 + 4·2 = 11 → 11 + 2·4 = 19; j = 2 · 2 · 2 = 8
    assert (measured_size, measured_stride) == (19, 8)
    assert small["conv3"].size == (measured_size,) * 2
    assert small["conv3"].stride == (measured_stride,) * 2


def _positive_linear(model):
    """Every weight 1/fan-in, biases 0, batchnorm the identity: with a positive input every value is
    positive (so ReLU is the identity and max-pool can become avg-pool with the same windows) and
    the gradient of an output cell is non-zero exactly on the input pixels it depends on."""
    torch = pytest.importorskip("torch")
    from torch import nn

    for name, child in list(model.named_children()):
        if isinstance(child, nn.MaxPool2d):
            setattr(model, name, nn.AvgPool2d(child.kernel_size, child.stride, child.padding, child.ceil_mode))
        else:
            _positive_linear(child)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, (nn.Conv2d, nn.Linear)):
                module.weight.fill_(1.0 / module.weight[0].numel())
                if module.bias is not None:
                    module.bias.zero_()
    return model


def test_googlenet_stride_and_start_at_inception5b_match_autograd_on_torchvision():
    """torchvision's GoogLeNet at 256x256 (an 8x8 map at inception5b): the fields of cells 6 and 7
    start inside the input, so their first rows are measured, not clipped."""
    torch = pytest.importorskip("torch")
    torchvision = pytest.importorskip("torchvision")
    model = torchvision.models.googlenet(weights=None, aux_logits=False, init_weights=False, transform_input=False)
    model = _positive_linear(model).double().eval()
    seen = {}
    model.inception5b.register_forward_hook(lambda m, i, o: seen.setdefault("out", o))
    x = (torch.rand(1, 3, 256, 256, dtype=torch.float64) + 1).requires_grad_()
    model(x)
    out = seen["out"]
    assert out.shape[-2:] == (8, 8)
    firsts = []
    for i in (6, 7):
        (grad,) = torch.autograd.grad(out[0, :, i, i].sum(), x, retain_graph=True)
        firsts.append(int(grad[0].abs().sum((0, 2)).nonzero()[:, 0].min()))
    # by hand: conv1 s2, maxpool1 s2, maxpool2 s2, maxpool3 s2, maxpool4 s2 → 2^5 = 32
    assert firsts[1] - firsts[0] == 32
    ours = fields((ROOT / "specs" / "googlenet.net").read_text().replace("input 3x224x224", "input 3x256x256"))
    rf = ours["inception5b.concat"]
    assert rf.stride == (32, 32)
    assert [rf.start[0] + i * rf.stride[0] for i in (6, 7)] == firsts


def test_inception_v3_stride_at_mixed_7c_is_the_period_of_torchvisions_map_size():
    """At 299x299 Mixed_7c's field covers the input, so autograd cannot measure its stride; the
    map size over input sizes can: with effective stride J, J more input pixels give exactly one
    more cell (torchvision's Inception-v3 on the meta device)."""
    torch = pytest.importorskip("torch")
    torchvision = pytest.importorskip("torchvision")
    with torch.device("meta"):
        model = torchvision.models.inception_v3(weights=None, aux_logits=False, init_weights=False).eval()
    seen = {}
    model.Mixed_7c.register_forward_hook(lambda m, i, o: seen.__setitem__("side", o.shape[-1]))

    def side(n: int) -> int:
        model(torch.empty(1, 3, n, n, device="meta"))
        return seen["side"]

    # by hand: Conv2d_1a s2, maxpool1 s2, maxpool2 s2, Mixed_6a s2, Mixed_7a s2 → 2^5 = 32
    period = 32
    for n in (299, 310, 321, 330):  # a stride of 16 would give two more cells, of 64 none for some n
        assert side(n + period) == side(n) + 1
    analysis = netspec.analyze("specs/inception_v3.net")
    last_concat = [n for n in analysis.graph.nodes if n.name.startswith("Mixed_7c.") and n.op == "concat"][-1]
    assert receptive_fields(analysis.graph)[last_concat.name].stride == (period, period)
