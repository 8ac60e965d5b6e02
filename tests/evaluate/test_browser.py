"""The report page in a real browser (headless Chromium): numbers shown, every image decoded.

The screenshot is kept as ``test-artifacts/report-page.png`` (git-ignored). Without a browser
the test is skipped, except under CI (``CI=true``), where it fails: CI installs Debian's
``chromium`` package (see ``.ci/run``). ``SYNSETLAB_CHROMIUM`` may name another executable.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from diagnostics_cases import REPO, from_probs, write_jpeg
from PIL import Image

from synsetlab.evaluate.diagnostics import Diagnostics, diagnose
from synsetlab.evaluate.report import write_report
from synsetlab.models.classes import ClassList

ARTIFACTS = REPO / "test-artifacts"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--mute-audio",
]
# After the page has loaded, the probe copy lists every image with its decoded size.
PROBE = """<script>
window.addEventListener("load", () => {
  const out = document.createElement("pre");
  out.id = "probe";
  out.textContent = JSON.stringify([...document.images].map(
    (img) => [img.getAttribute("src"), img.complete, img.naturalWidth, img.naturalHeight]));
  document.body.appendChild(out);
});
</script>
"""
MAGENTA, CYAN = (255, 0, 255), (0, 255, 255)


def unavailable(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason}: under CI the browser test must run")
    pytest.skip(reason)


def chromium() -> str:
    names = (os.environ.get("SYNSETLAB_CHROMIUM"), "chromium", "chromium-browser")
    for name in names:
        found = shutil.which(name) if name else None
        if found:
            return found
    unavailable("no Chromium found (Debian: apt-get install chromium)")
    raise AssertionError("unreachable")


def run_chromium(profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [chromium(), *FLAGS, f"--user-data-dir={profile}", *args]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        unavailable(f"Chromium did not run: {exc}")
        raise
    if done.returncode != 0:
        unavailable(f"Chromium exited with {done.returncode}: {done.stderr[-2000:]}")
    return done


@pytest.fixture
def report(tmp_path: Path) -> Diagnostics:
    classes = ClassList.from_names(["apple", "banana", "cherry"])
    probs = [[0.7, 0.2, 0.1], [0.5, 0.3, 0.2], [0.3, 0.6, 0.1], [0.1, 0.8, 0.1], [0.1, 0.3, 0.6]]
    colours = [(90, 90, 90), (120, 120, 120), MAGENTA, (60, 60, 60), CYAN]
    paths = [write_jpeg(tmp_path / "data" / f"p{i}.jpg", c) for i, c in enumerate(colours)]
    diagnostics = diagnose(from_probs(probs, [0, 0, 0, 1, 1], classes, paths=paths))
    write_report(diagnostics, tmp_path / "report")
    return diagnostics


def test_page_shows_the_numbers_and_decodes_every_image(
    report: Diagnostics, tmp_path: Path
) -> None:
    page = tmp_path / "report" / "index.html"
    probe = page.with_name("probe.html")
    probe.write_text(page.read_text().replace("</body>", PROBE + "</body>"), encoding="utf-8")
    dom = run_chromium(
        tmp_path / "profile", "--virtual-time-budget=10000", "--dump-dom", probe.as_uri()
    ).stdout
    found = re.search(r'<pre id="probe">(.*?)</pre>', dom, re.S)
    assert found, dom[-2000:]
    images = {src: rest for src, *rest in json.loads(html.unescape(found.group(1)))}
    assert images["confusion_matrix.png"] == [True, 620, 500]
    assert images["reliability.png"] == [True, 600, 640]
    assert images["thumbs/worst-001.jpg"] == [True, 160, 120]
    assert images["thumbs/worst-002.jpg"] == [True, 160, 120]
    words = html.unescape(re.sub(r"<[^>]+>", "", dom))
    ece = f"{report.calibration.ece:.4f}"
    for shown in ("60.0%", "100.0%", ece, "Not applicable", "guess: cherry (60.0%)"):
        assert shown in words


def _share_of(pixels: np.ndarray, colour: tuple[int, int, int]) -> int:
    return int((np.abs(pixels - np.array(colour)).max(axis=2) < 40).sum())


def test_screenshot_shows_plots_and_thumbnails(report: Diagnostics, tmp_path: Path) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "report-page.png"
    shot.unlink(missing_ok=True)
    page = (tmp_path / "report" / "index.html").as_uri()
    run_chromium(tmp_path / "profile", "--window-size=1280,3200", f"--screenshot={shot}", page)
    with Image.open(shot) as image:
        assert image.size == (1280, 3200)
        pixels = np.asarray(image.convert("RGB")).astype(np.int16)
    # Each thumbnail is 160 x 120 pixels of one colour found nowhere else on the page.
    assert _share_of(pixels, MAGENTA) > 0.8 * 160 * 120
    assert _share_of(pixels, CYAN) > 0.8 * 160 * 120
    # The plots' blues (matplotlib's "Blues" map and the bar colour) are drawn too.
    assert _share_of(pixels, (76, 114, 176)) > 5_000
