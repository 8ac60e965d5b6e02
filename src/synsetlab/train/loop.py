"""The training loop policy: batches, optimiser, schedule, evaluation, best epoch, stopping.

- Cross entropy, Adam, a cosine decay of the rate over the phase's steps.
- The order of the images in epoch ``e`` comes from a generator seeded by ``(seed, e)`` and
  dropout (if any) is re-seeded the same way, so an epoch computes the same thing whether
  the run went straight through or was resumed after a kill.
- A last batch of a single image would make BatchNorm fail in training mode (it cannot
  estimate a variance from one value): it is folded into the batch before it, so no image
  is dropped. Under DDP each rank needs two images per batch, hence ``2 * world_size``.
- Every epoch ends with an evaluation on the validation images; the best epoch (highest
  accuracy, then lowest loss) is kept, and ``patience`` epochs without improvement stop
  the phase early (0 = never).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from synsetlab.engine.classifier import prefetch
from synsetlab.engine.selection import available_cores
from synsetlab.models.preprocessing import Preprocessing
from synsetlab.train.augment import Augmentation, train_view, view_rng
from synsetlab.train.data import Sample
from synsetlab.train.distributed import DistContext, all_sum, shard
from synsetlab.train.features import FeatureCache, autocast, decode

logger = logging.getLogger(__name__)

Batch = tuple[torch.Tensor, torch.Tensor]
BatchProgress = Callable[[int, int], None]

#: Offset of the view numbers drawn when images are augmented on the fly (policy ``none``
#: and the unfrozen phase), so they never repeat the cached views.
STREAM_VIEW_BASE = 1_000

#: How much lower the validation loss must be for an epoch of equal accuracy to count as
#: better (for keeping the best epoch and for early stopping).
MIN_LOSS_GAIN = 1e-4


@dataclass(frozen=True)
class LoopSettings:
    lr: float
    batch_size: int
    seed: int
    patience: int = 0
    weight_decay: float = 0.0


@dataclass
class EpochRecord:
    """One line of the metrics file."""

    epoch: int
    phase: str
    train_loss: float
    train_accuracy: float
    val_loss: float
    val_accuracy: float
    lr: float
    seconds: float
    images_per_second: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EpochRecord:
        return cls(**data)


class EpochData(Protocol):
    """Where an epoch's batches come from: the feature cache, or images decoded on the fly."""

    num_train: int

    def train_batch(self, epoch: int, indices: torch.Tensor) -> Batch: ...

    def val_batches(self, batch_size: int, context: DistContext) -> Iterator[Batch]: ...


class CachedData:
    """Batches of cached trunk outputs; epoch ``e`` uses view ``e mod views``."""

    def __init__(self, cache: FeatureCache, device: torch.device) -> None:
        self.views = [_to_device(cache.train[v], device) for v in range(cache.views)]
        self.train_labels = cache.train_labels.to(device)
        self.val = _to_device(cache.val, device)
        self.val_labels = cache.val_labels.to(device)
        self.num_train = len(cache.train_labels)

    def train_batch(self, epoch: int, indices: torch.Tensor) -> Batch:
        inputs = self.views[epoch % len(self.views)]
        where = indices.to(inputs.device)
        return inputs[where], self.train_labels[where]

    def val_batches(self, batch_size: int, context: DistContext) -> Iterator[Batch]:
        order = shard(list(range(len(self.val_labels))), context)
        for start in range(0, len(order), batch_size):
            where = torch.tensor(order[start : start + batch_size], device=self.val.device)
            yield self.val[where], self.val_labels[where]


def _to_device(tensor: torch.Tensor, device: torch.device) -> torch.Tensor:
    # Convolutions on 4-D activations run about 1.7x faster channels-last on the CPU.
    tensor = tensor.to(device)
    return tensor.contiguous(memory_format=torch.channels_last) if tensor.ndim == 4 else tensor


