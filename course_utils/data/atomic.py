"""Atomic file writes: nothing half-written is ever left under a final name.

A file is written under a temporary name next to its final one and renamed when complete
(:func:`atomic_path`, :func:`write_text_atomic`); a finished folder replaces the old one with
renames only (:func:`replace_dir`). A temporary name carries its writer's process id and machine
(:func:`temp_prefix`), so that a later run can tell a killed writer's leftovers from a write in
progress (:func:`abandoned`) and remove them (:func:`clean_leftovers`).

Taught in ``06_preprocessing`` (the feature cache: a temporary name, then a rename) and used by
every module that writes to the data folder or the build folder: the offline corpus and the
download of ``00_getting_the_data``, the feature cache, every chapter's results file.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


@contextmanager
def atomic_path(path: str | Path, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it to ``path`` when the block succeeds.

    If the block raises (or the process is interrupted), the temporary file is removed and
    ``path`` is untouched. The temporary name, ``.<name>.<pid>@<host>.<random><suffix>``
    (:func:`temp_prefix`), carries the writer's process id and machine: if the process is killed
    (``kill -9``, the out-of-memory killer) and the file stays, the next run knows it is
    abandoned and removes it (:func:`clean_leftovers`). ``suffix`` defaults to ``path``'s own suffix, for writers that
    choose a format by extension (``np.savez`` adds ``.npz`` otherwise).

    Taught in ``06_preprocessing`` (each cache entry is written so); the files of the offline
    corpus (``00_getting_the_data``) and every chapter's results file are written with it too.

    >>> with atomic_path("out/table.csv") as tmp:      # doctest: +SKIP
    ...     df.to_csv(tmp)
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=temp_prefix(path), suffix=path.suffix if suffix is None else suffix, dir=path.parent)
    os.close(fd)
    tmp = Path(tmp)
    try:
        yield tmp
        if tmp.exists():  # mkstemp makes files private (0600); give them the usual permissions
            tmp.chmod(0o666 & ~current_umask())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


#: The name of a temporary file or folder of the course: ``.<name>.<pid>@<host>.<random><suffix>``
#: (:func:`temp_prefix`); ``pid`` and ``host`` are None for names written before they were added.
LEFTOVER_PATTERN = re.compile(
    r"^\.(?P<name>.+?)\.(?:(?P<pid>\d+)(?:@(?P<host>[A-Za-z0-9-]*))?\.)?[a-z0-9_]{8}(?P<suffix>\.[A-Za-z0-9]+)?$")

#: Seconds without a write after which a temporary file or folder whose writer cannot be checked
#: (no process id in its name, or written on another machine sharing the folder) counts as
#: abandoned: no course step writes one entry for that long.
ABANDONED_AFTER_S = 3600


def machine() -> str:
    """This machine's name as it may appear in a file name (letters, digits, dashes). Part of every
    temporary name (:func:`temp_prefix`) and checked by :func:`abandoned`: the leftovers of
    ``00_getting_the_data``'s download and of ``06_preprocessing``'s cache."""
    return re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname().split(".")[0])[:40] or "host"


def temp_prefix(target: str | Path) -> str:
    """The start of a temporary name next to ``target``: ``.<name>.<pid>@<host>.``, so that a
    later run can tell whether the writer still runs (:func:`abandoned`). Used by
    :func:`atomic_path`, :func:`replace_dir` and the extraction of RAVDESS
    (``00_getting_the_data``)."""
    return f".{Path(target).name}.{os.getpid()}@{machine()}."


def process_alive(pid: int) -> bool:
    """Whether a process with this id runs on this machine (when unsure: yes). Used by
    :func:`abandoned`, for the leftovers of ``00_getting_the_data``'s download and
    ``06_preprocessing``'s cache."""
    if pid == os.getpid():
        return True
    if os.name == "nt":  # os.kill(pid, 0) would terminate it on Windows: never guess there
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # it exists, under another user
        return True
    return True


def abandoned(pid: str | int | None, host: str | None, idle_s: float, after_s: float = ABANDONED_AFTER_S) -> bool:
    """Whether a temporary file or folder is a leftover: its writer (``pid`` on ``host``) no
    longer runs on this machine, or, when that cannot be checked (no id, another machine), it
    has not been written for ``after_s`` seconds. A write in progress is never abandoned.
    Used by :func:`clean_leftovers` (``06_preprocessing``'s cache, the offline corpus) and by
    :func:`course_utils.data.download.clean_leftovers` (``00_getting_the_data``)."""
    if pid is not None and (host is None or host == machine()):
        return not process_alive(int(pid))
    return idle_s > after_s


def clean_leftovers(folder: str | Path, *, now: float | None = None) -> list[Path]:
    """Remove the temporary files and folders of :func:`atomic_path` (and of the course's other
    temporary names, :data:`LEFTOVER_PATTERN`) in ``folder`` whose writer was killed
    (:func:`abandoned`); return what went. Used by :func:`course_utils.data.cache.cached` and the
    offline corpus (``00_getting_the_data``); taught in ``06_preprocessing``."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    now = time.time() if now is None else now
    removed = []
    for p in folder.iterdir():
        m = LEFTOVER_PATTERN.match(p.name)
        if not m:
            continue
        try:
            if not abandoned(m.group("pid"), m.group("host"), now - p.lstat().st_mtime):
                continue
            if p.is_dir() and not p.is_symlink():
                shutil.rmtree(p)
            else:
                p.unlink()
        except FileNotFoundError:  # its writer just renamed it into place
            continue
        removed.append(p)
    return removed


def current_umask() -> int:
    """The process's file-creation mask (read without changing it for good): a temporary file or
    folder, private when created, gets the permissions any file of the user would have. Used by
    :func:`atomic_path`, the extraction of RAVDESS (``00_getting_the_data``) and the PNG tree of
    ``06_preprocessing``."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_text_atomic(path: str | Path, text: str) -> Path:
    """Write a text file atomically (:func:`atomic_path`). Used by every chapter's results file
    (:meth:`course_utils.course.results.NotebookRun.save`, explained in ``00_getting_the_data``),
    the offline corpus's manifest and ``build/results.md`` (``99_results``)."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return Path(path)


def replace_dir(new: str | Path, target: str | Path) -> Path:
    """Put the finished folder ``new`` at ``target`` with renames only, and return ``target``.

    An existing ``target`` is first renamed into a temporary folder beside it (named by
    :func:`temp_prefix`, so that :func:`clean_leftovers` removes it should this process be
    killed), then ``new`` is renamed to ``target`` and the old copy deleted. If that rename fails
    (a full disk, a permission), the old ``target`` is put back and the error raised: a reader
    sees the old folder or the new one, never a half. Used for the extracted RAVDESS
    (``00_getting_the_data``), the PNG trees of ``06_preprocessing`` and the course website.
    """
    new, target = Path(new), Path(target)
    if not target.exists():
        os.replace(new, target)
        return target
    old = Path(tempfile.mkdtemp(prefix=temp_prefix(target), suffix=".old", dir=target.parent))
    os.replace(target, old / target.name)
    try:
        os.replace(new, target)
    except BaseException:
        os.replace(old / target.name, target)
        raise
    finally:
        shutil.rmtree(old, ignore_errors=True)
    return target
