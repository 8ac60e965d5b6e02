"""How fast synsetlab classifies a folder, next to the usual PyTorch ways and the machine's limit.

One run, one folder, one model:

1. the textbook loop: per image PIL open, convert, torchvision resize/crop/normalise, one
   eager forward pass, top-5;
2. a batched eager-PyTorch DataLoader pipeline with worker processes (synsetlab's own image
   loading and preprocessing, full-size decoding: "the eager PyTorch path");
3. ``synsetlab classify`` as a subprocess (process start included) and in process (model
   loading included, interpreter start and imports not);

then images/s for each, the ratios to (1) and (2), the compute ceiling (fp32 GEMM peak measured
with a large matmul, over the model's FLOPs per image counted by PyTorch's FlopCounterMode), and
how far synsetlab's engine strays from the eager path: top-1 agreement on every image and the
largest difference among the top-5 probabilities.

    python benchmarks/bench_inference.py --model efficientnet_lite0 --limit 200

Timings on a shared machine are noisy: compare figures from the same run only. CPU-ms per
image (this process and its children) depends far less on the neighbours. On a busy machine
set OMP_WAIT_POLICY=PASSIVE, or PyTorch's spinning OpenMP threads make the eager baselines
look up to 10x slower than they are on a quiet one. ``--draft-study`` adds how JPEG draft
decoding changes the answers and the decoding time.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset
from torch.utils.flop_counter import FlopCounterMode
from torchvision import transforms

from synsetlab.data.discovery import find_images
from synsetlab.data.images import load_image
from synsetlab.engine.backends import softmax
from synsetlab.engine.classifier import Classifier, draft_size
from synsetlab.engine.selection import available_cores
from synsetlab.models import LoadedModel, create_model

DEFAULT_DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "imagenet-sample"


@dataclass
class Run:
    """One pipeline's time (wall clock and CPU) and its top-5 (indices, probabilities)."""

    name: str
    seconds: float
    cpu_seconds: float
    top5: np.ndarray
    probs: np.ndarray

    def rate(self, count: int) -> float:
        return count / self.seconds


class Clock:
    """Wall-clock and CPU time (this process and its finished children) of a ``with`` block.

    CPU time per image hardly depends on what else the machine runs: on a shared machine it
    says what the wall clock would on a quiet one (cores / CPU time per image, at best).
    """

    def __enter__(self) -> Clock:
        self.start, self.cpu_start = time.perf_counter(), _cpu()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self.start
        self.cpu_seconds = _cpu() - self.cpu_start


def _cpu() -> float:
    own, children = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


# -- (1) the textbook loop ------------------------------------------------------------------


def textbook_transform(model: LoadedModel) -> Callable[[Image.Image], torch.Tensor]:
    pre = model.preprocessing
    interpolation = transforms.InterpolationMode(pre.interpolation)
    return transforms.Compose(
        [
            transforms.Resize(pre.resize_size, interpolation=interpolation),
            transforms.CenterCrop(pre.crop_size),
            transforms.ToTensor(),
            transforms.Normalize(pre.mean, pre.std),
        ]
    )


def textbook_loop(model: LoadedModel, files: Sequence[Path]) -> Run:
    transform, module = textbook_transform(model), model.module.eval()
    rows = []
    with Clock() as clock, torch.no_grad():
        for path in files:
            image = Image.open(path).convert("RGB")
            probs = module(transform(image).unsqueeze(0)).softmax(dim=1)
            rows.append(probs.topk(5, dim=1))
    return _run("(1) textbook loop", clock, rows)


# -- (2) batched eager PyTorch with a DataLoader --------------------------------------------


class SynsetlabImages(Dataset[torch.Tensor]):
    """synsetlab's loader and preprocessing, full-size decoding."""

    def __init__(self, model: LoadedModel, files: Sequence[Path]) -> None:
        self.files, self.pre = list(files), model.preprocessing

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int) -> torch.Tensor:
        return torch.from_numpy(self.pre.to_array(load_image(self.files[index])))


def dataloader_pipeline(model: LoadedModel, files: Sequence[Path], batch: int) -> Run:
    loader = DataLoader(SynsetlabImages(model, files), batch_size=batch, num_workers=2)
    module, rows = model.module.eval(), []
    with Clock() as clock, torch.inference_mode():
        for inputs in loader:
            rows.append(module(inputs).softmax(dim=1).topk(5, dim=1))
    return _run("(2) eager DataLoader", clock, rows)


def _run(name: str, clock: Clock, rows: list[torch.return_types.topk]) -> Run:
    top5 = torch.cat([r.indices for r in rows]).numpy()
    probs = torch.cat([r.values for r in rows]).numpy()
    return Run(name, clock.seconds, clock.cpu_seconds, top5, probs)


