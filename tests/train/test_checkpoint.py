"""Checkpoints: whole or absent, read without pickle, refused for another run."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from synsetlab.errors import ConfigError
from synsetlab.train.checkpoint import check_same_run, load_checkpoint, save_checkpoint


def test_round_trip_keeps_tensors_and_plain_values(tmp_path: Path) -> None:
    path = tmp_path / "run" / "checkpoint.pt"
    state = {"epoch": 3, "history": [{"val_accuracy": 0.5}], "weights": {"w": torch.ones(2, 3)}}
    save_checkpoint(path, state)
    back = load_checkpoint(path)
    assert back["epoch"] == 3 and back["history"] == [{"val_accuracy": 0.5}]
    assert torch.equal(back["weights"]["w"], torch.ones(2, 3))
    assert [p.name for p in path.parent.iterdir()] == ["checkpoint.pt"]  # no temporary left


def test_a_failed_write_leaves_the_previous_checkpoint(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "checkpoint.pt"
    save_checkpoint(path, {"epoch": 1})

    def killed(*args, **kwargs):
        raise KeyboardInterrupt  # the process dies half-way through writing

    monkeypatch.setattr("os.fsync", killed)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(path, {"epoch": 2})
    assert load_checkpoint(path)["epoch"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint.pt"]


def test_missing_or_foreign_files_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"no checkpoint at .*run without --resume"):
        load_checkpoint(tmp_path / "nothing.pt")
    torch.save({"epoch": 1}, tmp_path / "other.pt")
    with pytest.raises(ConfigError, match="not a synsetlab checkpoint"):
        load_checkpoint(tmp_path / "other.pt")
    (tmp_path / "junk.pt").write_bytes(b"garbage")
    with pytest.raises(ConfigError, match="cannot read the checkpoint"):
        load_checkpoint(tmp_path / "junk.pt")


def test_code_in_a_checkpoint_is_not_run(tmp_path: Path) -> None:
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    torch.save({"format": "synsetlab.checkpoint/1", "x": Evil()}, tmp_path / "evil.pt")
    with pytest.raises(ConfigError, match="cannot read"):
        load_checkpoint(tmp_path / "evil.pt")


def test_resuming_with_other_settings_is_refused(tmp_path: Path) -> None:
    saved = {"lr": 0.001, "seed": 0, "epochs": 5, "data": "a"}
    check_same_run(saved, {**saved, "epochs": 9}, tmp_path)  # more epochs: allowed
    with pytest.raises(ConfigError, match=r"lr: 0\.001 -> 0\.01, seed: 0 -> 1"):
        check_same_run(saved, {**saved, "lr": 0.01, "seed": 1}, tmp_path)
