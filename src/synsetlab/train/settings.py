"""What a fine-tuning run is asked to do: the freeze policies, the defaults, the settings.

Kept free of PyTorch so that the command line can declare its options (and answer
``--help``) without importing the machinery.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import Enum
from pathlib import Path
from typing import Any

from synsetlab.errors import ConfigError


class FreezePolicy(str, Enum):
    """Which part of the network is frozen (see :mod:`synsetlab.train.freeze`)."""

    ALL_BUT_HEAD = "all-but-head"
    ALL_BUT_LAST_STAGE = "all-but-last-stage"
    NONE = "none"


#: Chosen by measurement on the ants/bees data with efficientnet_lite2 (README, "Adapt"):
#: the head alone reached the same validation accuracy as the last stage plus the head
#: (96.7%) in half the time, because its epochs cost next to nothing on cached features.
#: For classes far from ImageNet's, ``all-but-last-stage`` is the one to try next.
DEFAULT_POLICY = FreezePolicy.ALL_BUT_HEAD

#: Chosen by measurement on the ants/bees data on 2 cores (README, "Adapt"): lite0 stayed
#: at 93.5-94.8% whatever the policy, lite2 reached 96.1-98.0% with the head alone.
DEFAULT_BASE = "efficientnet_lite2"
DEFAULT_EPOCHS = 10
DEFAULT_VIEWS = 2
DEFAULT_LR = 1e-3
DEFAULT_BATCH_SIZE = 32


@dataclass(frozen=True)
class FinetuneConfig:
    """Everything ``synsetlab finetune`` takes; see the CLI help for each option."""

    data: Path
    output: Path
    model: str = DEFAULT_BASE
    epochs: int = DEFAULT_EPOCHS
    freeze: FreezePolicy = DEFAULT_POLICY
    lr: float = DEFAULT_LR
    batch_size: int = DEFAULT_BATCH_SIZE
    val_split: float | None = None
    seed: int = 0
    resume: bool = False
    device: str = "auto"
    views: int = DEFAULT_VIEWS
    patience: int = 0
    unfreeze_epochs: int = 0
    early_lr_factor: float = 0.1
    find_lr: bool = False
    run_dir: Path | None = None
    max_pixels: int | None = None
    allow_download: bool = False
    engine: str = "auto"

    @property
    def run_folder(self) -> Path:
        return self.run_dir or self.output.with_name(f"{self.output.stem}.run")

    def settings(self) -> dict[str, Any]:
        """The settings as plain JSON values (stored in checkpoints and the model file)."""
        values = asdict(self)
        values.pop("run_dir")
        values.update(data=str(self.data), output=str(self.output), freeze=self.freeze.value)
        return values

    def check(self) -> None:
        """Raise :class:`ConfigError` for values that cannot work."""
        problems = [
            (self.epochs < 1, f"--epochs must be at least 1, got {self.epochs}"),
            (self.lr <= 0, f"--lr must be positive, got {self.lr}"),
            (self.batch_size < 2, f"--batch-size must be at least 2 (BatchNorm), got "
             f"{self.batch_size}"),
            (self.views < 1, f"--views must be at least 1, got {self.views}"),
            (self.patience < 0, f"--patience must be 0 (off) or more, got {self.patience}"),
            (self.unfreeze_epochs < 0, "--unfreeze-epochs must be 0 or more"),
            (not 0 < self.early_lr_factor <= 1, "--early-lr-factor must be in (0, 1]"),
            (self.find_lr and self.freeze is FreezePolicy.NONE,
             "--find-lr works on cached features: use a --freeze policy other than none"),
            (self.unfreeze_epochs > 0 and self.freeze is FreezePolicy.NONE,
             "--unfreeze-epochs follows a frozen phase: use a --freeze policy other than none"),
        ]  # fmt: skip
        for bad, message in problems:
            if bad:
                raise ConfigError(message)
