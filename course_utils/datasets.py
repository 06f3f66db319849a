"""Choosing the data a notebook runs on: the real RAVDESS or the course's offline corpus.

Used by the ``parameters`` cell of every notebook (``dataset = "auto"``), by
``python -m course_utils get-data`` and by ``make course``.

========== ==================================================================================
choice     meaning
========== ==================================================================================
ravdess    the real recordings: ``$RAVDESS_DIR``, else ``data/ravdess``, else downloaded from
           Zenodo (when ``download=True``). Never falls back: no RAVDESS, no run.
synthetic  the offline RAVDESS-compatible corpus (espeak-ng voices), generated into
           ``data/synthetic`` on first use (under a minute).
auto       ``ravdess`` when it is present (or, with ``download=True``, can be downloaded),
           otherwise ``synthetic``, with a loud banner that says so.
========== ==================================================================================

In quick mode a notebook works on a few actors only (:func:`quick_subset`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from course_utils import download, metadata, paths, synth

CHOICES = ("auto", "ravdess", "synthetic")
#: Actors of the quick subset: 3 male, 3 female.
QUICK_ACTORS = (1, 2, 3, 4, 5, 6)


@dataclass(frozen=True)
class Dataset:
    """A resolved dataset: its name (``ravdess`` or ``synthetic``) and its folder."""

    name: str
    root: Path

    def metadata(self, *, quick: bool = False) -> pd.DataFrame:
        """The metadata table (see :func:`course_utils.metadata.build_metadata`)."""
        meta = metadata.build_metadata(self.root)
        return quick_subset(meta) if quick else meta

    @property
    def description(self) -> str:
        if self.name == "ravdess":
            return f"the real RAVDESS recordings in {self.root}"
        return f"the offline synthetic corpus (espeak-ng voices, RAVDESS-compatible) in {self.root}"


def banner(text: str) -> None:
    """Print a message that cannot be missed, between two rules."""
    line = "=" * 78
    print(f"\n{line}\n{text}\n{line}\n", flush=True)


def resolve(choice: str = "auto", *, dest: str | Path | None = None, download_ok: bool = False, progress: bool = True) -> Dataset:
    """Turn a choice (``auto`` / ``ravdess`` / ``synthetic``) into a :class:`Dataset`.

    ``dest`` is the data folder (default ``paths.data_dir()``). ``download_ok`` allows a
    download of RAVDESS when no copy is found (``make course`` allows it; notebooks, which
    should not start a 200 MB download by surprise, do not, unless the choice is ``ravdess``).
    """
    if choice not in CHOICES:
        raise ValueError(f"unknown dataset {choice!r}: choose one of {', '.join(CHOICES)}")
    dest = Path(dest) if dest is not None else paths.data_dir()
    if choice == "ravdess":
        return _real(download.get_ravdess(dest, download=True, progressbar=progress, expect_complete=False))
    if choice == "auto":
        found = download.locate_ravdess(dest)
        if found is None and download_ok:
            try:
                found = download.get_ravdess(dest, download=True, progressbar=progress)
            except download.DownloadError as err:
                banner(f"RAVDESS could not be downloaded:\n{err}")
        if found is not None:
            return _real(found)
        banner(
            "DATASET: RAVDESS is not available here, so the course uses its OFFLINE SYNTHETIC\n"
            "corpus (espeak-ng voices in RAVDESS's layout). Results are NOT results on real\n"
            "speech. Get the real data with `make course DATASET=ravdess` or set RAVDESS_DIR."
        )
    root = synth.generate_corpus(dest / "synthetic", progress=progress)
    return Dataset("synthetic", Path(root))


def _real(root: str | Path) -> Dataset:
    """The real RAVDESS in ``root``, announced; a partial copy is used with a loud warning."""
    root = Path(root)
    n = len(metadata.find_wavs(root))
    if n < len(metadata.expected_filenames()):
        banner(
            f"DATASET: a PARTIAL copy of RAVDESS in {root}: {n} of 1440 files. Counts and results\n"
            "will differ from the full set. Fix: download the whole set "
            "(python -m course_utils get-data --dataset ravdess)."
        )
    else:
        banner(f"DATASET: the real RAVDESS recordings in {root}")
    return Dataset("ravdess", root)


def quick_subset(meta: pd.DataFrame, actors: tuple[int, ...] = QUICK_ACTORS) -> pd.DataFrame:
    """The rows of a few actors (3 male, 3 female): the data of a quick run.

    Where the table holds fewer of those actors (a partial copy), its first actors are used.
    """
    chosen = [a for a in actors if a in set(meta["actor"])]
    if len(chosen) < 2:
        chosen = sorted(meta["actor"].unique())[: len(actors)]
    return meta[meta["actor"].isin(chosen)].reset_index(drop=True)
