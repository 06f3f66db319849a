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

from course_utils.base import paths
from course_utils.data import download, metadata, synth

CHOICES = ("auto", "ravdess", "synthetic")
#: Actors of the quick subset: 3 male, 3 female.
QUICK_ACTORS = (1, 2, 3, 4, 5, 6)


@dataclass(frozen=True)
class Dataset:
    """A resolved dataset: its name (``ravdess`` or ``synthetic``) and its folder.

    What :func:`resolve` returns in every chapter's data cell (``00_getting_the_data`` on); its
    :meth:`metadata` is the table each chapter starts from."""

    name: str
    root: Path

    def metadata(self, *, quick: bool = False) -> pd.DataFrame:
        """The metadata table (see :func:`course_utils.data.metadata.build_metadata`)."""
        meta = metadata.build_metadata(self.root)
        return quick_subset(meta) if quick else meta

    @property
    def description(self) -> str:
        if self.name == "ravdess":
            return f"the real RAVDESS recordings in {self.root}"
        return f"the offline synthetic corpus (espeak-ng voices, RAVDESS-compatible) in {self.root}"


def banner(text: str) -> None:
    """Print a message that cannot be missed, between two rules. Used by :func:`resolve` (which data
    every chapter runs on) and by ``11_transfer_vgg16`` (whether the VGG16 weights loaded)."""
    line = "=" * 78
    print(f"\n{line}\n{text}\n{line}\n", flush=True)


def resolve(
    choice: str = "auto",
    *,
    dest: str | Path | None = None,
    download_ok: bool = False,
    progress: bool = True,
    force: bool = False,
) -> Dataset:
    """Turn a choice (``auto`` / ``ravdess`` / ``synthetic``) into a :class:`Dataset`.

    ``dest`` is the data folder (default ``paths.data_dir()``). ``download_ok`` allows a
    download of RAVDESS when no copy is found (``make course`` allows it; notebooks, which
    should not start a 200 MB download by surprise, do not, unless the choice is ``ravdess``).
    A copy the course extracted that lost files is extracted again from the zip kept in
    ``<dest>/downloads`` (no network needed), or downloaded again where a download is allowed
    (:func:`course_utils.data.download.get_ravdess`). ``force`` (``get-data --force``) extracts
    RAVDESS again from scratch, or, for ``synthetic``, generates the corpus again.

    First removes what killed runs left in the data folder
    (:func:`course_utils.data.download.clean_leftovers`). A read-only data folder or a full disk
    raises :class:`course_utils.data.download.DataFolderError`: one line naming the folder and the
    fix, shown without a traceback in a notebook. Used by every chapter's data cell
    (``00_getting_the_data`` on) and by ``get-data``.
    """
    if choice not in CHOICES:
        raise ValueError(f"unknown dataset {choice!r}: choose one of {', '.join(CHOICES)}")
    dest = Path(dest) if dest is not None else paths.data_dir()
    with download.data_folder_errors(dest):
        download.clean_leftovers(dest, verbose=progress)
        if choice == "ravdess":
            folder = download.get_ravdess(dest, download=True, progressbar=progress, expect_complete=False, force=force)
            return _real(folder, dest)
        if choice == "auto":
            found = download.locate_ravdess(dest)  # a wrong RAVDESS_DIR stops here, never falls back
            try:
                found = download.get_ravdess(dest, download=download_ok, progressbar=progress, force=force,
                                             check=False, verbose=progress)
            except download.NoRavdessError:
                found = None
            except download.DownloadError as err:
                banner(f"RAVDESS could not be downloaded:\n{err}")
                found = download.locate_ravdess(dest)  # a partial copy is still better than none
            if found is not None:
                return _real(found, dest)
            banner(
                "DATASET: RAVDESS is not available here, so the course uses its OFFLINE SYNTHETIC\n"
                "corpus (espeak-ng voices in RAVDESS's layout). Results are NOT results on real\n"
                "speech. Get the real data with `make course DATASET=ravdess` or set RAVDESS_DIR."
            )
        elif force:
            (dest / "synthetic" / synth.MANIFEST_NAME).unlink(missing_ok=True)  # nothing is trusted: all made again
        root = synth.generate_corpus(dest / "synthetic", progress=progress)
    return Dataset("synthetic", Path(root))


def _real(root: str | Path, dest: Path | None = None) -> Dataset:
    """The real RAVDESS in ``root``, announced; a partial copy is used with a loud warning that
    says how to complete it (:func:`course_utils.data.download.partial_copy_fix`)."""
    root = Path(root)
    n = len(metadata.find_wavs(root))
    if n < len(metadata.expected_filenames()):
        banner(
            f"DATASET: a PARTIAL copy of RAVDESS in {root}: {n} of 1440 files. Counts and results\n"
            f"will differ from the full set. {download.partial_copy_fix(root, dest)}"
        )
    else:
        banner(f"DATASET: the real RAVDESS recordings in {root}")
    return Dataset("ravdess", root)


def quick_subset(meta: pd.DataFrame, actors: tuple[int, ...] = QUICK_ACTORS) -> pd.DataFrame:
    """The rows of a few actors (3 male, 3 female): the data of a quick run.

    Where the table holds fewer of those actors (a partial copy), its first actors are used.
    Used by :meth:`Dataset.metadata` when a chapter runs with ``quick = True`` (explained in the
    Parameters section of ``00_getting_the_data``).
    """
    chosen = [a for a in actors if a in set(meta["actor"])]
    if len(chosen) < 2:
        chosen = sorted(meta["actor"].unique())[: len(actors)]
    return meta[meta["actor"].isin(chosen)].reset_index(drop=True)
