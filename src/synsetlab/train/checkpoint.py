"""Checkpoints: the state after each completed epoch, written atomically.

A checkpoint holds what the next epoch needs and nothing a rebuild gives back: the weights of
the layers being trained (the frozen ones come again from the base model), the optimiser,
the schedule, the metrics so far and the best epoch's weights. It is written to a temporary
file and renamed, so a run killed at any moment leaves the previous checkpoint whole.
It is read with ``torch.load(weights_only=True)``: tensors and plain values only, no code.
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from synsetlab.errors import ConfigError
from synsetlab.fileio import atomic_write_bytes
from synsetlab.train.loop import EpochRecord

logger = logging.getLogger(__name__)

FORMAT = "synsetlab.checkpoint/1"

PHASE_FROZEN = "frozen"
PHASE_FULL = "full"
PHASE_UNFROZEN = "unfrozen"

#: Settings that may change between a run and its resumption.
RESUMABLE_CHANGES = frozenset({"epochs", "patience", "resume", "device", "engine"})


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    buffer = io.BytesIO()
    torch.save({"format": FORMAT, **state}, buffer)
    atomic_write_bytes(path, buffer.getvalue())
    logger.debug("checkpoint written to %s", path)


def load_checkpoint(path: Path) -> dict[str, Any]:
    """The saved state; raises :class:`ConfigError` if it is missing or not a checkpoint."""
    if not path.is_file():
        raise ConfigError(
            f"--resume: no checkpoint at {path}; run without --resume to start afresh"
        )
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many kinds for a damaged or foreign file
        raise ConfigError(f"{path}: cannot read the checkpoint ({exc})") from exc
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise ConfigError(f"{path}: not a synsetlab checkpoint (expected format {FORMAT})")
    return state


def check_same_run(saved: dict[str, Any], current: dict[str, Any], path: Path) -> None:
    """Refuse to resume a run under different data or settings (the metrics would mix)."""
    keys = (set(saved) | set(current)) - RESUMABLE_CHANGES
    changed = sorted(k for k in keys if saved.get(k) != current.get(k))
    if changed:
        detail = ", ".join(f"{k}: {saved.get(k)!r} -> {current.get(k)!r}" for k in changed)
        raise ConfigError(
            f"{path} was written by a run with other settings ({detail}); resume with the "
            "same settings, or start afresh without --resume"
        )


@dataclass
class RunState:
    """A run's progress as a checkpoint keeps it: epochs done, phase, metrics, best epoch.

    ``phase`` is the phase of the last completed epoch (``frozen``: on cached features;
    ``full``: the whole network from the start; ``unfrozen``: after a frozen phase), which
    began at epoch ``phase_start``; ``phase_done`` once it ran out of epochs or patience
    (``stopped_early``: patience).
    """

    epoch: int = 0
    phase: str = PHASE_FROZEN
    phase_start: int = 0
    phase_done: bool = False
    stopped_early: bool = False
    history: list[EpochRecord] = field(default_factory=list)
    best: EpochRecord | None = None
    best_weights: dict[str, torch.Tensor] = field(default_factory=dict)
    since_best: int = 0
    lr: float = 1e-3

    def payload(self) -> dict[str, Any]:
        """Plain values and tensors only, as ``weights_only`` loading accepts."""
        return {
            "epoch": self.epoch,
            "phase": self.phase,
            "phase_start": self.phase_start,
            "phase_done": self.phase_done,
            "stopped_early": self.stopped_early,
            "history": [r.to_dict() for r in self.history],
            "best": self.best.to_dict() if self.best else None,
            "best_weights": self.best_weights,
            "since_best": self.since_best,
            "lr": self.lr,
        }

    @classmethod
    def from_payload(cls, saved: dict[str, Any]) -> RunState:
        """The state in a loaded checkpoint; :class:`ConfigError` if it lacks a part."""
        try:
            return cls._from_payload(saved)
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(
                f"the checkpoint is incomplete or from another synsetlab ({exc!r} missing or "
                "malformed); start afresh without --resume"
            ) from exc

    @classmethod
    def _from_payload(cls, saved: dict[str, Any]) -> RunState:
        return cls(
            epoch=int(saved["epoch"]),
            phase=str(saved["phase"]),
            phase_start=int(saved["phase_start"]),
            phase_done=bool(saved["phase_done"]),
            stopped_early=bool(saved["stopped_early"]),
            history=[EpochRecord.from_dict(r) for r in saved["history"]],
            best=EpochRecord.from_dict(saved["best"]) if saved["best"] else None,
            best_weights=dict(saved["best_weights"]),
            since_best=int(saved["since_best"]),
            lr=float(saved["lr"]),
        )
