"""Accuracy and speed of the bundled models on the real ImageNet sample: the README's table.

For each model: top-1 and top-5 on ``../shared/data/imagenet-sample`` (one photo per class)
and images/s end to end (decoding, preprocessing and inference through ``evaluate``, as the
``evaluate`` command runs it; model loading is timed apart). resnet50 (torchvision,
IMAGENET1K_V2) is measured too when its weights are in the local torch cache.

    python benchmarks/bench_models.py                  # the full sample: several minutes
    python benchmarks/bench_models.py --limit 20       # a quick check on 20 classes

Timings on a shared machine are noisy: compare figures from the same run only.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from synsetlab import Classifier, WeightsUnavailableError, create_model, evaluate_folder

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "imagenet-sample"
BUNDLED = ("efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2")
OPTIONAL = ("resnet50",)  # measured only when its weights are already cached


@dataclass
class Row:
    model: str
    sizes: str
    top1: float
    top5: float
    images: int
    failed: int
    rate: float
    load_s: float
    engine: str

    def markdown(self) -> str:
        return (
            f"| {self.model} | {self.sizes} | {100 * self.top1:.1f}% | {100 * self.top5:.1f}% "
            f"| {self.rate:.1f} | {self.engine} |"
        )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="class-folder dataset")
    parser.add_argument("--models", nargs="+", default=[*BUNDLED, *OPTIONAL])
    parser.add_argument(
        "--limit", type=int, default=None, help="use N classes, evenly spaced (default: all)"
    )
    parser.add_argument("--batch-size", type=int, default=32)
    return parser.parse_args(argv)


def subset(data: Path, limit: int | None, scratch: Path) -> Path:
    """``data`` itself, or a tree of links to ``limit`` evenly spaced class folders."""
    if limit is None:
        return data
    folders = sorted(p for p in data.iterdir() if p.is_dir() and not p.name.startswith("."))
    step = max(1, len(folders) // limit)
    for folder in folders[::step][:limit]:
        os.symlink(folder.resolve(), scratch / folder.name)
    return scratch


def measure(name: str, data: Path, batch_size: int) -> Row | None:
    start = time.perf_counter()
    try:
        model = create_model(name)
    except WeightsUnavailableError as exc:
        print(f"{name}: not measured, its weights are not cached ({exc})", file=sys.stderr)
        return None
    classifier = Classifier(model, batch_size=batch_size)
    load_s = time.perf_counter() - start
    start = time.perf_counter()
    result = evaluate_folder(classifier, data)
    seconds = time.perf_counter() - start
    pre = model.preprocessing
    return Row(
        model=name,
        sizes=f"{pre.resize_size} / {pre.crop_size} {pre.interpolation}",
        top1=result.accuracy(1),
        top5=result.accuracy(5),
        images=result.num_images,
        failed=len(result.failures),
        rate=(result.num_images + len(result.failures)) / seconds,
        load_s=load_s,
        engine=classifier.backend.name,
    )


def machine() -> str:
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    cpu = platform.processor() or platform.machine()
    info = Path("/proc/cpuinfo")
    lines = info.read_text().splitlines() if info.exists() else []
    names = [line for line in lines if line.startswith("model name")]
    if names:
        cpu = names[0].split(":", 1)[1].strip()
    return f"{cores} cores ({cpu}), torch {torch.__version__}, {torch.get_num_threads()} threads"


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if not args.data.is_dir():
        sys.exit(f"{args.data}: not a folder; pass --data with an ImageNet-style class folder tree")
    with tempfile.TemporaryDirectory(prefix="bench-models-") as scratch:
        data = subset(args.data, args.limit, Path(scratch))
        rows = [row for name in args.models if (row := measure(name, data, args.batch_size))]
    print(f"Measured on {args.data} ({rows[0].images if rows else 0} images), {machine()}.")
    print("images/s: end to end (decode, preprocess, infer), model loading apart.\n")
    print("| model | resize / crop | top-1 | top-5 | images/s | engine |")
    print("|---|---|---|---|---|---|")
    for row in rows:
        print(row.markdown())
    print()
    for row in rows:
        print(f"{row.model}: model ready in {row.load_s:.1f} s, {row.failed} images failed")


if __name__ == "__main__":
    main()
