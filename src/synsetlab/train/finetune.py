"""Fine-tuning a pretrained classifier on a user's photos, from folder to model file.

The run, step by step:

1. Find the images and classes (:mod:`~synsetlab.train.data`), load the base model, put a
   new head with one output per class on it, and cut it by the freeze policy
   (:mod:`~synsetlab.train.freeze`).
2. Compute the frozen trunk's output once per image view (:mod:`~synsetlab.train.features`),
   on every rank's share of the images, and keep it in the run folder.
3. Train the tail on the cached activations (:mod:`~synsetlab.train.loop`), one epoch per
   view in turn; after each epoch evaluate, keep the best epoch, write the checkpoint
   (:mod:`~synsetlab.train.checkpoint`) and the metrics file (:mod:`~synsetlab.train.curves`).
4. Optionally unfreeze everything and go on with discriminative rates on freshly augmented
   pictures.
5. Put the best epoch's weights back and write the model file
   (:mod:`synsetlab.models.modelfile`) and the PNG of the learning curves.

The run folder (``<output stem>.run`` beside the model file unless ``run_dir`` says
otherwise) holds ``checkpoint.pt``, ``features.safetensors``, ``metrics.csv`` and
``curves.png``; ``resume`` continues from its checkpoint.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from synsetlab.engine.classifier import Classifier
from synsetlab.errors import ConfigError, DatasetError, ImageLoadError
from synsetlab.models import create_model
from synsetlab.models.modelfile import save_model_file
from synsetlab.train import checkpoint as ckpt
from synsetlab.train import distributed as dist
from synsetlab.train.augment import Augmentation
from synsetlab.train.checkpoint import PHASE_FROZEN, PHASE_FULL, PHASE_UNFROZEN
from synsetlab.train.curves import plot_curves, write_metrics
from synsetlab.train.data import Sample, load_training_data
from synsetlab.train.features import (
    FeatureCache,
    PlainMaker,
    ViewMaker,
    compute_cache,
    fingerprint,
    load_cache,
    make_runner,
    save_cache,
    trunk_model,
)
from synsetlab.train.freeze import (
    parameter_groups,
    replace_head,
    split,
    trainable_state,
)
from synsetlab.train.loop import (
    CachedData,
    EpochData,
    EpochRecord,
    LoopSettings,
    Optimisation,
    StreamedData,
    is_better,
    log_epoch,
    make_optimisation,
    run_epoch,
    steps_per_epoch,
)
from synsetlab.train.lrfind import find_lr
from synsetlab.train.settings import (
    FinetuneConfig,
)

logger = logging.getLogger(__name__)


@dataclass
class Callbacks:
    """Hooks for a user interface (called on rank 0 only).

    ``on_progress(task, done, total)`` reports images through the trunk (task
    ``"features"``) and batches within an epoch (task ``"epoch N"``); ``on_epoch_end`` gets
    each epoch's record once its checkpoint is safely written.
    """

    on_progress: Callable[[str, int, int], None] | None = None
    on_epoch_end: Callable[[EpochRecord], None] | None = None


@dataclass
class FinetuneResult:
    model_file: Path
    run_dir: Path
    history: list[EpochRecord]
    best: EpochRecord
    classes: list[str]
    failures: list[tuple[str, str]]
    seconds: float
    trunk_engine: str
    num_images: int


def finetune(config: FinetuneConfig, callbacks: Callbacks | None = None) -> FinetuneResult:
    """Run the whole fine-tuning (see the module docstring) and return what it produced."""
    config.check()
    start = time.perf_counter()
    context = dist.setup(config.device)
    try:
        return _Run(config, context, callbacks or Callbacks()).execute(start)
    finally:
        dist.teardown(context)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


class _Run:
    """One fine-tuning run on one rank."""

    def __init__(self, config: FinetuneConfig, context: dist.DistContext, hooks: Callbacks):
        self.config, self.context, self.hooks = config, context, hooks
        self.folder = config.run_folder
        seed_everything(config.seed)
        self.data = load_training_data(config.data, val_split=config.val_split, seed=config.seed)
        self._check_world()
        self.base = create_model(config.model, allow_download=config.allow_download)
        torch.manual_seed(config.seed)
        replace_head(self.base.module, len(self.data.classes))
        self.split = split(self.base.module, config.freeze)
        self.base.module.to(context.device)
        self.state = ckpt.RunState(lr=config.lr)
        self.failures: list[tuple[str, str]] = []
        self.trunk_engine = "none"

    def _check_world(self) -> None:
        needed = 2 * self.context.world_size
        if self.config.batch_size < needed:
            raise ConfigError(
                f"--batch-size {self.config.batch_size} is split over "
                f"{self.context.world_size} processes; BatchNorm needs 2 images on each, so "
                f"use --batch-size {needed} or more"
            )
        if len(self.data.train) < needed:
            raise DatasetError(
                f"{self.config.data}: {len(self.data.train)} training images for "
                f"{self.context.world_size} processes; each needs at least 2 per batch"
            )

    def execute(self, start: float) -> FinetuneResult:
        saved = self._restore() if self.config.resume else None
        data = self._first_phase_data(saved is not None)
        if self.state.phase != PHASE_UNFROZEN and not self.state.phase_done:
            self._first_phase(data, saved)
        if self.config.unfreeze_epochs and self.state.epoch < self._total_epochs():
            resumed = saved if self.state.phase == PHASE_UNFROZEN else None
            self._unfrozen_phase(resumed)
        return self._finish(start)

    def _total_epochs(self) -> int:
        """Epochs of both phases; the first may have ended early."""
        state = self.state
        if state.phase == PHASE_UNFROZEN:
            first = state.phase_start
        else:
            first = state.epoch if state.phase_done else self.config.epochs
        return first + self.config.unfreeze_epochs

    # -- resuming ---------------------------------------------------------------------------

    def _restore(self) -> dict[str, Any]:
        path = self.folder / "checkpoint.pt"
        saved = ckpt.load_checkpoint(path)
        ckpt.check_same_run(saved["settings"], self.config.settings(), path)
        self.state = ckpt.RunState.from_payload(saved)
        self._reopen_phase()
        self.base.module.load_state_dict(saved["weights"], strict=False)
        logger.info("resuming %s after epoch %d (%s phase)", path, self.state.epoch, saved["phase"])
        return saved

    def _reopen_phase(self) -> None:
        # --epochs may grow between a run and its resumption: a phase that ended because it
        # ran out of epochs (not patience) goes on if the new count leaves some.
        state = self.state
        if state.stopped_early:
            return
        if state.phase == PHASE_UNFROZEN:
            end = state.phase_start + self.config.unfreeze_epochs
        else:
            end = self.config.epochs
        if state.phase_done and state.epoch < end:
            logger.info("--epochs grew: going on to epoch %d", end)
        state.phase_done = state.epoch >= end

    def _save(self, opt: Optimisation, weights: dict[str, torch.Tensor]) -> None:
        payload = {
            **self.state.payload(),
            "settings": self.config.settings(),
            "weights": weights,
            "optimizer": opt.optimizer.state_dict(),
            "scheduler": opt.scheduler.state_dict(),
            "scaler": opt.scaler.state_dict(),
        }
        ckpt.save_checkpoint(self.folder / "checkpoint.pt", payload)

    # -- data -------------------------------------------------------------------------------

    def _first_phase_data(self, resuming: bool) -> EpochData:
        if self.split.trunk is None:
            train, val = self._usable_samples()
            self.trunk_engine = "none (whole network trains)"
            return self._streamed(train, val)
        cache = self._cache(resuming)
        self.failures = cache.failures
        return CachedData(cache, self.context.device)

    def _cache(self, resuming: bool) -> FeatureCache:
        path = self.folder / "features.safetensors"
        key = self._cache_key()
        cache = load_cache(path, key) if resuming else None
        # Every rank must take the same branch: computing the cache is a collective step.
        have = dist.all_sum([1.0 if cache is not None else 0.0], self.context)[0]
        if cache is not None and have == self.context.world_size:
            self.trunk_engine = "cached"
            return cache
        cache = self._compute_cache()
        if self.context.is_main:
            save_cache(path, cache, key)
        return cache

    def _cache_key(self) -> str:
        settings = {
            k: v for k, v in self.config.settings().items() if k in ("model", "freeze", "views")
        }
        settings.update(
            seed=self.config.seed,
            augmentation=asdict(Augmentation()),
            num_train=len(self.data.train),
        )
        return fingerprint(settings, [*self.data.train, *self.data.val])

    def _compute_cache(self) -> FeatureCache:
        assert self.split.trunk is not None
        pre = self.base.preprocessing
        started = time.perf_counter()
        trunk = trunk_model(self.base, self.split.trunk, self.config.freeze.value)
        runner = make_runner(trunk, self.context.device, self.config.engine)
        self.trunk_engine = runner.name
        makers = (
            ViewMaker(
                pre, self.config.seed, self.config.views, Augmentation(), self.config.max_pixels
            ),
            PlainMaker(self._eval_loader()),
        )
        total = len(dist.shard(list(self.data.train), self.context)) + len(
            dist.shard(list(self.data.val), self.context)
        )
        done = _Counter(self._progress("features", total), total)
        cache = compute_cache(runner, self.data, makers, self.context, on_image=done)
        images = self.config.views * len(cache.train_labels) + len(cache.val_labels)
        seconds = time.perf_counter() - started
        logger.info(
            "frozen features of %d image views in %.1f s (%.0f views/s, %s)",
            images, seconds, images / max(seconds, 1e-9), runner.name,
        )  # fmt: skip
        return cache

    def _eval_loader(self) -> Callable[[Path], np.ndarray]:
        # The validation pictures are made by the classifier's own loader, so the accuracy
        # measured here is the accuracy `classify`/`evaluate` will see with the model file.
        loader = Classifier(self.base, backend=_DecodeOnly(), max_pixels=self.config.max_pixels)
        return loader.load_array

    def _usable_samples(self) -> tuple[list[Sample], list[Sample]]:
        """Decode every image once and keep those that load (no cache to do it for us)."""
        load = self._eval_loader()

        def ok(sample: Sample) -> Sample | None:
            try:
                load(sample.path)
                return sample
            except ImageLoadError as exc:
                logger.error("skipping %s", exc)
                self.failures.append((str(exc.path), exc.reason))
                return None

        train = [s for s in map(ok, self.data.train) if s is not None]
        val = [s for s in map(ok, self.data.val) if s is not None]
        return train, val

    def _streamed(self, train: list[Sample], val: list[Sample]) -> StreamedData:
        return StreamedData(
            train, val, self.base.preprocessing, self.config.seed, self.context.device,
            self._eval_loader(), self.config.max_pixels,
        )  # fmt: skip

    # -- phases -----------------------------------------------------------------------------

    def _loop_settings(self) -> LoopSettings:
        c = self.config
        return LoopSettings(
            lr=self.state.lr, batch_size=c.batch_size, seed=c.seed, patience=c.patience
        )

    def _first_phase(self, data: EpochData, saved: dict[str, Any] | None) -> None:
        phase = PHASE_FULL if self.split.trunk is None else PHASE_FROZEN
        tail = self.split.tail.to(memory_format=torch.channels_last)
        if self.config.find_lr and saved is None:
            found = find_lr(
                tail, data, self.config.batch_size, self.config.seed, self.context.device
            )
            self.state.lr = dist.all_sum([found if self.context.is_main else 0.0], self.context)[0]
        steps = self.config.epochs * self._steps(data)
        groups = [{"params": list(self.split.trainable_parameters())}]
        opt = self._optimisation(tail, groups, steps, saved)
        self.state.phase = phase
        self._epochs(opt, data, phase, self.config.epochs, self.split.trainable_prefixes)

    def _unfrozen_phase(self, saved: dict[str, Any] | None) -> None:
        if saved is None:
            self._enter_unfrozen()
        groups = parameter_groups(
            self.base.module, self.split, self.state.lr, self.config.early_lr_factor
        )
        train, val = self._kept_samples()
        data = self._streamed(train, val)
        module = self.base.module.to(memory_format=torch.channels_last)
        opt = self._optimisation(
            module, groups, self.config.unfreeze_epochs * self._steps(data), saved
        )
        end = self.state.phase_start + self.config.unfreeze_epochs
        self._epochs(opt, data, PHASE_UNFROZEN, end, ("",))

    def _enter_unfrozen(self) -> None:
        # The best frozen-phase epoch must stay restorable after the early layers move:
        # complete its snapshot with the (still pretrained) frozen layers.
        full = {k: v.detach().clone() for k, v in self.base.module.state_dict().items()}
        full.update(self.state.best_weights)
        self.state.best_weights = full
        self.state.phase, self.state.phase_start = PHASE_UNFROZEN, self.state.epoch
        self.state.phase_done, self.state.stopped_early, self.state.since_best = False, False, 0

    def _kept_samples(self) -> tuple[list[Sample], list[Sample]]:
        failed = {path for path, _ in self.failures}
        train = [s for s in self.data.train if str(s.path) not in failed]
        val = [s for s in self.data.val if str(s.path) not in failed]
        return train, val

    def _steps(self, data: EpochData) -> int:
        return steps_per_epoch(data.num_train, self.config.batch_size, self.context.world_size)

    def _optimisation(
        self,
        model: nn.Module,
        groups: list[dict[str, Any]],
        steps: int,
        saved: dict[str, Any] | None,
    ) -> Optimisation:
        settings = self._loop_settings()
        opt = make_optimisation(
            dist.wrap(model, self.context), groups, settings, steps, self.context.device
        )
        if saved is not None:
            opt.optimizer.load_state_dict(saved["optimizer"])
            opt.scheduler.load_state_dict(saved["scheduler"])
            opt.scaler.load_state_dict(saved["scaler"])
        return opt

    def _epochs(
        self, opt: Optimisation, data: EpochData, phase: str, end: int, prefixes: tuple[str, ...]
    ) -> None:
        settings = self._loop_settings()
        while self.state.epoch < end and not self.state.phase_done:
            epoch = self.state.epoch
            bar = self._progress(f"epoch {epoch + 1}", self._steps(data))
            record = run_epoch(opt, data, settings, epoch, phase, self.context, bar)
            self._record(record, prefixes, end)
            self._checkpoint(opt, prefixes)
            if self.context.is_main and self.hooks.on_epoch_end is not None:
                self.hooks.on_epoch_end(record)

    def _record(self, record: EpochRecord, prefixes: tuple[str, ...], end: int) -> None:
        state = self.state
        state.history.append(record)
        state.epoch += 1
        if is_better(record, state.best):
            state.best, state.since_best = record, 0
            state.best_weights = trainable_state(self.base.module, prefixes)
        else:
            state.since_best += 1
        patience = self.config.patience
        if patience and state.since_best >= patience and state.epoch < end:
            logger.info("early stop: no better validation accuracy for %d epochs", patience)
            state.phase_done = state.stopped_early = True
        if state.epoch >= end:
            state.phase_done = True
        if self.context.is_main:
            seconds = np.mean([r.seconds for r in state.history[-3:]])
            log_epoch(
                record, self._total_epochs(), float(seconds) * (self._total_epochs() - state.epoch)
            )

    def _checkpoint(self, opt: Optimisation, prefixes: tuple[str, ...]) -> None:
        if self.context.is_main:
            self._save(opt, trainable_state(self.base.module, prefixes))
            write_metrics(self.folder / "metrics.csv", self.state.history)
        dist.barrier(self.context)

    # -- the end ----------------------------------------------------------------------------

    def _finish(self, start: float) -> FinetuneResult:
        best = self.state.best
        if best is None:
            raise ConfigError(f"{self.folder}: the checkpoint records no completed epoch")
        self.base.module.load_state_dict(self.state.best_weights, strict=False)
        model = self.base.module.cpu().to(memory_format=torch.contiguous_format).eval()
        seconds = time.perf_counter() - start
        if self.context.is_main:
            self._write_outputs(model, best, seconds)
        dist.barrier(self.context)
        logger.info(
            "best epoch %d: validation accuracy %.1f%%; model in %s (%.1f s)",
            best.epoch, 100 * best.val_accuracy, self.config.output, seconds,
        )  # fmt: skip
        return FinetuneResult(
            model_file=self.config.output,
            run_dir=self.folder,
            history=list(self.state.history),
            best=best,
            classes=list(self.data.classes.labels),
            failures=list(self.failures),
            seconds=seconds,
            trunk_engine=self.trunk_engine,
            num_images=len(self.data.train) + len(self.data.val),
        )

    def _write_outputs(self, model: nn.Module, best: EpochRecord, seconds: float) -> None:
        save_model_file(
            self.config.output,
            model,
            base=self.base,
            classes=self.data.classes,
            training=self._training_record(),
            metrics=self._final_metrics(best, seconds),
        )
        write_metrics(self.folder / "metrics.csv", self.state.history)
        plot_curves(
            self.folder / "curves.png", self.state.history, best.epoch, self.config.output.name
        )

    def _training_record(self) -> dict[str, Any]:
        record = self.config.settings()
        record.update(
            lr=self.state.lr,
            data_layout=self.data.layout,
            trunk_engine=self.trunk_engine,
            world_size=self.context.world_size,
            device=str(self.context.device),
            torch=torch.__version__,
        )
        return record

    def _final_metrics(self, best: EpochRecord, seconds: float) -> dict[str, Any]:
        return {
            "best_epoch": best.epoch,
            "val_accuracy": best.val_accuracy,
            "val_loss": best.val_loss,
            "train_accuracy": best.train_accuracy,
            "train_loss": best.train_loss,
            "epochs_run": len(self.state.history),
            "num_train": len(self.data.train) - self._failed_in(self.data.train),
            "num_val": len(self.data.val) - self._failed_in(self.data.val),
            "num_failed": len(self.failures),
            "seconds": round(seconds, 2),
        }

    def _failed_in(self, samples: tuple[Sample, ...]) -> int:
        failed = {path for path, _ in self.failures}
        return sum(str(s.path) in failed for s in samples)

    def _progress(self, task: str, total: int) -> Callable[[int, int], None] | None:
        report = self.hooks.on_progress
        if report is None or not self.context.is_main:
            return None
        report(task, 0, total)
        return lambda done, count: report(task, done, count)


class _Counter:
    """Turns per-image ticks into (done, total) progress reports."""

    def __init__(self, report: Callable[[int, int], None] | None, total: int) -> None:
        self.report, self.total, self.done = report, total, 0

    def __call__(self, count: int) -> None:
        self.done += count
        if self.report is not None:
            self.report(self.done, self.total)


class _DecodeOnly:
    """A backend that never runs: the classifier is only used for its image loading."""

    name = "decode only"
    lanes = 1

    def run(self, batch: np.ndarray) -> np.ndarray:
        raise RuntimeError("the loading-only classifier cannot run a model")
