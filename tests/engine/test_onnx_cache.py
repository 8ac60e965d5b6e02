"""The ONNX cache: where it lives, what its key depends on, and how it survives damage."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
import torch
from engine_cases import tiny_model

from synsetlab.engine import onnx_cache
from synsetlab.engine.onnx_cache import (
    cache_dir,
    cache_root,
    graph_key,
    load_or_export,
    read_verified,
    record_path,
)


def test_cache_root_prefers_the_override_then_xdg_then_home(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("SYNSETLAB_CACHE_DIR", str(tmp_path / "mine"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_root() == tmp_path / "mine"
    assert cache_dir() == tmp_path / "mine" / "onnx"
    monkeypatch.delenv("SYNSETLAB_CACHE_DIR")
    assert cache_root() == tmp_path / "xdg" / "synsetlab"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_root() == tmp_path / "home" / ".cache" / "synsetlab"


def test_key_depends_on_the_weights_not_on_the_object() -> None:
    first, twin = tiny_model(seed=0), tiny_model(seed=0)
    assert graph_key(first) == graph_key(twin)
    assert graph_key(first) != graph_key(tiny_model(seed=1))
    with torch.no_grad():
        twin.module.head.bias[3] += 1e-6  # the smallest change still makes a new graph
    assert graph_key(first) != graph_key(twin)


def test_key_depends_on_buffers_crop_and_architecture() -> None:
    base, changed = tiny_model(), tiny_model()
    with torch.no_grad():
        changed.module.features[1].running_var[0] += 0.25
    assert graph_key(base) != graph_key(changed)
    assert graph_key(base) != graph_key(tiny_model(crop=40))
    assert graph_key(base) != graph_key(tiny_model(architecture="other"))


def test_first_use_exports_then_the_cache_is_reused(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    model = tiny_model()
    first = load_or_export(model, tmp_path)
    assert first.built and first.path == tmp_path / f"{graph_key(model)}.onnx"
    record = json.loads(record_path(first.path).read_text())
    assert record["size"] == len(first.data) == first.path.stat().st_size
    assert record["model"] == "tiny" and record["crop_size"] == 32
    assert not list(tmp_path.glob(".*")), "no temporary files are left behind"

    def no_export(*args: object) -> None:
        raise AssertionError("the cached graph should have been used")

    monkeypatch.setattr(onnx_cache, "export_onnx", no_export)
    again = load_or_export(model, tmp_path)
    assert not again.built and again.data == first.data


def test_changed_weights_get_their_own_graph(tmp_path: Path) -> None:
    model = tiny_model()
    old = load_or_export(model, tmp_path)
    with torch.no_grad():
        model.module.head.weight.mul_(2.0)
    new = load_or_export(model, tmp_path)
    assert new.built and new.path != old.path
    assert sorted(tmp_path.glob("*.onnx")) == sorted([old.path, new.path])


@pytest.mark.parametrize("damage", ["flip a byte", "truncate", "drop the record", "bad record"])
def test_a_damaged_entry_is_rebuilt_with_a_warning(
    damage: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    model = tiny_model()
    good = load_or_export(model, tmp_path)
    if damage == "flip a byte":
        data = bytearray(good.data)
        data[len(data) // 2] ^= 0xFF
        good.path.write_bytes(bytes(data))
    elif damage == "truncate":
        good.path.write_bytes(good.data[:100])
    elif damage == "drop the record":
        record_path(good.path).unlink()
    else:
        record_path(good.path).write_text("{not json")
    with caplog.at_level(logging.WARNING, logger="synsetlab.engine.onnx_cache"):
        rebuilt = load_or_export(model, tmp_path)
    assert rebuilt.built
    assert any(str(good.path) in r.getMessage() for r in caplog.records)
    assert read_verified(good.path) == rebuilt.data  # the entry is whole again


def test_a_missing_graph_is_simply_built(tmp_path: Path, caplog: pytest.LogCaptureFixture):
    with caplog.at_level(logging.WARNING):
        assert read_verified(tmp_path / "absent.onnx") is None
    assert not caplog.records