# -- (3) synsetlab classify -----------------------------------------------------------------


def synsetlab_in_process(name: str, files: Sequence[Path], batch: int) -> Run:
    with Clock() as clock:
        classifier = Classifier(create_model(name), batch_size=batch)
        results = list(classifier.classify_files(files, top_k=5))
    return _from_results("(3b) synsetlab in process", clock, [r.to_dict() for r in results])


def synsetlab_subprocess(name: str, files: Sequence[Path], data: Path, whole: bool) -> Run:
    with tempfile.TemporaryDirectory() as tmp:
        output = Path(tmp) / "results.jsonl"
        targets = [str(data)] if whole else [str(f) for f in files]
        command = [sys.executable, "-m", "synsetlab", "-q", "classify", *targets]
        command += ["--model", name, "--format", "jsonl", "--output", str(output)]
        with Clock() as clock:
            subprocess.run(command, check=True)
        rows = [json.loads(line) for line in output.read_text().splitlines()]
    return _from_results("(3a) synsetlab classify (process)", clock, rows)


def _from_results(name: str, clock: Clock, rows: list[dict]) -> Run:
    top5 = np.array([[p["index"] for p in r["predictions"]] for r in rows])
    probs = np.array([[p["probability"] for p in r["predictions"]] for r in rows])
    return Run(name, clock.seconds, clock.cpu_seconds, top5, probs)


# -- the compute ceiling --------------------------------------------------------------------


def gemm_peak_gflops(size: int = 2048, repeats: int = 5) -> float:
    """Best fp32 matrix-multiply rate over a few tries, all cores."""
    a, b = torch.randn(size, size), torch.randn(size, size)
    torch.mm(a, b)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        torch.mm(a, b)
        best = min(best, time.perf_counter() - start)
    return 2 * size**3 / best / 1e9


def model_gflops(model: LoadedModel) -> float:
    """FLOPs of one forward pass (a multiply-add counts 2), per image, in GFLOP."""
    crop = model.preprocessing.crop_size
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model.module.eval()(torch.zeros(1, 3, crop, crop))
    return counter.get_total_flops() / 1e9


def decode_rate(classifier: Classifier, files: Sequence[Path]) -> float:
    """Images/s one core decodes and preprocesses, the way synsetlab does."""
    start = time.perf_counter()
    for path in files:
        classifier.load_array(path)
    return len(files) / (time.perf_counter() - start)


# -- report ---------------------------------------------------------------------------------


def agreement(engine: Run, reference: Run) -> tuple[int, float]:
    """(images with the same top-1, largest probability difference of a class that is in
    both top-5 lists)."""
    same = int((engine.top5[:, 0] == reference.top5[:, 0]).sum())
    diffs = [0.0]
    for classes, probs, ref_classes, ref_probs in zip(
        engine.top5, engine.probs, reference.top5, reference.probs, strict=True
    ):
        ref = dict(zip(ref_classes.tolist(), ref_probs.tolist(), strict=True))
        diffs += [abs(p - ref[c]) for c, p in zip(classes.tolist(), probs, strict=True) if c in ref]
    return same, max(diffs)


def top1_accuracy(run: Run, files: Sequence[Path], model: LoadedModel) -> float:
    truth = [model.classes.wnids.index(f.parent.name) for f in files]
    return float(np.mean(run.top5[:, 0] == np.array(truth)))


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
        cpu = next(line.split(":", 1)[1].strip() for line in lines if "model name" in line)
    except (OSError, StopIteration):
        pass
    return f"{cpu}, {available_cores()} cores usable, torch {torch.__version__}"


def report(runs: list[Run], count: int, ceiling: dict[str, float], labels: list[str]) -> None:
    base, loader = runs[0].rate(count), runs[1].rate(count)
    print(
        f"\n{'pipeline':36} {'images/s':>9} {'vs (1)':>7} {'vs (2)':>7} {'CPU-ms/img':>11}"
        f" {'top-1':>6}"
    )
    for run, label in zip(runs, labels, strict=True):
        rate, cpu_ms = run.rate(count), run.cpu_seconds / count * 1000
        print(
            f"{run.name:36} {rate:9.1f} {rate / base:6.2f}x {rate / loader:6.2f}x"
            f" {cpu_ms:11.2f} {label:>6}"
        )
    print(
        f"\ncompute ceiling: fp32 GEMM peak {ceiling['peak']:.0f} GFLOP/s / "
        f"{ceiling['gflops']:.3f} GFLOP per image = {ceiling['compute']:.0f} images/s"
    )
    print(
        f"decode + preprocess: {ceiling['decode']:.0f} images/s per core; with the compute: "
        f"end-to-end ceiling {ceiling['end_to_end']:.0f} images/s on {ceiling['cores']:.0f} cores"
    )


