"""One cache for every per-clip table: read whole, or reported, removed and rebuilt.

Every long per-clip computation of the course (log-Mel images, pitch tracks, MFCC statistics,
eGeMAPS, trimmed durations, waveforms, augmented copies, frozen VGG16 features) keeps its
result in one file under ``data/cache/`` (:func:`course_utils.base.paths.cache_dir`), named by
*what* it holds: the kind, the dataset, a hash of the recipe and a fingerprint of the files
(:func:`entry_path`, with :func:`course_utils.base.paths.files_fingerprint`). :func:`cached` is the
one way in:

- an entry that exists and reads back whole, for the same files, is returned;
- an entry that cannot be read (truncated, zero bytes, not a zip, a CSV without rows), that
  holds other files or fails the caller's check is reported in **one line**, removed and
  computed again, so a damaged cache never breaks the next run;
- a new entry is written atomically (:func:`course_utils.data.atomic.atomic_path`: a temporary
  file next to it, then a rename), and the leftovers of runs that were killed while writing
  (``kill -9``, the out-of-memory killer) are removed the next time the folder is used
  (:func:`course_utils.data.atomic.clean_leftovers`): their names carry the id of the process that wrote them, and a
  process that no longer exists cannot finish them;
- an entry is computed by one process at a time (:func:`computing`): a second notebook, a
  warm-up or a test worker of the same user that needs the entry while another computes it says so
  in one line, waits, and reads what the first one wrote, instead of doing the same work beside
  it on the same cores.

Two formats: ``.npz`` (a dict of arrays; the clips' file names under ``filenames``) and
``.csv`` (a table; the clips' file names in the column ``filename``).

Taught in ``06_preprocessing`` (the feature cache) and used by chapters 04-17.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import tempfile
import zipfile
import zlib
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import filelock
import numpy as np
import pandas as pd

from course_utils.base import paths
from course_utils.data import atomic
from course_utils.data.atomic import LEFTOVER_PATTERN, atomic_path

#: pandas >= 3 reads floats back exactly by default (and deprecates the option); 2.x needs it.
_EXACT_FLOATS = {} if int(pd.__version__.split(".")[0]) >= 3 else {"float_precision": "round_trip"}

#: What reading a damaged entry can raise (zip, zlib, numpy, pandas, the file system).
_READ_ERRORS = (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, zlib.error, pd.errors.ParserError,
                pd.errors.EmptyDataError)

_cleaned: set[Path] = set()


def entry_path(kind: str, files: Sequence[str | Path], *recipe, suffix: str = ".npz",
               cache_dir: str | Path | None = None, count: str | None = None) -> Path:
    """Where the cache entry of a per-clip computation lives:
    ``cache_dir / "{kind}-{fingerprint}-{count}{suffix}"``.

    ``kind`` names what the entry holds in readable words (e.g. ``"logmel-ravdess-1a2b3c"``: the
    kind, the dataset, the recipe's hash); the fingerprint covers the files (names, sizes,
    modification times) and every value of ``recipe``
    (:func:`course_utils.base.paths.files_fingerprint`), so that another subset, a replaced file
    or another setting gets an entry of its own; ``count`` (default: the number of files) ends the
    name. ``cache_dir``: :func:`course_utils.base.paths.cache_dir` by default. Every module's
    ``cache_path`` is this with its own kind and recipe. Taught in ``06_preprocessing``.
    """
    folder = Path(cache_dir) if cache_dir is not None else paths.cache_dir()
    count = str(len(files)) if count is None else count
    return folder / f"{kind}-{paths.files_fingerprint(files, *recipe)}-{count}{suffix}"


def _check_suffix(target: Path) -> None:
    if target.suffix not in (".npz", ".csv"):
        raise ValueError(f"cache entries are .npz or .csv files, not {target.name}")


def _read(target: Path) -> Any:
    if target.suffix == ".npz":
        with np.load(target, allow_pickle=False) as f:
            return {k: f[k] for k in f.files}
    return pd.read_csv(target, **_EXACT_FLOATS)


def _write(target: Path, data: Any) -> None:
    with atomic_path(target) as tmp:
        if target.suffix == ".npz":
            np.savez(tmp, **data)
        else:
            data.to_csv(tmp, index=False)


def _names_of(data: Any) -> list[str] | None:
    if isinstance(data, dict):
        return [str(n) for n in data["filenames"]] if "filenames" in data else None
    return [str(n) for n in data["filename"]] if "filename" in data.columns else None


def read(target: str | Path, *, what: str, names: Sequence[str] | None = None,
         check: Callable[[Any], str | None] | None = None) -> Any | None:
    """The cache entry ``target`` (a dict of arrays for ``.npz``, a DataFrame for ``.csv``), or
    None when it is missing. An entry that cannot be read, holds other files than ``names``
    or fails ``check`` (returns a reason, or None when the data is fine) is reported in one line,
    removed, and None returned, so that the caller computes it again. Used by :func:`cached`, so
    by every cache of ``04_mel_scale`` to ``17_new_voices``; taught with it in ``06_preprocessing``."""
    target = Path(target)
    _check_suffix(target)
    if not target.exists():
        return None
    reason, stale = None, False
    try:
        data = _read(target)
    except _READ_ERRORS as err:
        reason = f"cannot be read: {type(err).__name__}: {str(err) or 'empty'}"
    else:
        if names is not None:
            held = _names_of(data)
            if held is None:
                reason = "it does not list its clips"
            elif held != [str(n) for n in names]:
                reason, stale = f"it holds {len(held)} other clips than the {len(names)} asked for", True
        if reason is None and check is not None:
            reason = check(data)
    if reason is None:
        return data
    state = "is stale" if stale else "is damaged"
    print(f"The {what} cache {target} {state} ({reason}): removed, computing it again.", flush=True)
    target.unlink(missing_ok=True)
    return None


def cached(target: str | Path, build: Callable[[], Any], *, what: str, names: Sequence[str] | None = None,
           check: Callable[[Any], str | None] | None = None) -> Any:
    """The cache entry ``target`` when it is whole (:func:`read`), else ``build()`` written to it
    atomically and returned. ``build`` returns a dict of arrays (``.npz``; put the clips' names
    under ``filenames``) or a DataFrame (``.csv``; column ``filename``). The first call for a
    folder also removes the leftovers of killed runs there (:func:`course_utils.data.atomic.clean_leftovers`).
    A missing entry is computed under its lock (:func:`computing`): a process that finds another
    one computing it waits, then reads the entry back instead of computing it a second time.
    Taught in ``06_preprocessing``; used by every per-clip computation of chapters 04-17.
    """
    target = Path(target)
    _check_suffix(target)
    folder = target.parent.resolve()
    if folder not in _cleaned:
        atomic.clean_leftovers(folder)
        _cleaned.add(folder)
    data = read(target, what=what, names=names, check=check)
    if data is not None:
        return data
    with computing(target, what=what):
        data = read(target, what=what, names=names, check=check)  # written while this one waited
        if data is not None:
            return data
        data = build()
        _write(target, data)
    return data


def lock_path(target: str | Path) -> Path:
    """The lock file of cache entry ``target``: in a folder of this user's in the system's
    temporary folder, named by a hash of the entry's absolute path, so that the data folder holds
    only entries (and a read-only one needs no lock). Used by :func:`computing`; taught with the
    cache in ``06_preprocessing``."""
    user = os.getuid() if hasattr(os, "getuid") else os.environ.get("USERNAME", "user")
    digest = hashlib.sha1(str(Path(target).resolve()).encode()).hexdigest()[:20]
    return Path(tempfile.gettempdir()) / f"course-cache-locks-{user}" / f"{digest}.lock"


@contextlib.contextmanager
def computing(target: str | Path, *, what: str) -> Iterator[None]:
    """Hold the lock of cache entry ``target`` while computing it (a file lock: the same user's
    other processes on this machine wait; the system frees it when its process ends, killed or
    not). A process that has to wait says so in one line. Where no lock can be had (no temporary
    folder, a file system without locks) the entry is computed without one, as before: the atomic
    write still keeps it whole. Used by :func:`cached`; taught in ``06_preprocessing``."""
    lock = None
    try:
        path = lock_path(target)
        path.parent.mkdir(parents=True, exist_ok=True)
        lock = filelock.FileLock(str(path))
        try:
            lock.acquire(timeout=0)
        except filelock.Timeout:
            print(f"Another process is computing the {what} cache {Path(target).name}: waiting for it, "
                  "then reading its result.", flush=True)
            lock.acquire()
    except OSError:
        lock = None  # computed without a lock; an error of the computation is then not tied to this one
    try:
        yield
    finally:
        if lock is not None:
            lock.release()


def shape_check(key: str, shape: tuple, *, finite: bool = True) -> Callable[[Any], str | None]:
    """A ``check`` for :func:`cached`: array ``key`` has ``shape`` (``None`` matches any length
    on that axis) and, with ``finite``, no NaN or infinity. Used by the caches of the log-Mel images
    (``05_eda`` on), the clip statistics and eGeMAPS of the classical baseline (``06_preprocessing``,
    ``07_classical_baseline``, ``17_new_voices``), the augmented copies of ``10_augmentation`` and
    the waveforms of ``14_raw_waveform``."""
    def check(data: Any) -> str | None:
        if key not in data:
            return f"it has no {key!r}"
        a = np.asarray(data[key])
        if a.ndim != len(shape) or any(s is not None and s != n for s, n in zip(shape, a.shape)):
            return f"{key} of shape {a.shape}, not {tuple('any' if s is None else s for s in shape)}"
        if finite and a.dtype.kind == "f" and not np.all(np.isfinite(a)):
            return f"values of {key} that are not finite"
        return None

    return check


def columns_check(columns) -> Callable[[Any], str | None]:
    """A ``check`` for :func:`cached` of a ``.csv`` entry: the table has every one of ``columns``.
    Used by the course's table caches: the acoustic table (``05_eda``, ``07_classical_baseline``,
    ``09_cnn_multiclass``) and the trimmed durations (``06_preprocessing``)."""
    def check(table: pd.DataFrame) -> str | None:
        missing = set(columns) - set(table.columns)
        return f"it lacks the columns {sorted(missing)}" if missing else None

    return check


def usage(folder: str | Path | None = None) -> pd.DataFrame:
    """What the data folder holds, everything counted: one row per top-level part (the corpus,
    the downloads, the cache, ...) with ``files`` and ``MB``, and a row for the leftovers of
    interrupted runs (hidden temporary files and folders, ``.partial`` extractions, pooch's
    ``tmp*`` downloads) wherever they are. No chapter calls it: ``python -m course_utils warm-cache``
    prints it (Binder's ``postBuild``, a teacher preparing a machine). The cache it counts is taught
    in ``06_preprocessing``."""
    folder = Path(folder) if folder is not None else paths.data_dir()
    rows: dict[str, list[int]] = {}
    if folder.is_dir():
        for dirpath, dirnames, filenames in os.walk(folder):
            rel = Path(dirpath).relative_to(folder)
            for name in filenames:
                p = Path(dirpath) / name
                try:
                    size = p.lstat().st_size
                except FileNotFoundError:
                    continue
                parts = (rel / name).parts
                leftover = any(LEFTOVER_PATTERN.match(x) or x.endswith(".partial") or re.fullmatch(r"tmp\w{6,}", x)
                               for x in parts)
                part = "leftovers of interrupted runs" if leftover else (parts[0] if len(parts) > 1 else "(files at the top)")
                rows.setdefault(part, [0, 0])
                rows[part][0] += 1
                rows[part][1] += size
    table = pd.DataFrame([{"part": k, "files": v[0], "MB": round(v[1] / 1e6, 1)} for k, v in sorted(rows.items())],
                         columns=["part", "files", "MB"])
    total = pd.DataFrame([{"part": "total", "files": int(table["files"].sum()), "MB": round(float(table["MB"].sum()), 1)}])
    return pd.concat([table, total], ignore_index=True)
