"""``synsetlab finetune``: adapt a pretrained model to the classes of a folder of photos."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TimeRemainingColumn

from synsetlab.cli import logs
from synsetlab.cli.app import (
    DeviceOpt,
    DownloadOpt,
    Engine,
    EngineOpt,
    PixelsOpt,
    app,
    emit,
    finish,
)
from synsetlab.train.settings import (
    DEFAULT_BASE,
    DEFAULT_BATCH_SIZE,
    DEFAULT_EPOCHS,
    DEFAULT_LR,
    DEFAULT_POLICY,
    DEFAULT_VIEWS,
    FinetuneConfig,
    FreezePolicy,
)

if TYPE_CHECKING:
    from synsetlab.train.finetune import FinetuneResult

logger = logging.getLogger(__name__)

FREEZE_HELP = (
    "What stays frozen: all-but-head (only the new head trains), all-but-last-stage (the last "
    "stage and the head train), none (the whole network trains; nothing can be cached)."
)


@app.command()
def finetune(
    data: Annotated[
        Path,
        typer.Argument(
            help="A folder with train/ and val/ class folders, a folder of class folders "
            "(see --val-split), or a CSV manifest path,label[,split]."
        ),
    ],
    output: Annotated[
        Path, typer.Option("--output", "-o", help="The model file to write (.synsetlab).")
    ],
    model: Annotated[
        str, typer.Option("--model", "-m", help="The pretrained base model.")
    ] = DEFAULT_BASE,
    epochs: Annotated[int, typer.Option(min=1, help="Epochs of training.")] = DEFAULT_EPOCHS,
    freeze: Annotated[FreezePolicy, typer.Option(help=FREEZE_HELP)] = DEFAULT_POLICY,
    lr: Annotated[float, typer.Option(help="Adam learning rate (cosine decay).")] = DEFAULT_LR,
    batch_size: Annotated[
        int, typer.Option("--batch-size", min=2, help="Images per training step (all ranks).")
    ] = DEFAULT_BATCH_SIZE,
    val_split: Annotated[
        float | None,
        typer.Option(help="Fraction of each class kept for validation when DATA has no val/."),
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the split, augmentation and order.")] = 0,
    resume: Annotated[
        bool, typer.Option("--resume", help="Continue from the run folder's checkpoint.")
    ] = False,
    device: DeviceOpt = "auto",
    views: Annotated[
        int, typer.Option(min=1, help="Cached views per training image (1 plain + augmented).")
    ] = DEFAULT_VIEWS,
    patience: Annotated[
        int, typer.Option(min=0, help="Stop after this many epochs without improvement (0: off).")
    ] = 0,
    unfreeze_epochs: Annotated[
        int, typer.Option(min=0, help="Then train everything for this many epochs.")
    ] = 0,
    early_lr_factor: Annotated[
        float, typer.Option(help="Rate of the unfrozen early layers, as a fraction of --lr.")
    ] = 0.1,
    find_lr: Annotated[
        bool, typer.Option("--find-lr", help="Choose --lr with a short sweep first.")
    ] = False,
    run_dir: Annotated[
        Path | None, typer.Option(help="Checkpoint, cache, metrics and curves [OUTPUT.run].")
    ] = None,
    engine: EngineOpt = Engine.auto,
    max_pixels: PixelsOpt = None,
    allow_download: DownloadOpt = False,
) -> None:
    """Fine-tune a pretrained model on your own classes and write a model file."""
    # Imported here: the machinery (torch, timm) is not needed for --help or other commands.
    from synsetlab.train.finetune import Callbacks
    from synsetlab.train.finetune import finetune as run_finetune

    main_rank = os.environ.get("RANK", "0") == "0"
    if not main_rank:
        logging.getLogger("synsetlab").setLevel(logging.WARNING)
    config = FinetuneConfig(
        data=data, output=output, model=model, epochs=epochs, freeze=freeze, lr=lr,
        batch_size=batch_size, val_split=val_split, seed=seed, resume=resume, device=device,
        views=views, patience=patience, unfreeze_epochs=unfreeze_epochs,
        early_lr_factor=early_lr_factor, find_lr=find_lr, run_dir=run_dir,
        max_pixels=max_pixels, allow_download=allow_download, engine=engine.value,
    )  # fmt: skip
    bars = _Bars(enabled=main_rank and logs.stderr.is_terminal)
    try:
        result = run_finetune(config, Callbacks(on_progress=bars))
    finally:
        bars.close()
    if main_rank:
        emit(_summary(result), None)
        finish(len(result.failures), result.num_images)


def _summary(result: FinetuneResult) -> str:
    best = result.best
    return (
        f"model file   {result.model_file}\n"
        f"classes      {', '.join(result.classes)}\n"
        f"best epoch   {best.epoch} of {len(result.history)}: validation accuracy "
        f"{100 * best.val_accuracy:.1f}%, loss {best.val_loss:.4f}\n"
        f"metrics      {result.run_dir / 'metrics.csv'}\n"
        f"curves       {result.run_dir / 'curves.png'}\n"
        f"time         {result.seconds:.1f} s (frozen trunk: {result.trunk_engine})\n"
    )


class _Bars:
    """One transient progress bar at a time on a terminal: the features, then each epoch.

    A bar is closed as soon as its task completes, so the per-epoch log line that follows
    is printed below it rather than into it.
    """

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.progress: Progress | None = None
        self.task: TaskID | None = None
        self.name = ""

    def __call__(self, name: str, done: int, total: int) -> None:
        if not self.enabled:
            return
        if name != self.name or self.progress is None:
            self.close()
            self._open(name)
        assert self.progress is not None and self.task is not None
        self.progress.update(self.task, completed=done, total=total or None)
        if total and done >= total:
            self.close()

    def _open(self, name: str) -> None:
        columns = (*Progress.get_default_columns()[:1], BarColumn(), MofNCompleteColumn())
        self.progress = Progress(
            *columns, TimeRemainingColumn(), console=logs.stderr, transient=True
        )
        self.progress.start()
        self.task = self.progress.add_task(name, total=None)
        self.name = name

    def close(self) -> None:
        if self.progress is not None:
            self.progress.stop()
        self.progress, self.task, self.name = None, None, ""