class StreamedData:
    """Images decoded and augmented every epoch, for when the first layers train too.

    Training images get a fresh augmented view each epoch; validation images are made by
    ``load_eval``, the same function the feature cache and ``classify`` use.
    """

    def __init__(
        self,
        train: list[Sample],
        val: list[Sample],
        pre: Preprocessing,
        seed: int,
        device: torch.device,
        load_eval: Callable[[Path], np.ndarray],
        max_pixels: int | None = None,
    ) -> None:
        self.train, self.val, self.pre, self.seed = train, val, pre, seed
        self.device, self.load_eval, self.max_pixels = device, load_eval, max_pixels
        self.workers = available_cores()
        self.augmentation = Augmentation()
        self.num_train = len(train)

    def train_batch(self, epoch: int, indices: torch.Tensor) -> Batch:
        view = STREAM_VIEW_BASE + epoch

        def make(i: int) -> np.ndarray:
            image = decode(self.train[i].path, self.pre, self.max_pixels)
            return train_view(image, self.pre, view_rng(self.seed, i, view), self.augmentation)

        order = indices.tolist()
        arrays = list(prefetch(make, order, self.workers, depth=2 * self.workers))
        return self._tensors(arrays, [self.train[i].label for i in order])

    def val_batches(self, batch_size: int, context: DistContext) -> Iterator[Batch]:
        samples = shard(self.val, context)
        for start in range(0, len(samples), batch_size):
            part = samples[start : start + batch_size]
            paths = [s.path for s in part]
            arrays = list(prefetch(self.load_eval, paths, self.workers, depth=2 * self.workers))
            yield self._tensors(arrays, [s.label for s in part])

    def _tensors(self, arrays: list[np.ndarray], labels: list[int]) -> Batch:
        inputs = torch.from_numpy(np.stack(arrays)).to(self.device)
        inputs = inputs.contiguous(memory_format=torch.channels_last)
        return inputs, torch.tensor(labels, dtype=torch.long, device=self.device)


def epoch_batches(
    num: int, batch_size: int, seed: int, epoch: int, context: DistContext
) -> list[torch.Tensor]:
    """This rank's index batches for ``epoch``: a seeded permutation cut in global batches."""
    order = torch.randperm(num, generator=torch.Generator().manual_seed(seed * 100_003 + epoch))
    batches = list(torch.split(order, batch_size))
    smallest = 2 * context.world_size
    if len(batches) > 1 and len(batches[-1]) < smallest:
        # BatchNorm cannot train on one image: fold a too-small last batch into the previous.
        batches[-2:] = [torch.cat(batches[-2:])]
    return [batch[context.rank :: context.world_size] for batch in batches]


def steps_per_epoch(num: int, batch_size: int, world_size: int = 1) -> int:
    full, rest = divmod(num, batch_size)
    if full and 0 < rest < 2 * world_size:
        return full
    return full + (1 if rest else 0)


def cosine_schedule(optimizer: torch.optim.Optimizer, total_steps: int) -> Any:
    """The rate decays from its starting value to zero along half a cosine."""
    total = max(1, total_steps)
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: 0.5 * (1.0 + math.cos(math.pi * min(step, total) / total))
    )


@dataclass
class Optimisation:
    """What one phase trains, and how."""

    model: nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: Any
    scaler: torch.amp.GradScaler


def make_optimisation(
    model: nn.Module, groups: list[dict[str, Any]], settings: LoopSettings, total_steps: int,
    device: torch.device,
) -> Optimisation:  # fmt: skip
    optimizer = torch.optim.Adam(groups, lr=settings.lr, weight_decay=settings.weight_decay)
    scaler = torch.amp.GradScaler(device.type, enabled=device.type == "cuda")
    return Optimisation(model, optimizer, cosine_schedule(optimizer, total_steps), scaler)


