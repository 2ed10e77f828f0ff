"""Weights: `compile(weights=)`, fine-tuning with other classes, and `transfer_weights` by execution order."""
from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
torchvision = pytest.importorskip("torchvision")
from torch import nn  # noqa: E402

import netspec  # noqa: E402
from netspec.compiler.weights import WeightsError  # noqa: E402
from tests.conftest import ROOT  # noqa: E402

RESNET18 = ROOT / "specs" / "resnet18.net"
LENET5 = ROOT / "specs" / "lenet5.net"


@pytest.fixture(scope="module")
def resnet18_checkpoint(tmp_path_factory):
    torch.manual_seed(0)
    model = torchvision.models.resnet18(weights=None).eval()
    path = tmp_path_factory.mktemp("weights") / "resnet18.pth"
    torch.save(model.state_dict(), path)
    return model, path


def test_compile_with_a_torchvision_checkpoint_file_computes_what_torchvision_computes(resnet18_checkpoint):
    theirs, path = resnet18_checkpoint
    ours = netspec.compile(RESNET18, weights=path).eval()
    assert not any(t.is_meta for t in ours.state_dict().values())
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        expected = theirs(x)
        torch.testing.assert_close(ours(x), expected, rtol=0, atol=1e-5 * expected.abs().max().item())


def test_compile_with_weights_copies_a_live_state_dict_rather_than_sharing_it(resnet18_checkpoint):
    theirs, _ = resnet18_checkpoint
    ours = netspec.compile(RESNET18, weights=theirs.state_dict())
    assert ours.conv1.weight.data_ptr() != theirs.conv1.weight.data_ptr()
    assert torch.equal(ours.conv1.weight, theirs.conv1.weight)


def test_wrapped_and_data_parallel_checkpoints_are_unwrapped(resnet18_checkpoint, tmp_path):
    theirs, _ = resnet18_checkpoint
    path = tmp_path / "ddp.pth"
    torch.save({"epoch": 3, "state_dict": {f"module.{k}": v for k, v in theirs.state_dict().items()}}, path)
    ours = netspec.compile(RESNET18, weights=path)
    assert torch.equal(ours.fc.bias, theirs.fc.bias)


def test_fine_tune_loads_all_but_the_classifier_and_says_so(resnet18_checkpoint):
    theirs, path = resnet18_checkpoint
    model = netspec.compile(RESNET18, classes=10)
    initial_fc = model.fc.weight.detach().clone()
    report = netspec.load_weights(model, path, fine_tune=True)
    assert [key for key, _, _ in report.left_out] == ["fc.weight", "fc.bias"]
    assert report.left_out[0][1:] == ((1000, 512), (10, 512))
    assert len(report.loaded) == len(theirs.state_dict()) - 2
    assert torch.equal(model.get_submodule("layer4.1.conv2").weight, theirs.layer4[1].conv2.weight)
    assert torch.equal(model.fc.weight, initial_fc)  # the new classifier keeps its initialization
    assert "fc.weight (1000x512 in the checkpoint, 10x512 here)" in str(report)


def test_a_strict_load_that_does_not_fit_names_the_tensors(resnet18_checkpoint):
    _, path = resnet18_checkpoint
    with pytest.raises(WeightsError, match=r"fc\.weight \(1000x512 in the checkpoint, 10x512 here\).*fine_tune=True"):
        netspec.compile(RESNET18, classes=10, weights=path)
    with pytest.raises(WeightsError, match=r"missing from the checkpoint: layer1\.2\.conv1\.weight"):
        netspec.compile(ROOT / "specs" / "resnet34.net", weights=path)  # 3 blocks in layer1, not 2


def test_unreadable_weights_are_a_clear_error(tmp_path):
    with pytest.raises(WeightsError, match="no such file"):
        netspec.compile(LENET5, weights=tmp_path / "nothing.pth")
    (tmp_path / "junk.pth").write_text("not a checkpoint")
    with pytest.raises(WeightsError, match="cannot read weights from"):
        netspec.compile(LENET5, weights=tmp_path / "junk.pth")


class HandLeNet(nn.Module):
    """LeNet-5 written by hand, its layers registered in an order unlike the order they run."""

    def __init__(self, conv2_width: int = 16):
        super().__init__()
        self.head = nn.Sequential(nn.Linear(conv2_width * 16, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))
        self.second = nn.Conv2d(6, conv2_width, 5)
        self.first = nn.Conv2d(1, 6, 5)

    def forward(self, x):
        x = torch.max_pool2d(torch.relu(self.first(x)), 2)
        x = torch.max_pool2d(torch.relu(self.second(x)), 2)
        return self.head(x.flatten(1))


def test_transfer_weights_pairs_layers_by_execution_order_not_by_name_or_registration():
    torch.manual_seed(0)
    source = HandLeNet().eval()
    target = netspec.compile(LENET5).eval()
    pairs = netspec.transfer_weights(source, target)
    assert pairs == [("first", "stage1.conv"), ("second", "stage2.conv"), ("head.0", "fc1"), ("head.2", "fc2"), ("head.4", "fc3")]
    x = torch.randn(4, 1, 28, 28)
    with torch.no_grad():
        torch.testing.assert_close(target(x), source(x))


def test_transfer_weights_names_the_first_differing_layer_on_both_sides():
    target = netspec.compile(LENET5)
    before = {k: v.clone() for k, v in target.state_dict().items()}
    with pytest.raises(WeightsError) as error:
        netspec.transfer_weights(HandLeNet(conv2_width=8), target)
    message = str(error.value)
    assert "layer 2 in execution order differs" in message
    assert "source `second` (Conv2d: weight 8x6x5x5, bias 8)" in message
    assert "target `stage2.conv` (Conv2d: weight 16x6x5x5, bias 16)" in message
    assert all(torch.equal(v, before[k]) for k, v in target.state_dict().items())  # nothing copied


def test_transfer_weights_reports_a_layer_without_partner():
    extra = nn.Sequential(HandLeNet(), nn.Linear(10, 10))
    with pytest.raises(WeightsError, match=r"source has 6 layers with weights and the target 5; the first without a partner is source `1` \(Linear"):
        netspec.transfer_weights(extra, netspec.compile(LENET5))
