"""Getting RAVDESS: download with a checksum, extract atomically, find an existing copy.

Taught in notebook ``00_getting_the_data``. The speech audio of RAVDESS is one zip on Zenodo
(record 1188976, about 208 MB) with folders ``Actor_01`` ... ``Actor_24``, 60 wavs each.

- :func:`get_ravdess`      what the CLI and ``make course DATASET=ravdess`` call: find a copy,
  else download one, then check it.
- :func:`locate_ravdess`   where a usable copy is: ``$RAVDESS_DIR``, else ``<data>/ravdess``.
- :func:`download_ravdess` download the zip with :func:`pooch.retrieve` (checksum checked) into
  ``<data>/downloads/`` and extract it to ``<data>/ravdess/``.
- :func:`check_ravdess`    the metadata table, with an error listing missing files;
  :func:`partial_copy_fix` says how to complete a copy that lacks some.

Nothing half-written is ever left in the cache: pooch downloads to a temporary file and only
renames it once the checksum matches, and the zip is extracted into a temporary folder that is
renamed to ``ravdess/`` only after every member was written and the file names were checked.
Every failure of the download raises :class:`DownloadError` (a ``RuntimeError``) whose message
names the file or URL and says what to do.

The zip is kept in ``<data>/downloads/`` after extraction (``make clean-data`` removes it), so a
re-extraction never needs the network: a copy the course extracted that lost files is extracted
again from it (:func:`get_ravdess`; ``get-data --force`` does it on request).

On a shared machine (a classroom):

- the zip and the extracted folder get the permissions of the user's umask, as any file the
  user creates (a temporary file or folder is private until it is renamed);
- a data folder that is read-only or whose disk is full raises :class:`DataFolderError`, one
  line naming the folder and the fix (:func:`data_folder_errors`);
- the leftovers of a killed run (temporary folders of an extraction, pooch's temporary
  download) are removed by the next run, never while a running process still uses them
  (:func:`clean_leftovers`).

The errors of this module are :class:`course_utils.base.errors.CourseError`: a notebook shows their
message alone, without a traceback.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import re
import shutil
import tempfile
import time
import zipfile
import zlib
from pathlib import Path, PureWindowsPath

import pandas as pd
import pooch
import requests

from course_utils.base import paths
from course_utils.base.errors import CourseError
from course_utils.data import atomic
from course_utils.data.atomic import current_umask
from course_utils.data.metadata import (
    RavdessNameError,
    build_metadata,
    check_filenames,
    expected_filenames,
    find_wavs,
    is_ravdess_name,
    missing_files,
    name_problem,
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
#: Seconds a leftover without a process id of this machine (pooch's temporary download, or a
#: temporary folder of another machine sharing the data folder) must have been left untouched
#: before :func:`clean_leftovers` removes it. A running download writes to its file at least every
#: ``timeout`` seconds (:data:`DEFAULT_TIMEOUT`: requests gives up after that long without data,
#: and pooch then deletes its file itself); an extraction writes a file every few milliseconds.
#: Fifteen minutes without a write is far beyond both, so nothing a running process still
#: uses is removed (a download with ``timeout`` above this is the one case to avoid).
STALE_AFTER_S = 15 * 60

_MANUAL_FIX = (
    "Fix: check your connection (and RAVDESS_URL if you set it) and run again, or download "
    f"{RAVDESS_ZIP} by hand from {RAVDESS_RECORD}, unzip it, and set RAVDESS_DIR to the folder "
    "that holds Actor_01 ... Actor_24."
)

log = logging.getLogger(__name__)


# --------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------
class DownloadError(CourseError, RuntimeError):
    """Getting the RAVDESS zip failed: network error, wrong checksum, damaged or unsafe zip.

    A ``RuntimeError``. The message names the URL or file and says how to fix it; nothing
    half-written is left in the cache when it is raised. Shown without a traceback in a notebook
    (``00_getting_the_data``).
    """


class MissingFilesError(CourseError, FileNotFoundError):
    """A RAVDESS folder lacks some of the 1440 speech files. ``missing`` lists their names.
    Raised by :func:`check_ravdess` (``00_getting_the_data``)."""

    def __init__(self, message: str, missing: list[str]):
        super().__init__(message)
        self.missing = missing


class RavdessDirError(CourseError, FileNotFoundError):
    """``RAVDESS_DIR`` points at something the course cannot use (a missing folder, a folder
    without RAVDESS clips, a file that is not a zip), or there is no copy and no download was
    allowed. A ``FileNotFoundError`` whose message says what to set. Used in ``00_getting_the_data``."""


class NoRavdessError(RavdessDirError):
    """There is no copy of RAVDESS (no ``RAVDESS_DIR``, nothing in the data folder, no kept zip)
    and no download was allowed (:func:`get_ravdess` with ``download=False``). With
    ``dataset = "auto"`` every chapter's data cell (:func:`course_utils.data.datasets.resolve`,
    ``00_getting_the_data`` on) catches it and uses the offline corpus instead."""


class DataFolderError(CourseError, OSError):
    """The data folder cannot be written: read-only (permissions, a read-only file system) or its
    disk is full. One line naming the folder and the fix (:func:`data_folder_errors`). Raised
    wherever a notebook or ``get-data`` writes data (``00_getting_the_data`` on)."""


# --------------------------------------------------------------------------------------
# The data folder and the copy the course extracted
# --------------------------------------------------------------------------------------
def _say(message: str, verbose: bool) -> None:
    log.info(message)
    if verbose:
        print(message, flush=True)


def _data_root(dest: str | Path | None) -> Path:
    return Path(dest).expanduser() if dest is not None else paths.data_dir()


def _has_ravdess_wavs(folder: Path) -> bool:
    """True when ``folder`` holds at least one wav with a RAVDESS name."""
    return any(is_ravdess_name(path) for path in find_wavs(folder))


def _read_marker(folder: Path) -> dict | None:
    """The marker this module writes into a folder it extracted, or ``None`` (hand-made copy)."""
    try:
        marker = json.loads((folder / _MARKER).read_text())
    except (OSError, ValueError):
        return None
    return marker if isinstance(marker, dict) and isinstance(marker.get("files"), list) else None


def _is_complete(folder: Path) -> bool:
    """A folder this module extracted, with every file still there, or a full copy of the set.

    A zip may hold a part of RAVDESS (a mirror with a few actors): the marker written at
    extraction says which names it had.
    """
    if not folder.is_dir():
        return False
    have = {p.name for p in find_wavs(folder)}
    marker = _read_marker(folder)
    wanted = set(marker["files"]) if marker else set(expected_filenames())
    return bool(wanted) and wanted <= have


def _lost_files(folder: Path) -> list[str]:
    """Files the marker of ``folder`` lists that are not there any more (none without a marker)."""
    marker = _read_marker(folder)
    if not marker or not folder.is_dir():
        return []
    have = {p.name for p in find_wavs(folder)}
    return sorted(set(marker["files"]) - have)


# --------------------------------------------------------------------------------------
# Shared machines: permissions, leftovers of killed runs, read-only or full folders
# --------------------------------------------------------------------------------------
def _share(path: Path, private: int, usual: int) -> None:
    """Give ``path`` the permissions the umask allows (``usual & ~umask``) when it has the
    private mode of a temporary file or folder (``private``: 0600, 0700). Another user's file
    (we may not change it) and a mode someone chose on purpose are left alone."""
    try:
        if path.stat().st_mode & 0o777 == private:
            path.chmod(usual & ~current_umask())
    except OSError:
        pass


#: pooch's temporary download (``tempfile.NamedTemporaryFile(dir=downloads)``: ``tmp`` + 8 characters).
_POOCH_TMP_RE = re.compile(r"^tmp[a-z0-9_]{8}$")


def _last_write(path: Path) -> float:
    """The newest modification time of ``path`` or anything below it."""
    newest = path.lstat().st_mtime
    if path.is_dir() and not path.is_symlink():
        for folder, dirs, files in os.walk(path):
            for name in dirs + files:
                with contextlib.suppress(OSError):
                    newest = max(newest, os.lstat(os.path.join(folder, name)).st_mtime)
    return newest


def _size(path: Path) -> int:
    if not path.is_dir() or path.is_symlink():
        return path.lstat().st_size
    total = 0
    for folder, _dirs, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(folder, name)).st_size
    return total


def clean_leftovers(dest: str | Path | None = None, *, verbose: bool = True, now: float | None = None) -> list[Path]:
    """Remove what killed runs (``kill -9``, the out-of-memory killer, a closed laptop) left in
    the data folder; return the removed paths.

    - ``.ravdess.<pid>@<host>.*.partial`` / ``.old``: a half-extracted copy, or the old copy of a
      swap (put back first when the run was killed between the two renames and ``ravdess/`` is
      gone). Removed when the process ``<pid>`` no longer runs on this machine; one of another
      machine (a data folder shared over the network), or of an older version without a process
      id, only once it was left untouched for :data:`STALE_AFTER_S`.
    - ``downloads/tmpXXXXXXXX``: pooch's temporary download, whose name we do not choose: removed
      once untouched for :data:`STALE_AFTER_S` (a running download writes to it all the time).

    Never raises: a folder it cannot change (read-only) is left as it is. Runs at the start of
    :func:`get_ravdess`, :func:`download_ravdess` and :func:`course_utils.data.datasets.resolve`, so
    every notebook (``00_getting_the_data`` on) and ``get-data`` clean up after a killed run.
    """
    root = _data_root(dest)
    now = time.time() if now is None else now
    candidates: list[Path] = []
    with contextlib.suppress(OSError):
        for path in root.iterdir():
            # a temporary folder of _extract or atomic.replace_dir: .ravdess.<pid>@<host>.<random>.partial / .old
            m = atomic.LEFTOVER_PATTERN.match(path.name)
            if not m or m.group("name") != _FOLDER or m.group("suffix") not in (".partial", ".old"):
                continue
            pid, their_host = m.group("pid"), m.group("host")
            try:
                if atomic.abandoned(pid, their_host, now - _last_write(path), STALE_AFTER_S):
                    candidates.append(path)
            except OSError:
                continue
    with contextlib.suppress(OSError):
        for path in (root / _DOWNLOADS).iterdir():
            try:
                if _POOCH_TMP_RE.match(path.name) and path.is_file() and now - path.stat().st_mtime > STALE_AFTER_S:
                    candidates.append(path)
            except OSError:
                continue
    removed = []
    for path in candidates:
        try:
            kept = path / _FOLDER
            if path.name.endswith(".old") and kept.is_dir() and not (root / _FOLDER).exists():
                os.replace(kept, root / _FOLDER)  # killed between the two renames of a swap: put it back
                _say(f"Put back {root / _FOLDER} from {path}, left by an interrupted run.", verbose)
            size = _size(path)
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()
        except OSError:
            continue
        removed.append(path)
        _say(f"Removed {path} ({size / 1e6:.1f} MB), left by an interrupted run.", verbose)
    return removed


def _folder_error(err: OSError, root: Path, fix: str = "") -> DataFolderError | None:
    """``err`` as a :class:`DataFolderError` when it says the folder is read-only or full."""
    full = err.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC))
    read_only = isinstance(err, PermissionError) or err.errno in (errno.EACCES, errno.EPERM, errno.EROFS)
    if not (full or read_only):
        return None
    path = Path(err.filename) if err.filename else None
    if path is None or root in (path, *path.parents):
        folder, what, elsewhere = root, "the data folder", "set COURSE_DATA_DIR (or get-data's --dest) to"
    else:  # a file outside the data folder: an --output or --record path
        folder, what, elsewhere = path.parent, "the folder", "choose"
    where = f" ({path})" if path is not None else ""
    extra = f", {fix}" if fix else ""
    if full:
        reason = err.strerror or "No space left on device"
        return DataFolderError(
            f"The disk of {what} {folder} is full: {reason}{where}. Fix: free space on that disk "
            "(`make clean-data` deletes the synthetic corpus, the downloads and the feature cache), or "
            f"{elsewhere} a folder on a disk with room{extra}."
        )
    reason = err.strerror or str(err).split(" | ")[0] or "Permission denied"
    teacher = (" (a teacher can prepare the data once for everyone with `python -m course_utils get-data` "
               "in a folder the students can read)") if folder == root else ""
    return DataFolderError(
        f"Cannot write to {what} {folder}: {reason}{where}. Fix: {elsewhere} a folder you can write to, "
        f"or ask the owner of {folder} for write access{teacher}{extra}."
    )


def as_data_folder_error(err: OSError, dest: str | Path | None = None) -> DataFolderError | None:
    """``err`` as a one-line :class:`DataFolderError` when it means "read-only" or "disk full",
    naming ``dest`` (the data folder, default :func:`course_utils.base.paths.data_dir`) or the folder
    of the file that failed; ``None`` for any other error. Used by ``python -m course_utils``
    (``get-data``, taught in ``00_getting_the_data``)."""
    return _folder_error(err, _data_root(dest))


@contextlib.contextmanager
def data_folder_errors(dest: str | Path | None = None, fix: str = ""):
    """Inside this block, an ``OSError`` that means the data folder ``dest`` is read-only or its
    disk is full becomes a :class:`DataFolderError`: one line naming the folder and the fix
    (``fix`` adds one more way out). Other errors pass unchanged. Used around every write of
    :func:`get_ravdess`, :func:`download_ravdess` and :func:`course_utils.data.datasets.resolve`
    (``00_getting_the_data``)."""
    root = _data_root(dest)
    try:
        yield
    except CourseError:
        raise
    except OSError as err:
        converted = _folder_error(err, root, fix)
        if converted is None:
            raise
        raise converted from err


# --------------------------------------------------------------------------------------
# Download and extract
# --------------------------------------------------------------------------------------
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
    fetched = Path(fetched)
    _share(fetched, 0o600, 0o666)  # pooch's temporary file was private (0600)
    return fetched


def _verified_zip(root: Path, known_hash: str) -> Path | None:
    """The zip kept in ``<root>/downloads`` when its checksum matches ``known_hash``, else ``None``."""
    zip_path = root / _DOWNLOADS / RAVDESS_ZIP
    if not zip_path.is_file():
        return None
    alg, _, expected = known_hash.partition(":")
    try:
        return zip_path if pooch.file_hash(str(zip_path), alg=alg or "sha256") == expected.lower() else None
    except OSError:
        return None


class _ZipSource:
    """Where a zip comes from, for the messages of :func:`_extract`: a download (``ours``: it is
    deleted when bad) or the user's own zip in ``RAVDESS_DIR`` (never changed)."""

    def __init__(self, zip_path: Path, url: str | None):
        self.zip_path, self.url = zip_path, url

    @property
    def ours(self) -> bool:
        return self.url is not None

    def error(self, problem: str, fix: str = "") -> DownloadError:
        if self.ours:
            fix = fix or "Fix: check RAVDESS_URL (or your mirror) and download again."
            return DownloadError(f"{self.zip_path} (from {self.url}) {problem} It was deleted. {fix}")
        return DownloadError(
            f"RAVDESS_DIR is set to {self.zip_path}, which {problem} Nothing was extracted and the zip was left "
            f"as it is. Fix: set RAVDESS_DIR to the RAVDESS speech zip ({RAVDESS_ZIP} from {RAVDESS_RECORD}) "
            "or to the folder that holds Actor_01 ... Actor_24."
        )


