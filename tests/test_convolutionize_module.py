"""netspec.convolutionize on torch modules (torch.fx): equal outputs, the OverFeat window equivalence, shared weights.

The equivalence has two forms. A network without padding computes, at cell (i, j) of the
dense output, exactly the original network applied to the input window at (stride·i,
stride·j): tested on every cell of LeNet-5. With padding, the original sees zeros at a
window's border where the dense pass sees the neighbouring pixels, so the exact statement
is one level up: cell (i, j) is the original classifier applied to the (h × w) window of the
feature map at (i, j) — tested on torchvision's AlexNet, VGG-16, ResNet-50 and GoogLeNet,
with the trunk and the classifier taken from the torchvision objects by hand.
"""
from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
torchvision = pytest.importorskip("torchvision")

import torch.nn as nn  # noqa: E402
from torch._subclasses.fake_tensor import FakeTensorMode  # noqa: E402

import netspec  # noqa: E402
from tests.conftest import ROOT  # noqa: E402


def fake_output_shape(module: nn.Module, input_shape: tuple[int, ...]) -> tuple[int, ...]:
    """The per-sample output shape of `module`, computed on fake tensors (no arithmetic)."""
    with FakeTensorMode(allow_non_fake_inputs=True), torch.no_grad():
        return tuple(module(torch.empty(1, *input_shape)).shape[1:])


def test_lenet5_every_cell_equals_the_original_on_its_window():
    torch.manual_seed(0)
    original = netspec.compile(ROOT / "specs" / "lenet5.net").double().eval()
    converted = netspec.convolutionize(original, (1, 28, 28))
    stride = 2 * 2  # two 2x2 max pools; the 5x5 convolutions have stride 1 and no padding
    x = torch.randn(1, 1, 28 + 4 * stride, 28 + 5 * stride, dtype=torch.float64)
    with torch.no_grad():
        dense = converted(x)
        assert dense.shape == (1, 10, 5, 6)
        for i in range(5):
            for j in range(6):
                window = x[:, :, stride * i: stride * i + 28, stride * j: stride * j + 28]
                torch.testing.assert_close(dense[:, :, i, j], original(window), rtol=1e-10, atol=1e-10)


def _alexnet_parts(m):
    return m.features, lambda f: m.classifier(torch.flatten(m.avgpool(f), 1)), 6


def _vgg_parts(m):
    return m.features, lambda f: m.classifier(torch.flatten(m.avgpool(f), 1)), 7


def _resnet_parts(m):
    trunk = nn.Sequential(m.conv1, m.bn1, m.relu, m.maxpool, m.layer1, m.layer2, m.layer3, m.layer4)
    return trunk, lambda f: m.fc(torch.flatten(m.avgpool(f), 1)), 7


def _googlenet_parts(m):
    layers = [m.conv1, m.maxpool1, m.conv2, m.conv3, m.maxpool2, m.inception3a, m.inception3b, m.maxpool3,
              m.inception4a, m.inception4b, m.inception4c, m.inception4d, m.inception4e, m.maxpool4,
              m.inception5a, m.inception5b]
    return nn.Sequential(*layers), lambda f: m.fc(m.dropout(torch.flatten(m.avgpool(f), 1))), 7


# (constructor, split into trunk / classifier / window, larger input, cells checked there)
TORCHVISION = {
    "alexnet": (torchvision.models.alexnet, _alexnet_parts, 288, [(0, 0), (0, 2), (2, 1), (2, 2)]),
    "vgg16": (torchvision.models.vgg16, _vgg_parts, 256, [(0, 1), (1, 0)]),
    "resnet50": (torchvision.models.resnet50, _resnet_parts, 256, [(0, 0), (1, 1)]),
    "googlenet": (lambda: torchvision.models.googlenet(init_weights=False, aux_logits=False), _googlenet_parts, 288, [(0, 2), (2, 0), (1, 1)]),
}


@pytest.mark.parametrize("name", list(TORCHVISION))
def test_torchvision_classifier_equals_at_reference_and_slides_at_larger_inputs(name):
    build, parts, size, cells = TORCHVISION[name]
    torch.manual_seed(0)
    original = build().eval()
    converted = netspec.convolutionize(original, (3, 224, 224))
    trunk, classifier, window = parts(original)
    stride = 32  # every one of these networks halves the grid five times
    cells_per_axis = (size - 224) // stride + 1
    with torch.no_grad():
        x = torch.randn(1, 3, 224, 224)
        torch.testing.assert_close(converted(x).flatten(1), original(x), rtol=1e-4, atol=1e-4)

        big = torch.randn(1, 3, size, size)
        dense = converted(big)
        assert dense.shape == (1, 1000, cells_per_axis, cells_per_axis)
        features = trunk(big)
        for i, j in cells:
            expected = classifier(features[:, :, i: i + window, j: j + window])
            torch.testing.assert_close(dense[:, :, i, j], expected, rtol=1e-4, atol=1e-4)


def test_vgg16_at_448_gives_a_1000x8x8_map():
    converted = netspec.convolutionize(torchvision.models.vgg16().eval(), (3, 224, 224))
    # 448 / 32 = 14 cells of features; a 7x7 window fits at 14 - 7 + 1 = 8 positions per axis
    assert fake_output_shape(converted, (3, 448, 448)) == (1000, 8, 8)