def train_epoch(
    opt: Optimisation,
    data: EpochData,
    settings: LoopSettings,
    epoch: int,
    context: DistContext,
    on_batch: BatchProgress | None = None,
) -> tuple[float, float, int]:
    """One pass over the training images: (mean loss, accuracy, images) over all ranks."""
    torch.manual_seed(settings.seed * 100_003 + epoch)
    batches = epoch_batches(data.num_train, settings.batch_size, settings.seed, epoch, context)
    opt.model.train()
    totals = [0.0, 0.0, 0.0]
    for done, indices in enumerate(batches, start=1):
        inputs, labels = data.train_batch(epoch, indices)
        loss, correct = _step(opt, inputs, labels, context.device)
        totals = [totals[0] + loss * len(labels), totals[1] + correct, totals[2] + len(labels)]
        if on_batch is not None:
            on_batch(done, len(batches))
    loss_sum, correct, count = all_sum(totals, context)
    return loss_sum / count, correct / count, int(count)


def _step(
    opt: Optimisation, inputs: torch.Tensor, labels: torch.Tensor, device: torch.device
) -> tuple[float, float]:
    with autocast(device):
        logits = opt.model(inputs)
        loss = F.cross_entropy(logits.float(), labels)
    opt.optimizer.zero_grad(set_to_none=True)
    opt.scaler.scale(loss).backward()
    opt.scaler.step(opt.optimizer)
    opt.scaler.update()
    opt.scheduler.step()
    return float(loss.detach()), float((logits.argmax(1) == labels).sum())


def validate(
    model: nn.Module, data: EpochData, batch_size: int, context: DistContext
) -> tuple[float, float]:
    """(mean loss, accuracy) on the validation images, all ranks together."""
    model.eval()
    totals = [0.0, 0.0, 0.0]
    with torch.inference_mode(), autocast(context.device):
        for inputs, labels in data.val_batches(max(batch_size, 64), context):
            logits = model(inputs).float()
            loss = float(F.cross_entropy(logits, labels, reduction="sum"))
            correct = float((logits.argmax(1) == labels).sum())
            totals = [totals[0] + loss, totals[1] + correct, totals[2] + len(labels)]
    loss_sum, correct, count = all_sum(totals, context)
    return loss_sum / max(count, 1), correct / max(count, 1)


def is_better(record: EpochRecord, best: EpochRecord | None) -> bool:
    """Higher validation accuracy wins; on a tie, a validation loss lower by
    :data:`MIN_LOSS_GAIN` at least (smaller changes are noise, not progress)."""
    if best is None:
        return True
    if record.val_accuracy != best.val_accuracy:
        return record.val_accuracy > best.val_accuracy
    return record.val_loss < best.val_loss - MIN_LOSS_GAIN


def log_epoch(record: EpochRecord, total_epochs: int, seconds_left: float) -> None:
    logger.info(
        "epoch %d/%d (%s): train loss %.4f acc %.1f%% | val loss %.4f acc %.1f%% | "
        "lr %.2g | %.0f img/s | %.1f s, about %.0f s left",
        record.epoch, total_epochs, record.phase, record.train_loss,
        100 * record.train_accuracy, record.val_loss, 100 * record.val_accuracy, record.lr,
        record.images_per_second, record.seconds, seconds_left,
    )  # fmt: skip


def run_epoch(
    opt: Optimisation,
    data: EpochData,
    settings: LoopSettings,
    epoch: int,
    phase: str,
    context: DistContext,
    on_batch: BatchProgress | None = None,
) -> EpochRecord:
    """Train one epoch (0-based ``epoch``) and evaluate; the record numbers epochs from 1."""
    start = time.perf_counter()
    lr = float(opt.optimizer.param_groups[-1]["lr"])
    train_loss, train_acc, count = train_epoch(opt, data, settings, epoch, context, on_batch)
    train_seconds = time.perf_counter() - start
    val_loss, val_acc = validate(opt.model, data, settings.batch_size, context)
    seconds = time.perf_counter() - start
    return EpochRecord(
        epoch=epoch + 1,
        phase=phase,
        train_loss=train_loss,
        train_accuracy=train_acc,
        val_loss=val_loss,
        val_accuracy=val_acc,
        lr=lr,
        seconds=seconds,
        images_per_second=count / max(train_seconds, 1e-9),
    )