def _check_member(name: str, source: _ZipSource) -> None:
    """Refuse a member that would be written outside the target folder (zip-slip)."""
    parts = re.split(r"[\\/]", name)
    if (
        name.startswith(("/", "\\"))
        or PureWindowsPath(name).drive
        or ".." in parts
    ):
        if source.ours:
            raise DownloadError(
                f"{source.zip_path} holds a member that would be written outside the data folder: "
                f"{name!r} (a 'zip-slip' path). Nothing was extracted and the zip was deleted. "
                "Fix: this is not the RAVDESS zip from Zenodo; check RAVDESS_URL (or your mirror) "
                "and download again."
            )
        raise source.error(f"holds a member that would be written outside the data folder: {name!r} (a 'zip-slip' path).")


def _extract(zip_path: Path, target: Path, url: str | None, *, extra: dict | None = None) -> int:
    """Extract ``zip_path`` to ``target`` atomically (an existing ``target`` is replaced).

    Everything goes into a temporary folder next to ``target`` that is renamed only after the
    extraction and the check of the file names succeeded. ``url``: where the zip was downloaded
    from, ``None`` for the user's own zip (``RAVDESS_DIR``). Returns the number of wavs.
    """
    source = _ZipSource(zip_path, url)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=atomic.temp_prefix(target), suffix=".partial", dir=target.parent))
    try:
        tmp.chmod(0o777 & ~current_umask())  # mkdtemp makes it private (0700); ravdess/ is for everyone
        try:
            with zipfile.ZipFile(zip_path) as zf:
                members = zf.infolist()
                for info in members:
                    _check_member(info.filename, source)
                zf.extractall(tmp, members)  # CRCs are checked while reading
        except (zipfile.BadZipFile, zlib.error, EOFError) as err:
            if source.ours:
                raise DownloadError(
                    f"{zip_path} is not a valid zip file ({err}): the download is damaged. It was "
                    f"deleted. Fix: run again to download it again; if that fails too, download "
                    f"{RAVDESS_ZIP} by hand from {RAVDESS_RECORD} and set RAVDESS_DIR to the "
                    "unzipped folder."
                ) from err
            raise source.error(f"is not a valid zip file ({err}): it is damaged.") from err
        wavs = find_wavs(tmp)
        if not wavs:
            raise source.error("holds no .wav files: it is not the RAVDESS speech zip.")
        try:
            check_filenames(p.relative_to(tmp) for p in wavs)
        except RavdessNameError as err:
            raise source.error(f"is not the RAVDESS speech zip: {str(err).split(chr(10) + 'Fix:')[0]}\n") from err
        marker = {"zip": zip_path.name, "url": url, "files": sorted(p.name for p in wavs), **(extra or {})}
        (tmp / _MARKER).write_text(json.dumps(marker, indent=1))
        atomic.replace_dir(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return len(wavs)


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

    - ``dest``: the data folder, by default :func:`course_utils.base.paths.data_dir`. The zip goes
      to ``<dest>/downloads/``, the wavs to ``<dest>/ravdess/Actor_01 ...``.
    - ``url``: where to download from: by default ``$RAVDESS_URL``, else :data:`RAVDESS_URL`.
    - ``known_hash``: the zip's checksum (``"md5:..."``), by default :data:`RAVDESS_MD5`.
    - ``progressbar``: show a tqdm progress bar while downloading.
    - ``force``: extract again even when ``<dest>/ravdess`` is complete, and replace a folder
      the course did not extract.

    When ``<dest>/ravdess`` is already complete, it is returned without downloading. A copy
    this function extracted that lost files is extracted again. A zip in ``downloads/`` whose
    checksum matches is not downloaded again (its bytes are those of the server: a new download
    could not differ), so a re-extraction needs no network. Taught in ``00_getting_the_data``.

    Raises :class:`DownloadError` (network error, checksum mismatch, damaged zip, a member that
    would be written outside the folder, a zip that is not RAVDESS, a hand-made incomplete
    folder in the way) and :class:`DataFolderError` (read-only data folder, full disk). Nothing
    half-written is left behind: neither a partial zip nor a half-extracted folder.
    """
    root = _data_root(dest)
    target = root / _FOLDER
    url = url or os.environ.get("RAVDESS_URL") or RAVDESS_URL
    known_hash = known_hash or RAVDESS_MD5
    downloads = root / _DOWNLOADS
    with data_folder_errors(root):
        clean_leftovers(root, verbose=verbose)
        if _is_complete(target) and not force:
            _share(target, 0o700, 0o777)  # a copy extracted before the umask was followed
            _share(downloads / RAVDESS_ZIP, 0o600, 0o666)
            _say(f"RAVDESS is already in {target}: nothing to download.", verbose)
            return target
        marker = _read_marker(target)
        if target.is_dir() and any(target.iterdir()) and not force and marker is None:
            raise DownloadError(
                f"{target} exists but is not a complete copy of RAVDESS (files are missing or it was "
                "not extracted from the zip, so it is not replaced without asking). Fix: delete that "
                "folder and run again, or replace it: `python -m course_utils get-data --dataset "
                "ravdess --force` (download_ravdess(force=True))."
            )
        lost = _lost_files(target)
        if lost and not force:
            _say(f"{target} lacks {len(lost)} of the {len(marker['files'])} files extracted from "
                 f"{marker.get('zip') or RAVDESS_ZIP} (first: {lost[0]}): extracting them again.", verbose)
        downloads.mkdir(parents=True, exist_ok=True)
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


def _extract_kept(root: Path, zip_path: Path, known_hash: str, verbose: bool) -> Path:
    """Extract the zip kept in ``downloads/`` (checksum already checked) again, without network."""
    target = root / _FOLDER
    _say(f"Extracting {zip_path} again (its checksum matches {known_hash}; no download needed)", verbose)
    marker = _read_marker(target) or {}
    n = _extract(zip_path, target, marker.get("url") or os.environ.get("RAVDESS_URL") or RAVDESS_URL)
    _say(f"Extracted {n} files to {target}", verbose)
    return target


# --------------------------------------------------------------------------------------
# Find a copy, check it, repair it
# --------------------------------------------------------------------------------------
def _env_path() -> Path | None:
    env = os.environ.get("RAVDESS_DIR")
    return Path(env).expanduser() if env else None


def _from_env_zip(zip_path: Path, root: Path, force: bool, verbose: bool) -> Path:
    """``RAVDESS_DIR`` is a zip: extract it into ``<root>/ravdess`` (once) and return that folder."""
    target = root / _FOLDER
    st = zip_path.stat()
    ident = {"source": str(zip_path.resolve()), "size": st.st_size, "mtime_ns": st.st_mtime_ns}
    marker = _read_marker(target)
    if not force and marker and all(marker.get(k) == v for k, v in ident.items()) and _is_complete(target):
        return target
    if target.is_dir() and any(target.iterdir()) and marker is None:
        raise RavdessDirError(
            f"RAVDESS_DIR is set to the zip {zip_path}; the course extracts it into {target}, but that folder "
            f"holds files the course did not extract. Fix: move {target} away, or unzip {zip_path} yourself "
            "and set RAVDESS_DIR to the unzipped folder (the one that holds Actor_01 ... Actor_24)."
        )
    _say(f"RAVDESS_DIR is the zip {zip_path}: extracting it into {target} (once: later runs use that folder)", verbose)
    with data_folder_errors(root, fix=f"or unzip {zip_path} yourself where you can write and set RAVDESS_DIR "
                                      "to the unzipped folder"):
        n = _extract(zip_path, target, None, extra=ident)
    _say(f"Extracted {n} files to {target}", verbose)
    return target


def _locate(root: Path, *, force: bool = False, verbose: bool = True) -> Path | None:
    env = _env_path()
    if env is not None:
        if env.is_file():
            if zipfile.is_zipfile(env):
                return _from_env_zip(env, root, force, verbose)
            raise RavdessDirError(
                f"RAVDESS_DIR is set to {env}, which is a file, not a folder or a zip. Fix: unpack it and set "
                "RAVDESS_DIR to the folder that holds Actor_01 ... Actor_24, or unset it to download RAVDESS "
                "into the data folder."
            )
        if not env.is_dir():
            raise RavdessDirError(
                f"RAVDESS_DIR is set to {env}, but that folder does not exist. Fix: set "
                "RAVDESS_DIR to the folder that holds Actor_01 ... Actor_24, or unset it to "
                "download RAVDESS into the data folder."
            )
        wavs = find_wavs(env)
        if not any(is_ravdess_name(p) for p in wavs):
            seen = f" (the first .wav below it, {wavs[0].name}, is not one: {name_problem(wavs[0])})" if wavs else ""
            raise RavdessDirError(
                f"RAVDESS_DIR is set to {env}, but no RAVDESS .wav file (named like "
                f"03-01-06-01-02-01-12.wav) is below it{seen}. Fix: set RAVDESS_DIR to the folder that "
                "holds Actor_01 ... Actor_24, or unset it to download RAVDESS into the data folder."
            )
        return env
    folder = root / _FOLDER
    if folder.is_dir() and _has_ravdess_wavs(folder):
        return folder
    return None


def locate_ravdess(dest: str | Path | None = None) -> Path | None:
    """Where a usable copy of RAVDESS is, or ``None`` when there is none yet.

    1. ``$RAVDESS_DIR`` when it is set: that folder must exist and hold RAVDESS wavs, otherwise
       a :class:`RavdessDirError` (a ``FileNotFoundError``) names the variable and the path (it
       never silently falls back). ``RAVDESS_DIR`` may also be the zip itself (Zenodo's
       ``Audio_Speech_Actors_01-24.zip`` or Kaggle's archive): it is extracted once into
       ``<dest>/ravdess``, which is returned (later calls find it there).
    2. ``<dest>/ravdess`` (``dest`` defaults to the data folder) when it holds RAVDESS wavs.

    Both published layouts work: Zenodo's (``Actor_01/...``) and Kaggle's (the actor folders
    twice, at the top and inside ``audio_speech_actors_01-24/``; see
    :func:`course_utils.data.metadata.find_wavs`). Taught in ``00_getting_the_data`` (the ways to
    get the data); every chapter's data cell calls it through
    :func:`course_utils.data.datasets.resolve`, and :func:`get_ravdess` starts with it.
    """
    return _locate(_data_root(dest))


def partial_copy_fix(folder: str | Path, dest: str | Path | None = None) -> str:
    """The ``Fix: ...`` sentence for a copy of RAVDESS in ``folder`` that lacks files of the
    1440: what to run depends on where the copy comes from (``RAVDESS_DIR``, a zip the course
    extracted, a folder made by hand). Used by :func:`check_ravdess` and the banner of
    :func:`course_utils.data.datasets.resolve` (every chapter's data cell, ``00_getting_the_data``
    on)."""
    folder = Path(folder)
    env = _env_path()
    get = "`python -m course_utils get-data --dataset ravdess"
    if env is not None and not env.is_file():
        return (f"Fix: set RAVDESS_DIR to a complete copy (the folder that holds Actor_01 ... Actor_24), or "
                f"unset it and run {get}` to download the full set into the data folder.")
    marker = _read_marker(folder)
    if marker and not _lost_files(folder):
        source = marker.get("source") or marker.get("url") or marker.get("zip")
        return (f"It holds everything its zip holds ({source}). Fix: {get} --force` with RAVDESS_URL and "
                "RAVDESS_DIR unset downloads the full set from Zenodo.")
    if marker:
        return (f"Fix: {get}` extracts the missing files again from the zip kept in "
                f"{_data_root(dest) if dest is not None else folder.parent}/{_DOWNLOADS} (or downloads it again).")
    return (f"Fix: {get} --force` replaces it with the full set (downloaded from Zenodo, about 208 MB), or "
            "set RAVDESS_DIR to a complete copy.")


def check_ravdess(folder: str | Path, *, expect_complete: bool = True) -> pd.DataFrame:
    """The metadata table of a RAVDESS folder (:func:`course_utils.data.metadata.build_metadata`).

    Raises an error listing every file that is not a RAVDESS clip, or naming a damaged one.
    With ``expect_complete`` (the default), a :class:`MissingFilesError` lists the missing
    files of the 1440; pass ``expect_complete=False`` for a partial copy (a few actors).
    Used by :func:`get_ravdess`: ``get-data`` and every chapter run with ``dataset = "ravdess"``
    (``00_getting_the_data`` on).
    """
    df = build_metadata(folder)
    if expect_complete:
        missing = missing_files(df)
        if missing:
            shown = "\n".join(f"  {name}" for name in missing[:10])
            more = f"\n  ... and {len(missing) - 10} more" if len(missing) > 10 else ""
            raise MissingFilesError(
                f"{folder} is missing {len(missing)} of the {len(expected_filenames())} "
                f"RAVDESS speech files:\n{shown}{more}\n{partial_copy_fix(folder)} To work with a part "
                "of RAVDESS on purpose, pass expect_complete=False.",
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
    force: bool = False,
    check: bool = True,
    verbose: bool = True,
) -> Path:
    """Find RAVDESS (:func:`locate_ravdess`), repair or download it, then check it; return the folder.

    - A copy in ``<dest>/ravdess`` that the course extracted and that lost files is extracted
      again from the zip kept in ``<dest>/downloads`` (its checksum checked); with ``download``
      the zip is downloaded again when it is missing or damaged.
    - No copy: the kept zip is extracted; else, with ``download``, RAVDESS is downloaded
      (:func:`download_ravdess`); else :class:`NoRavdessError` says how to get it.
    - ``force``: extract again from scratch (download again unless the kept zip passes its
      checksum); with ``RAVDESS_DIR`` set to a folder, a :class:`RavdessDirError` (the course
      never changes that folder).
    - ``check``: build the metadata table (:func:`check_ravdess`, with ``expect_complete``).

    The leftovers of killed runs are removed first (:func:`clean_leftovers`); a read-only data
    folder or a full disk raises :class:`DataFolderError`, one line naming the folder. The other
    errors are those of :func:`download_ravdess` and :func:`check_ravdess`. Taught in
    ``00_getting_the_data``; used by every chapter's data cell (through
    :func:`course_utils.data.datasets.resolve`) and by ``get-data``.
    """
    root = _data_root(dest)
    known_hash = known_hash or RAVDESS_MD5
    with data_folder_errors(root):
        clean_leftovers(root, verbose=verbose)
        folder = _locate(root, force=force, verbose=verbose)
        env = _env_path()
        if env is not None:
            if force and not env.is_file():
                raise RavdessDirError(
                    f"--force (force=True) extracts RAVDESS again into {root / _FOLDER}, but RAVDESS_DIR is set to "
                    f"{env}, which the course reads instead and never changes. Fix: unset RAVDESS_DIR to use the "
                    f"data folder, or repair {env} yourself."
                )
        else:
            target = root / _FOLDER
            if force or folder is None or _lost_files(target):
                if download:
                    folder = download_ravdess(root, url=url, known_hash=known_hash, progressbar=progressbar,
                                              timeout=timeout, force=force, verbose=verbose)
                elif (kept := _verified_zip(root, known_hash)) is not None:
                    folder = _extract_kept(root, kept, known_hash, verbose)
                elif folder is None:
                    raise NoRavdessError(
                        f"RAVDESS is not in {target} and RAVDESS_DIR is not set. Fix: "
                        "download it (`python -m course_utils get-data --dataset ravdess`), or set "
                        "RAVDESS_DIR to the folder that holds Actor_01 ... Actor_24."
                    )
            if folder == target:
                _share(target, 0o700, 0o777)  # a copy extracted before the umask was followed
                _share(root / _DOWNLOADS / RAVDESS_ZIP, 0o600, 0o666)
    if check:
        df = check_ravdess(folder, expect_complete=expect_complete)
        _say(f"RAVDESS: {len(df)} files, {df['actor'].nunique()} actors in {folder}", verbose)
    return folder