def test_converted_weights_are_the_original_tensors_reshaped():
    original = torchvision.models.alexnet().eval()
    before = {k: v.clone() for k, v in original.state_dict().items()}
    converted = netspec.convolutionize(original, (3, 224, 224))
    pairs = {"classifier.1": (4096, 256, 6, 6), "classifier.4": (4096, 4096, 1, 1), "classifier.6": (1000, 4096, 1, 1)}
    for path, shape in pairs.items():
        linear, conv = original.get_submodule(path), converted.get_submodule(path)
        assert isinstance(linear, nn.Linear) and isinstance(conv, nn.Conv2d)
        assert conv.weight.shape == shape
        assert torch.equal(conv.weight.reshape(linear.weight.shape), linear.weight)
        assert conv.weight.data_ptr() == linear.weight.data_ptr()  # a view: no value copied
        assert conv.bias is linear.bias
    # the input module is untouched: same classes, same values
    assert all(isinstance(original.classifier[i], nn.Linear) for i in (1, 4, 6))
    assert all(torch.equal(before[k], v) for k, v in original.state_dict().items())
    assert original.training is False and isinstance(original.avgpool, nn.AdaptiveAvgPool2d)


def test_dense_googlenet_is_a_class_map_whose_mean_is_the_original_output():
    torch.manual_seed(0)
    original = torchvision.models.googlenet(init_weights=False, aux_logits=False).double().eval()
    converted = netspec.convolutionize(original, (3, 224, 224), dense=True)
    assert not any(isinstance(m, (nn.AdaptiveAvgPool2d, nn.AvgPool2d)) for m in converted.modules())  # the pool is gone
    with torch.no_grad():
        for size, cells in ((224, 7), (256, 8)):
            x = torch.randn(1, 3, size, size, dtype=torch.float64)
            class_map = converted(x)
            assert class_map.shape == (1, 1000, cells, cells)  # the feature map: size / 32
            torch.testing.assert_close(class_map.mean(dim=(2, 3)), original(x), rtol=1e-9, atol=1e-9)


def test_every_head_of_a_multi_output_network_is_converted():
    torch.manual_seed(0)
    original = netspec.compile(ROOT / "specs" / "googlenet.net", aux=True).eval()
    converted = netspec.convolutionize(original, (3, 224, 224), keep_adaptive=True)
    for head in ("fc", "aux1.fc1", "aux1.fc2", "aux2.fc1", "aux2.fc2"):
        assert isinstance(converted.get_submodule(head), nn.Conv2d), head
    x = torch.randn(1, 3, 224, 224)
    with torch.no_grad():
        expected, got = original(x), converted(x)
    assert len(got) == len(expected) == 3
    for e, g in zip(expected, got):
        torch.testing.assert_close(g.flatten(1), e, rtol=1e-4, atol=1e-4)


def test_identity_adaptive_pool_is_removed_and_reported():
    converted = netspec.convolutionize(torchvision.models.vgg16().eval(), (3, 224, 224))
    assert not any(isinstance(m, nn.AdaptiveAvgPool2d) for m in converted.modules())
    report = {c.layer: c for c in converted.netspec_changes}
    assert report["avgpool"].after == "removed" and "identity" in report["avgpool"].reason
    assert report["classifier.0"].after == "conv 4096 7x7"


def test_batchnorm1d_and_softmax_move_to_channels():
    torch.manual_seed(0)
    original = nn.Sequential(
        nn.Conv2d(3, 8, 3), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 6 * 6, 16), nn.BatchNorm1d(16), nn.ReLU(),
        nn.Linear(16, 5), nn.LogSoftmax(dim=-1),
    ).double()
    original[4].running_mean.uniform_(-1, 1)
    original[4].running_var.uniform_(0.5, 2)
    original.eval()
    converted = netspec.convolutionize(original, (3, 8, 8))
    assert isinstance(converted.get_submodule("4"), nn.BatchNorm2d)
    assert converted.get_submodule("4").running_mean is original[4].running_mean
    x = torch.randn(2, 3, 8 + 3, 8 + 2, dtype=torch.float64)
    with torch.no_grad():
        dense = converted(x)
        assert dense.shape == (2, 5, 4, 3)
        for i in range(4):
            for j in range(3):
                torch.testing.assert_close(dense[:, :, i, j], original(x[:, :, i: i + 8, j: j + 8]))


def _error(module, shape, **options) -> str:
    with pytest.raises(netspec.NetspecError) as caught:
        netspec.convolutionize(module, shape, **options)
    return caught.value.render()


def test_what_cannot_be_converted_is_an_error_naming_the_layer():
    assert "layer '0' (Linear): its input (10 per sample) does not come from a flattened map" in _error(
        nn.Sequential(nn.Linear(10, 4)), (10,))
    message = _error(nn.Sequential(nn.Conv2d(3, 4, 3), nn.Flatten(), nn.Unflatten(1, (4, 36))), (3, 8, 8))
    assert "layer '2' (Unflatten)" in message and "flattened features" in message
    # torchvision's GoogLeNet in training mode runs its auxiliary heads: 14x14 pooled to 4x4
    message = _error(torchvision.models.googlenet(init_weights=False), (3, 224, 224))
    assert "layer 'aux1.adaptive_avg_pool2d'" in message and "pools 14x14 to 4x4" in message
    message = _error(nn.Sequential(nn.Conv2d(3, 4, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 4), nn.ReLU(),
                                   nn.Linear(4, 2)), (3, 8, 8), dense=True)
    assert "layer '4' (ReLU): --dense drops the global average pool" in message