def print_agreement(runs: list[Run], files: Sequence[Path], model: LoadedModel) -> None:
    textbook, reference, engine = runs[0], runs[1], runs[3]
    same, diff = agreement(engine, reference)
    drafted = drafted_mask(files, model)
    _, full_diff = agreement(_subset(engine, ~drafted), _subset(reference, ~drafted))
    print(
        f"\nsynsetlab engine vs eager PyTorch path (2): top-1 identical on {same} of {len(files)}"
    )
    print(f"  largest difference of a top-5 probability: {diff:.2e} over all images,")
    print(f"  {full_diff:.2e} over the {int((~drafted).sum())} not decoded in JPEG draft mode")
    same, _ = agreement(textbook, reference)
    print(
        f"textbook loop (1) vs (2) (torchvision resize): top-1 identical on {same} of {len(files)}"
    )


def drafted_mask(files: Sequence[Path], model: LoadedModel) -> np.ndarray:
    """Which files synsetlab decodes at reduced scale (JPEGs at least twice the draft size)."""
    side = draft_size(model.preprocessing.resize_size)[0]
    mask = []
    for path in files:
        with Image.open(path) as image:
            mask.append(image.format == "JPEG" and min(image.size) >= 2 * side)
    return np.array(mask, dtype=bool)


def _subset(run: Run, mask: np.ndarray) -> Run:
    return Run(run.name, run.seconds, run.cpu_seconds, run.top5[mask], run.probs[mask])


def draft_study(model: LoadedModel, files: Sequence[Path]) -> None:
    """What JPEG draft decoding costs in accuracy and saves in time, per margin."""
    classifier = Classifier(model, engine="onnxruntime")
    probs = {}
    print("\nJPEG draft decoding (short side kept >= margin x resize size), onnxruntime:")
    for margin in (None, 2, 1):
        resize = model.preprocessing.resize_size
        classifier.draft_size = draft_size(resize, margin) if margin else None
        with Clock() as clock:
            arrays = [classifier.load_array(path) for path in files]
        probs[margin] = np.concatenate(
            [
                softmax(classifier.logits(np.stack(arrays[i : i + 32])))
                for i in range(0, len(arrays), 32)
            ]
        )
        print(f"  margin {margin}: decode {clock.cpu_seconds / len(files) * 1000:.2f} CPU-ms/img")
    full = probs[None]
    top5 = np.argsort(-full, axis=1)[:, :5]
    for margin in (2, 1):
        same = int((probs[margin].argmax(axis=1) == full.argmax(axis=1)).sum())
        diff = np.abs(np.take_along_axis(probs[margin] - full, top5, axis=1)).max()
        print(
            f"  margin {margin} vs full decode: top-1 identical on {same} of {len(files)}, "
            f"largest top-5 probability difference {diff:.4f}"
        )


def ceiling_figures(model: LoadedModel, files: Sequence[Path]) -> dict[str, float]:
    peak, gflops = gemm_peak_gflops(), model_gflops(model)
    cores = available_cores()
    decoder = Classifier(model, engine="torch")
    per_core = decode_rate(decoder, files[: min(len(files), 100)])
    compute = peak / gflops
    end_to_end = cores / (cores / compute + 1 / per_core)
    return {
        "peak": peak,
        "gflops": gflops,
        "compute": compute,
        "decode": per_core,
        "end_to_end": end_to_end,
        "cores": cores,
    }


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    files = find_images([args.data])[: args.limit]
    count = len(files)
    print(f"{args.model} on {count} images from {args.data}\nmachine: {machine()}")
    model = create_model(args.model)
    Classifier(model)  # exports the ONNX graph once, so that the timed runs find it cached
    runs = [textbook_loop(model, files), dataloader_pipeline(model, files, args.batch_size)]
    runs.append(synsetlab_subprocess(args.model, files, args.data, args.limit is None))
    runs.append(synsetlab_in_process(args.model, files, args.batch_size))
    ceiling = ceiling_figures(model, files)
    labels = [f"{top1_accuracy(run, files, model):.1%}" for run in runs]
    report(runs, count, ceiling, labels)
    startup = synsetlab_subprocess(args.model, files[:1], args.data, whole=False).seconds
    print(f"synsetlab classify on a single image (process start, imports, model): {startup:.1f} s")
    print_agreement(runs, files, model)
    if args.draft_study:
        draft_study(model, files)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="efficientnet_lite0")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA.resolve())
    parser.add_argument("--limit", type=int, default=None, help="Use the first N images.")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument(
        "--draft-study", action="store_true", help="Also measure JPEG draft decoding's effect."
    )
    return parser.parse_args(argv)


if __name__ == "__main__":
    main()
