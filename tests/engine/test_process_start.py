"""A bundled model served from a warm ONNX cache never imports torch, timm or torchvision
(#4: importing them costs 3-4 s of process start, more than classifying 300 photos)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from synsetlab.engine.onnx_cache import graph_key, load_or_export
from synsetlab.models import create_model

HEAVY = ("torch", "timm", "torchvision", "matplotlib")

# The console script's entry point (every command registered), run in a fresh interpreter
# that then reports which heavy packages got imported.
SCRIPT = """
import json, sys
from synsetlab.cli.main import main
report = sys.argv[1]
sys.argv = ["synsetlab", *sys.argv[2:]]
try:
    main()
except SystemExit as exit:
    assert exit.code == 0, exit.code
finally:
    heavy = [m for m in {heavy!r} if m in sys.modules]
    with open(report, "w") as f:
        json.dump(heavy, f)
"""


def _photos(folder: Path) -> list[Path]:
    rng = np.random.default_rng(0)
    paths = []
    for name in ("n01440764", "n01443537"):
        (folder / name).mkdir(parents=True)
        path = folder / name / "photo.jpg"
        Image.fromarray(rng.integers(0, 255, (300, 260, 3), dtype=np.uint8)).save(path)
        paths.append(path)
    return paths


def _heavy_imports(tmp_path: Path, *args: str) -> list[str]:
    report = tmp_path / "heavy.json"
    code = SCRIPT.format(heavy=HEAVY)
    run = subprocess.run(
        [sys.executable, "-c", code, str(report), "-q", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    return list(json.loads(report.read_text()))


def test_warm_cache_classify_and_evaluate_never_import_torch(tmp_path: Path) -> None:
    # Warm the cache (the session's private one, which the subprocess inherits) the way a
    # first run would: keyed by the weights file, before the network is built.
    model = create_model("efficientnet_lite0")
    key = graph_key(model)
    assert not model.module_built
    cached = load_or_export(model)
    assert cached.path.stem == key
    photos = _photos(tmp_path / "photos")

    assert _heavy_imports(tmp_path, "classify", *map(str, photos), "-f", "csv") == []
    assert _heavy_imports(tmp_path, "evaluate", str(tmp_path / "photos"), "-f", "json") == []


def test_weights_file_key_does_not_build_and_built_models_hash_their_tensors() -> None:
    model = create_model("efficientnet_lite0")
    file_key = graph_key(model)
    assert not model.module_built
    assert graph_key(create_model("efficientnet_lite0")) == file_key
    # Once built, the network may have been changed in place: its tensors decide the key.
    model.module  # noqa: B018
    assert graph_key(model) != file_key
    assert graph_key(create_model("efficientnet_lite1")) != file_key
