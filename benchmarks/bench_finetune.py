"""How long ``synsetlab finetune`` takes next to the plain recipe, same data, same machine.

Both run once, as fresh processes, timed from process start to the model on disk:

1. ``synsetlab finetune DATA --output ...`` with its defaults (or the options given after
   ``--``): frozen features computed once, the tail trained on them.
2. the plain recipe: the same base model, the last stage and a new head trained with Adam
   (lr 1e-3) and cross entropy in an eager PyTorch loop, the whole network run on every
   image in every epoch (DataLoader with worker processes, random resized crop + flip with
   synsetlab's own loader, evaluation each epoch), ``--plain-epochs`` epochs.

It prints each time, their ratio and both validation accuracies.

    python benchmarks/bench_finetune.py                    # ants/bees, the defaults
    python benchmarks/bench_finetune.py -- --freeze all-but-last-stage --epochs 5

Timings on a shared machine are noisy: compare figures of the same run only, or rerun.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DEFAULT_DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "hymenoptera"


def main() -> None:
    args = parse_args()
    if args.plain_worker:
        plain_recipe(args.data, args.base, args.plain_epochs, args.batch_size)
        return
    with tempfile.TemporaryDirectory(prefix="bench-finetune-") as tmp:
        ours, ours_acc = run_synsetlab(args.data, Path(tmp), args.extra)
    print(f"synsetlab finetune : {ours:6.1f} s   val accuracy {100 * ours_acc:.1f}%", flush=True)
    if args.skip_plain:
        return
    plain, plain_acc = run_plain(args)
    print(
        f"plain recipe       : {plain:6.1f} s   val accuracy {100 * plain_acc:.1f}% "
        f"({args.plain_epochs} epochs, last stage + head, base {args.base})"
    )
    print(f"ratio              : {plain / ours:6.2f}x faster")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--base", default=None, help="base model [synsetlab's default]")
    parser.add_argument("--plain-epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--skip-plain", action="store_true")
    parser.add_argument("--plain-worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("extra", nargs="*", help="options for synsetlab finetune (after --)")
    args = parser.parse_args()
    if args.base is None:
        from synsetlab.train.settings import DEFAULT_BASE

        args.base = DEFAULT_BASE
    return args


def run_synsetlab(data: Path, tmp: Path, extra: list[str]) -> tuple[float, float]:
    output = tmp / "ants_bees.synsetlab"
    command = [sys.executable, "-m", "synsetlab", "finetune", str(data), "--output", str(output)]
    start = time.perf_counter()
    subprocess.run([*command, *extra], check=True)
    seconds = time.perf_counter() - start
    from synsetlab.models.modelfile import read_metadata

    return seconds, float(read_metadata(output)["metrics"]["val_accuracy"])


def run_plain(args: argparse.Namespace) -> tuple[float, float]:
    command = [sys.executable, __file__, "--plain-worker", "--data", str(args.data),
               "--base", args.base, "--plain-epochs", str(args.plain_epochs),
               "--batch-size", str(args.batch_size)]  # fmt: skip
    start = time.perf_counter()
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    return seconds, float(json.loads(done.stdout.strip().splitlines()[-1])["val_accuracy"])


def plain_recipe(data: Path, base: str, epochs: int, batch_size: int) -> None:
    """The recipe as commonly written: eager PyTorch, everything recomputed every epoch."""
    import torch
    from torch.utils.data import DataLoader

    from synsetlab.models import create_model
    from synsetlab.train.data import load_training_data
    from synsetlab.train.freeze import replace_head, split
    from synsetlab.train.settings import FreezePolicy

    torch.manual_seed(0)
    sets = load_training_data(data)
    model = create_model(base)
    replace_head(model.module, len(sets.classes))
    trainable = list(split(model.module, FreezePolicy.ALL_BUT_LAST_STAGE).trainable_parameters())
    optimizer = torch.optim.Adam(trainable, lr=1e-3)
    train = DataLoader(_Pictures(sets.train, model.preprocessing, True), batch_size, shuffle=True,
                       num_workers=2, drop_last=True, persistent_workers=True)  # fmt: skip
    val = DataLoader(_Pictures(sets.val, model.preprocessing, False), batch_size, num_workers=2)
    best = 0.0
    for epoch in range(epochs):
        model.module.train()
        for inputs, labels in train:
            loss = torch.nn.functional.cross_entropy(model.module(inputs), labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        best = max(best, _accuracy(model.module, val))
        print(f"plain recipe: epoch {epoch + 1}, val accuracy {best:.3f}", file=sys.stderr)
    print(json.dumps({"val_accuracy": best}))


def _accuracy(module, loader) -> float:
    import torch

    module.eval()
    right = total = 0
    with torch.inference_mode():
        for inputs, labels in loader:
            right += int((module(inputs).argmax(1) == labels).sum())
            total += len(labels)
    return right / total


class _Pictures:
    """A map-style dataset over synsetlab's loader: augmented for training, plain for val."""

    def __init__(self, samples, pre, augment: bool) -> None:
        self.samples, self.pre, self.augment = samples, pre, augment

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int):
        import numpy as np
        import torch

        from synsetlab.data.images import load_image
        from synsetlab.train.augment import train_view

        sample = self.samples[index]
        image = load_image(sample.path)
        if self.augment:
            array = train_view(image, self.pre, np.random.default_rng())
        else:
            array = self.pre.to_array(image)
        return torch.from_numpy(array), sample.label


if __name__ == "__main__":
    main()
