"""Headless Chromium for the browser tests (``tests/test_site.py``, ``tests/test_lab.py``): a test-only helper.

Finds the browser (``COURSE_CHROMIUM``, else a Chromium or Chrome on the ``PATH``), dumps a page's
DOM after its scripts ran, takes a screenshot, and measures a screenshot (how much is drawn, how
many colours), so that a test can tell a rendered page from a blank one.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from course_utils.data.atomic import atomic_path

CHROMIUM_ENV = "COURSE_CHROMIUM"
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def find_chromium() -> str | None:
    """A headless-capable Chromium: ``$COURSE_CHROMIUM``, else the first of
    :data:`CHROMIUM_NAMES` on the ``PATH``; ``None`` when there is none."""
    env = os.environ.get(CHROMIUM_ENV)
    if env:
        return env
    return next((found for name in CHROMIUM_NAMES if (found := shutil.which(name))), None)


def _chromium(url: str, *extra: str, chromium: str | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    program = chromium or find_chromium()
    if program is None:
        raise FileNotFoundError("Chromium is not installed. Fix (Debian/Ubuntu): sudo apt-get install chromium")
    with tempfile.TemporaryDirectory(prefix="course-chromium-") as profile:
        cmd = [
            program, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--hide-scrollbars",
            "--mute-audio", "--no-first-run", "--disable-extensions", "--disable-background-networking",
            f"--user-data-dir={profile}", "--virtual-time-budget=5000", *extra, url,
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"Chromium failed on {url} (exit status {proc.returncode}): {proc.stderr[-1500:]}")
    return proc


def _url(page: str | Path) -> str:
    page = str(page)
    return page if re.match(r"^[a-z]+://", page) else Path(page).resolve().as_uri()


def chromium_dom(page: str | Path, *, chromium: str | None = None) -> str:
    """The page's DOM after its JavaScript ran, as HTML (``chromium --headless --dump-dom``)."""
    return _chromium(_url(page), "--dump-dom", chromium=chromium).stdout


def chromium_screenshot(page: str | Path, png: str | Path, *, size: tuple[int, int] = (1280, 1000),
                        chromium: str | None = None) -> Path:
    """Save a screenshot of ``page`` (a file or a URL) as seen in a ``size`` window, to ``png``
    (written atomically)."""
    png = Path(png)
    png.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="course-shot-") as tmp:
        shot = Path(tmp) / "shot.png"
        _chromium(_url(page), f"--screenshot={shot}", f"--window-size={size[0]},{size[1]}", chromium=chromium)
        if not shot.is_file():
            raise RuntimeError(f"Chromium wrote no screenshot of {page}")
        with atomic_path(png) as out:
            shutil.copyfile(shot, out)
    return png


def image_stats(png: str | Path) -> dict[str, float]:
    """How much a screenshot shows: the fraction of pixels that are not near-white
    (``ink``) and the number of distinct colours (each channel in 16 steps: ``colours``)."""
    import numpy as np
    from PIL import Image

    with Image.open(png) as img:
        rgb = np.asarray(img.convert("RGB"), dtype=np.uint8)
    ink = float((rgb.min(axis=2) < 235).mean())
    coarse = (rgb // 16).reshape(-1, 3).astype(np.int32)
    colours = len(np.unique(coarse[:, 0] * 256 + coarse[:, 1] * 16 + coarse[:, 2]))
    return {"ink": ink, "colours": float(colours), "width": float(rgb.shape[1]), "height": float(rgb.shape[0])}
