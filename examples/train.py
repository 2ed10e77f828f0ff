"""Train a compiled spec on scikit-learn's digits, in one process or many (torchrun + DistributedDataParallel).

    python examples/train.py specs/lenet5_digits.net --epochs 10
    torchrun --nproc-per-node 2 examples/train.py specs/lenet5_digits.net --epochs 10

The digits (1,797 8x8 grey images, 10 classes) ship inside scikit-learn: nothing is
downloaded. A spec whose input is not 1x8x8 gets the images resized (bilinear) to its
height and width and repeated over its channels, so `specs/lenet5.net` (1x28x28) trains on
digits upsampled to 28x28. Each epoch prints the test accuracy and writes a checkpoint
(`checkpoint.pt`: the model's state_dict, the optimizer's, the epoch and the accuracy) that
`netspec.compile(SPEC, weights=...)` loads as it is. Under torchrun every process trains on
its share of each batch and DistributedDataParallel averages the gradients (gloo on CPU,
nccl on GPU): torch's own engine, nothing home-made.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset
from torch.utils.data.distributed import DistributedSampler
from tqdm import tqdm

import netspec


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("spec", help="a .net spec whose network ends in `classes` outputs")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", help="override a network parameter")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=32, help="per process")
    parser.add_argument("--lr", type=float, default=3e-3, help="Adam's learning rate")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--checkpoint-dir", type=Path, default=Path("checkpoints"))
    parser.add_argument("--weights", help="start from these weights (a torch.save'd state_dict or checkpoint)")
    parser.add_argument("--fine-tune", action="store_true", help="with --weights: leave out tensors whose shapes differ")
    parser.add_argument("--save-every-rank", action="store_true",
                        help="also write each process's final weights (rank-R.pt), to check that the replicas agree")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser.parse_args(argv)


def overrides(pairs: list[str]) -> dict:
    values = {}
    for pair in pairs:
        name, _, text = pair.partition("=")
        lowered = text.lower()
        if lowered in ("true", "false"):
            values[name] = lowered == "true"
        else:
            try:
                values[name] = int(text)
            except ValueError:
                values[name] = float(text)
    return values


def digits(input_shape: tuple[int, ...], seed: int):
    """(train, test) TensorDatasets of the digits in the spec's input shape: 80 % / 20 %, stratified."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    data = load_digits()
    images = torch.tensor(data.images, dtype=torch.float32).unsqueeze(1) / 16.0  # N x 1 x 8 x 8, in [0, 1]
    images = (images - 0.5) / 0.5
    channels, *grid = input_shape
    if tuple(grid) != (8, 8):
        images = F.interpolate(images, size=tuple(grid), mode="bilinear", align_corners=False)
    images = images.expand(-1, channels, *grid).contiguous()
    labels = torch.tensor(data.target, dtype=torch.long)
    train, test = train_test_split(range(len(labels)), test_size=0.2, stratify=data.target, random_state=seed)
    return TensorDataset(images[train], labels[train]), TensorDataset(images[test], labels[test])


def main_output(result):
    """The first output: a spec with auxiliary heads returns (main, aux...)."""
    return result[0] if isinstance(result, (tuple, list)) else result


def accuracy(model: nn.Module, loader: DataLoader, device: torch.device) -> float:
    model.eval()
    correct = total = 0
    with torch.no_grad():
        for images, labels in loader:
            predicted = main_output(model(images.to(device))).argmax(dim=1)
            correct += (predicted == labels.to(device)).sum().item()
            total += len(labels)
    return correct / total


def save_atomically(value, path: Path) -> None:
    """torch.save to a temporary beside `path`, then rename: a crash never leaves half a checkpoint."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    torch.save(value, temporary)
    os.replace(temporary, path)


def train(args: argparse.Namespace) -> float:
    distributed = "WORLD_SIZE" in os.environ  # set by torchrun
    if distributed:
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        dist.init_process_group(backend)
        rank, world = dist.get_rank(), dist.get_world_size()
        local_rank = int(os.environ.get("LOCAL_RANK", 0))
        device = torch.device("cuda", local_rank) if backend == "nccl" else torch.device("cpu")
        if backend == "nccl":
            torch.cuda.set_device(device)
    else:
        rank, world = 0, 1
        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    torch.manual_seed(args.seed)  # every process starts from the same weights (DDP checks it)

    model = netspec.compile(args.spec, **overrides(args.set))
    if args.weights:
        report = netspec.load_weights(model, args.weights, fine_tune=args.fine_tune)
        if rank == 0:
            print(f"weights: {report}")
    model.to(device)
    train_set, test_set = digits(tuple(model.netspec_input_shape), args.seed)
    sampler = DistributedSampler(train_set, num_replicas=world, rank=rank, shuffle=True, seed=args.seed) if distributed else None
    generator = torch.Generator().manual_seed(args.seed)
    train_loader = DataLoader(train_set, batch_size=args.batch_size, shuffle=sampler is None, sampler=sampler, generator=generator)
    test_loader = DataLoader(test_set, batch_size=256)
    network = nn.parallel.DistributedDataParallel(model) if distributed else model
    optimizer = torch.optim.Adam(network.parameters(), lr=args.lr)

    result = 0.0
    for epoch in range(1, args.epochs + 1):
        if sampler is not None:
            sampler.set_epoch(epoch)
        network.train()
        bar = tqdm(train_loader, desc=f"epoch {epoch}/{args.epochs}", disable=args.quiet or rank != 0, leave=False)
        for images, labels in bar:
            loss = F.cross_entropy(main_output(network(images.to(device))), labels.to(device))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            bar.set_postfix(loss=f"{loss.item():.3f}")
        result = accuracy(model, test_loader, device)  # every rank holds the same weights
        if rank == 0:
            print(f"epoch {epoch}: test accuracy {result:.2%}", flush=True)
            save_atomically(
                {"epoch": epoch, "model": model.state_dict(), "optimizer": optimizer.state_dict(), "test_accuracy": result},
                args.checkpoint_dir / "checkpoint.pt",
            )
    if args.save_every_rank:
        save_atomically(model.state_dict(), args.checkpoint_dir / f"rank-{rank}.pt")
    if distributed:
        dist.destroy_process_group()
    return result


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        train(args)
    except netspec.NetspecError as error:
        print(error, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
