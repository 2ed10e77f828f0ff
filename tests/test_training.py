"""examples/train.py, a real client: it learns the digits, and two DDP processes end with the same weights."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("sklearn")

import netspec  # noqa: E402
from tests.conftest import ROOT  # noqa: E402

TRAIN = ROOT / "examples" / "train.py"
DIGITS = ROOT / "specs" / "lenet5_digits.net"


def run(args: list[str], tmp_path, launcher: list[str] | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    command = [*(launcher or [sys.executable]), str(TRAIN), *args, "--checkpoint-dir", str(tmp_path), "--quiet"]
    return subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)


def test_a_short_training_run_learns_the_digits_and_writes_a_loadable_checkpoint(tmp_path):
    result = run([str(DIGITS), "--epochs", "6"], tmp_path)
    assert result.returncode == 0, result.stderr
    accuracies = [float(line.rsplit(" ", 1)[1].rstrip("%")) / 100 for line in result.stdout.splitlines() if "test accuracy" in line]
    assert len(accuracies) == 6
    assert accuracies[-1] > 0.90
    checkpoint = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    assert checkpoint["epoch"] == 6 and checkpoint["test_accuracy"] == pytest.approx(accuracies[-1], abs=1e-4)
    model = netspec.compile(DIGITS, weights=tmp_path / "checkpoint.pt")  # the checkpoint is unwrapped
    assert torch.equal(model.fc3.bias, checkpoint["model"]["fc3.bias"])


def test_two_process_gloo_ddp_ends_with_identical_weights_on_both_ranks(tmp_path):
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2"]
    result = run([str(DIGITS), "--epochs", "2", "--save-every-rank"], tmp_path, launcher)
    assert result.returncode == 0, result.stderr[-3000:]
    first = torch.load(tmp_path / "rank-0.pt", weights_only=True)
    second = torch.load(tmp_path / "rank-1.pt", weights_only=True)
    initial = netspec.compile(DIGITS).state_dict()
    assert list(first) == list(second) == list(initial)
    assert all(torch.equal(first[k], second[k]) for k in first)
    assert not all(torch.equal(first[k], initial[k]) for k in first)  # they did train
