"""Getting RAVDESS: download with a checksum, extract atomically, find an existing copy.

Taught in notebook ``00_getting_the_data``. The speech audio of RAVDESS is one zip on Zenodo
(record 1188976, about 208 MB) with folders ``Actor_01`` ... ``Actor_24``, 60 wavs each.

- :func:`get_ravdess`      what the CLI and ``make course DATASET=ravdess`` call: find a copy,
  else download one, then check it.
- :func:`locate_ravdess`   where a usable copy is: ``$RAVDESS_DIR``, else ``<data>/ravdess``.
- :func:`download_ravdess` download the zip with :func:`pooch.retrieve` (checksum checked) into
  ``<data>/downloads/`` and extract it to ``<data>/ravdess/``.
- :func:`check_ravdess`    the metadata table, with an error listing missing files.

Nothing half-written is ever left in the cache: pooch downloads to a temporary file and only
renames it once the checksum matches, and the zip is extracted into a temporary folder that is
renamed to ``ravdess/`` only after every member was written and the file names were checked.
Every failure of the download raises :class:`DownloadError` (a ``RuntimeError``) whose message
names the file or URL and says what to do.

The zip is kept in ``<data>/downloads/`` after extraction (``make clean-data`` removes it), so a
re-extraction never needs the network.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import shutil
import tempfile
import zipfile
import zlib
from pathlib import Path, PureWindowsPath

import pandas as pd
import pooch
import requests

from course_utils import paths
from course_utils.metadata import (
    RavdessNameError,
    build_metadata,
    check_filenames,
    expected_filenames,
    find_wavs,
    is_ravdess_name,
    missing_files,
)

#: Zenodo record of RAVDESS; the speech audio is one zip of it.
RAVDESS_RECORD = "https://zenodo.org/records/1188976"
#: Default download address (the environment variable ``RAVDESS_URL`` overrides it: mirrors, tests).
RAVDESS_URL = "https://zenodo.org/records/1188976/files/Audio_Speech_Actors_01-24.zip?download=1"
#: File name of the zip, in ``<data>/downloads/``.
RAVDESS_ZIP = "Audio_Speech_Actors_01-24.zip"
#: Checksum of the zip, in the ``"alg:hash"`` form of :func:`pooch.retrieve`.
RAVDESS_MD5 = "md5:bc696df654c87fed845eb13823edef8a"
#: DOI of the RAVDESS data set (Zenodo).
RAVDESS_DOI = "10.5281/zenodo.1188976"
#: DOI of the paper that describes it.
RAVDESS_PAPER_DOI = "10.1371/journal.pone.0196391"
#: Licence of RAVDESS: attribution, non-commercial use only, share alike.
LICENCE = "CC BY-NC-SA 4.0 (https://creativecommons.org/licenses/by-nc-sa/4.0/)"
#: How to cite RAVDESS in anything made with it.
CITATION = (
    "Livingstone SR, Russo FA (2018). The Ryerson Audio-Visual Database of Emotional Speech and "
    "Song (RAVDESS): A dynamic, multimodal set of facial and vocal expressions in North American "
    "English. PLoS ONE 13(5): e0196391. https://doi.org/10.1371/journal.pone.0196391"
)
#: Seconds without an answer from the server before a download fails.
DEFAULT_TIMEOUT = 60.0

#: Written into the extracted folder: the names it was extracted with (see ``_is_complete``).
_MARKER = ".ravdess-extracted.json"
_FOLDER = "ravdess"
_CHUNK = 1 << 16  # bytes per read while downloading (pooch's default of 1 KiB is slow)
_DOWNLOADS = "downloads"

_MANUAL_FIX = (
    "Fix: check your connection (and RAVDESS_URL if you set it) and run again, or download "
    f"{RAVDESS_ZIP} by hand from {RAVDESS_RECORD}, unzip it, and set RAVDESS_DIR to the folder "
    "that holds Actor_01 ... Actor_24."
)

log = logging.getLogger(__name__)


class DownloadError(RuntimeError):
    """Getting the RAVDESS zip failed: network error, wrong checksum, damaged or unsafe zip.

    A ``RuntimeError``. The message names the URL or file and says how to fix it; nothing
    half-written is left in the cache when it is raised.
    """


class MissingFilesError(FileNotFoundError):
    """A RAVDESS folder lacks some of the 1440 speech files. ``missing`` lists their names."""

    def __init__(self, message: str, missing: list[str]):
        super().__init__(message)
        self.missing = missing


def _say(message: str, verbose: bool) -> None:
    log.info(message)
    if verbose:
        print(message, flush=True)


def _data_root(dest: str | Path | None) -> Path:
    return Path(dest).expanduser() if dest is not None else paths.data_dir()


def _has_ravdess_wavs(folder: Path) -> bool:
    """True when ``folder`` holds at least one wav with a RAVDESS name."""
    return any(is_ravdess_name(path) for path in find_wavs(folder))


def _is_complete(folder: Path) -> bool:
    """A folder this module extracted, with every file still there, or a full copy of the set.

    A zip may hold a part of RAVDESS (a mirror with a few actors): the marker written at
    extraction says which names it had.
    """
    if not folder.is_dir():
        return False
    have = {p.name for p in find_wavs(folder)}
    marker = folder / _MARKER
    try:
        wanted = set(json.loads(marker.read_text())["files"])
    except (OSError, ValueError, KeyError, TypeError):
        wanted = set(expected_filenames())
    return bool(wanted) and wanted <= have


@contextlib.contextmanager
def _quiet_pooch():
    """Pooch logs its own "Downloading data from ..." line: we print ours instead."""
    logger = pooch.get_logger()
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)


def _fetch_zip(url: str, known_hash: str, downloads: Path, progressbar: bool, timeout: float) -> Path:
    """``pooch.retrieve`` with its errors turned into :class:`DownloadError`."""
    downloader = pooch.HTTPDownloader(progressbar=progressbar, chunk_size=_CHUNK, timeout=timeout)
    try:
        with _quiet_pooch():
            fetched = pooch.retrieve(
                url,
                known_hash=known_hash,
                fname=RAVDESS_ZIP,
                path=downloads,
                downloader=downloader,
            )
    except ValueError as err:  # pooch: the checksum does not match
        (downloads / RAVDESS_ZIP).unlink(missing_ok=True)  # an old copy with a wrong checksum
        m = re.search(r"expected (\S+) but got (\w+)", str(err))
        expected = m.group(1) if m else known_hash
        actual = m.group(2) if m else f"nothing ({err})"
        raise DownloadError(
            f"Checksum mismatch for {RAVDESS_ZIP} downloaded from {url}: expected {expected}, "
            f"got {actual}. The download was deleted, nothing was kept. Fix: run again (the "
            "download may have been damaged); if it fails again, the server or mirror serves "
            f"another file: check RAVDESS_URL, or download it by hand from {RAVDESS_RECORD} "
            "and set RAVDESS_DIR to the unzipped folder."
        ) from err
    except requests.exceptions.RequestException as err:
        (downloads / RAVDESS_ZIP).unlink(missing_ok=True)  # an old copy with a wrong checksum
        raise DownloadError(f"Could not download {RAVDESS_ZIP} from {url}: {err}. {_MANUAL_FIX}") from err
    return Path(fetched)


def _check_member(name: str, zip_path: Path) -> None:
    """Refuse a member that would be written outside the target folder (zip-slip)."""
    parts = re.split(r"[\\/]", name)
    if (
        name.startswith(("/", "\\"))
        or PureWindowsPath(name).drive
        or ".." in parts
    ):
        raise DownloadError(
            f"{zip_path} holds a member that would be written outside the data folder: "
            f"{name!r} (a 'zip-slip' path). Nothing was extracted and the zip was deleted. "
            "Fix: this is not the RAVDESS zip from Zenodo; check RAVDESS_URL (or your mirror) "
            "and download again."
        )


def _extract(zip_path: Path, target: Path, url: str) -> int:
    """Extract ``zip_path`` to ``target`` atomically (an existing ``target`` is replaced).

    Everything goes into a temporary folder next to ``target`` that is renamed only after the
    extraction and the check of the file names succeeded. Returns the number of wavs.
    """
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".partial", dir=target.parent))
    try:
        try:
            with zipfile.ZipFile(zip_path) as zf:
                members = zf.infolist()
                for info in members:
                    _check_member(info.filename, zip_path)
                zf.extractall(tmp, members)  # CRCs are checked while reading
        except (zipfile.BadZipFile, zlib.error, EOFError) as err:
            raise DownloadError(
                f"{zip_path} is not a valid zip file ({err}): the download is damaged. It was "
                f"deleted. Fix: run again to download it again; if that fails too, download "
                f"{RAVDESS_ZIP} by hand from {RAVDESS_RECORD} and set RAVDESS_DIR to the "
                "unzipped folder."
            ) from err
        wavs = find_wavs(tmp)
        if not wavs:
            raise DownloadError(
                f"{zip_path} (from {url}) holds no .wav files: it is not the RAVDESS speech zip. "
                "It was deleted. Fix: check RAVDESS_URL (or your mirror) and download again."
            )
        try:
            check_filenames(p.relative_to(tmp) for p in wavs)
        except RavdessNameError as err:
            raise DownloadError(
                f"{zip_path} (from {url}) is not the RAVDESS speech zip: "
                f"{str(err).split(chr(10) + 'Fix:')[0]}\nIt was deleted. "
                "Fix: check RAVDESS_URL (or your mirror) and download again."
            ) from err
        marker = {"zip": zip_path.name, "url": url, "files": sorted(p.name for p in wavs)}
        (tmp / _MARKER).write_text(json.dumps(marker, indent=1))
        _replace_dir(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return len(wavs)


def _replace_dir(new: Path, target: Path) -> None:
    """Rename ``new`` to ``target``; an existing ``target`` is swapped out, then deleted."""
    if not target.exists():
        os.replace(new, target)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".old", dir=target.parent))
    os.replace(target, old / target.name)
    try:
        os.replace(new, target)
    except BaseException:  # pragma: no cover - put the old copy back
        os.replace(old / target.name, target)
        raise
    finally:
        shutil.rmtree(old, ignore_errors=True)


def download_ravdess(
    dest: str | Path | None = None,
    *,
    url: str | None = None,
    known_hash: str | None = None,
    progressbar: bool = True,
    timeout: float = DEFAULT_TIMEOUT,
    force: bool = False,
    verbose: bool = True,
) -> Path:
    """Download the RAVDESS speech zip and extract it; return the folder ``<dest>/ravdess``.

    - ``dest``: the data folder, by default :func:`course_utils.paths.data_dir`. The zip goes
      to ``<dest>/downloads/``, the wavs to ``<dest>/ravdess/Actor_01 ...``.
    - ``url``: where to download from: by default ``$RAVDESS_URL``, else :data:`RAVDESS_URL`.
    - ``known_hash``: the zip's checksum (``"md5:..."``), by default :data:`RAVDESS_MD5`.
    - ``progressbar``: show a tqdm progress bar while downloading.
    - ``force``: extract again even when ``<dest>/ravdess`` is there (it is replaced).

    When ``<dest>/ravdess`` is already complete, it is returned without downloading. A zip in
    ``downloads/`` whose checksum matches is not downloaded again.

    Raises :class:`DownloadError` (network error, checksum mismatch, damaged zip, a member that
    would be written outside the folder, a zip that is not RAVDESS). Nothing half-written is
    left behind: neither a partial zip nor a half-extracted folder.
    """
    root = _data_root(dest)
    target = root / _FOLDER
    url = url or os.environ.get("RAVDESS_URL") or RAVDESS_URL
    known_hash = known_hash or RAVDESS_MD5
    if _is_complete(target) and not force:
        _say(f"RAVDESS is already in {target}: nothing to download.", verbose)
        return target
    if target.exists() and any(target.iterdir()) and not force:
        raise DownloadError(
            f"{target} exists but is not a complete copy of RAVDESS (files are missing or it was "
            "not extracted from the zip). Fix: delete that folder and run again, or call "
            "download_ravdess(force=True) to replace it."
        )
    downloads = root / _DOWNLOADS
    if (downloads / RAVDESS_ZIP).exists():
        _say(f"Checking {downloads / RAVDESS_ZIP} (downloaded again if its checksum is wrong)", verbose)
    else:
        size = " (about 208 MB)" if url == RAVDESS_URL else ""
        _say(f"Downloading {RAVDESS_ZIP}{size} from {url} to {downloads}", verbose)
    zip_path = _fetch_zip(url, known_hash, downloads, progressbar, timeout)
    try:
        n = _extract(zip_path, target, url)
    except DownloadError:
        zip_path.unlink(missing_ok=True)  # damaged or unsafe: a retry must download it again
        raise
    _say(f"Extracted {n} files to {target}", verbose)
    _say(f"RAVDESS licence: {LICENCE}. Please cite: {CITATION}", verbose)
    return target


def locate_ravdess(dest: str | Path | None = None) -> Path | None:
    """Where a usable copy of RAVDESS is, or ``None`` when there is none yet.

    1. ``$RAVDESS_DIR`` when it is set: that folder must exist and hold RAVDESS wavs, otherwise
       a ``FileNotFoundError`` names the variable and the path (it never silently falls back).
    2. ``<dest>/ravdess`` (``dest`` defaults to the data folder) when it holds RAVDESS wavs.

    Both published layouts work: Zenodo's (``Actor_01/...``) and Kaggle's (the actor folders
    twice, at the top and inside ``audio_speech_actors_01-24/``; see
    :func:`course_utils.metadata.find_wavs`).
    """
    env = os.environ.get("RAVDESS_DIR")
    if env:
        folder = Path(env).expanduser()
        if not folder.is_dir():
            raise FileNotFoundError(
                f"RAVDESS_DIR is set to {folder}, but that folder does not exist. Fix: set "
                "RAVDESS_DIR to the folder that holds Actor_01 ... Actor_24, or unset it to "
                "download RAVDESS into the data folder."
            )
        if not _has_ravdess_wavs(folder):
            raise FileNotFoundError(
                f"RAVDESS_DIR is set to {folder}, but no RAVDESS .wav file (named like "
                "03-01-06-01-02-01-12.wav) is below it. Fix: set RAVDESS_DIR to the folder that "
                "holds Actor_01 ... Actor_24, or unset it to download RAVDESS into the data folder."
            )
        return folder
    folder = _data_root(dest) / _FOLDER
    if folder.is_dir() and _has_ravdess_wavs(folder):
        return folder
    return None


def check_ravdess(folder: str | Path, *, expect_complete: bool = True) -> pd.DataFrame:
    """The metadata table of a RAVDESS folder (:func:`course_utils.metadata.build_metadata`).

    Raises an error listing every file that is not a RAVDESS clip, or naming a damaged one.
    With ``expect_complete`` (the default), a :class:`MissingFilesError` lists the missing
    files of the 1440; pass ``expect_complete=False`` for a partial copy (a few actors).
    """
    df = build_metadata(folder)
    if expect_complete:
        missing = missing_files(df)
        if missing:
            shown = "\n".join(f"  {name}" for name in missing[:10])
            more = f"\n  ... and {len(missing) - 10} more" if len(missing) > 10 else ""
            raise MissingFilesError(
                f"{folder} is missing {len(missing)} of the {len(expected_filenames())} "
                f"RAVDESS speech files:\n{shown}{more}\nFix: download a complete copy (delete "
                f"{folder} and run `python -m course_utils get-data --dataset ravdess`), or set "
                "RAVDESS_DIR to a complete copy. To work with a part of RAVDESS on purpose, "
                "pass expect_complete=False.",
                missing,
            )
    return df


def get_ravdess(
    dest: str | Path | None = None,
    *,
    download: bool = True,
    url: str | None = None,
    known_hash: str | None = None,
    progressbar: bool = True,
    timeout: float = DEFAULT_TIMEOUT,
    expect_complete: bool = True,
    verbose: bool = True,
) -> Path:
    """Find RAVDESS (:func:`locate_ravdess`), else download it (when ``download``), then check it.

    Returns the folder. The other arguments go to :func:`download_ravdess` and
    :func:`check_ravdess`. Raises ``FileNotFoundError`` when there is no copy and
    ``download=False``, :class:`DownloadError` when the download fails, and the errors of
    :func:`check_ravdess` when the copy is incomplete or holds files that are not RAVDESS.
    """
    folder = locate_ravdess(dest)
    if folder is None:
        if not download:
            raise FileNotFoundError(
                f"RAVDESS is not in {_data_root(dest) / _FOLDER} and RAVDESS_DIR is not set. Fix: "
                "download it (`python -m course_utils get-data --dataset ravdess`), or set "
                "RAVDESS_DIR to the folder that holds Actor_01 ... Actor_24."
            )
        folder = download_ravdess(
            dest, url=url, known_hash=known_hash, progressbar=progressbar, timeout=timeout, verbose=verbose
        )
    df = check_ravdess(folder, expect_complete=expect_complete)
    _say(f"RAVDESS: {len(df)} files, {df['actor'].nunique()} actors in {folder}", verbose)
    return folder
