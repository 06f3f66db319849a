"""Atomic file writes: nothing half-written is ever left under a final name.

Used by every module that writes to the data folder or the build folder (corpus, downloads,
feature cache, results).
"""

from __future__ import annotations

import os
import re
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


@contextmanager
def atomic_path(path: str | Path, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it to ``path`` when the block succeeds.

    If the block raises (or the process is interrupted), the temporary file is removed and
    ``path`` is untouched. The temporary name, ``.<name>.<pid>.<random><suffix>``, carries the
    writer's process id: if the process is killed (``kill -9``, the out-of-memory killer) and the
    file stays, the next run knows it is abandoned (:data:`LEFTOVER_PATTERN`,
    :func:`course_utils.cache.clean_leftovers`). ``suffix`` defaults to ``path``'s own suffix, for writers that
    choose a format by extension (``np.savez`` adds ``.npz`` otherwise).

    >>> with atomic_path("out/table.csv") as tmp:      # doctest: +SKIP
    ...     df.to_csv(tmp)
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}.", suffix=path.suffix if suffix is None else suffix,
                               dir=path.parent)
    os.close(fd)
    tmp = Path(tmp)
    try:
        yield tmp
        if tmp.exists():  # mkstemp makes files private (0600); give them the usual permissions
            tmp.chmod(0o666 & ~current_umask())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


#: The name of a temporary file of :func:`atomic_path` (``pid`` is None for files written by
#: course versions before the id was added); used to find the leftovers of killed runs.
LEFTOVER_PATTERN = re.compile(r"^\.(?P<name>.+?)\.(?:(?P<pid>\d+)\.)?[a-z0-9_]{8}(?P<suffix>\.[A-Za-z0-9]+)?$")


def current_umask() -> int:
    """The process's file-creation mask (read without changing it for good)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_text_atomic(path: str | Path, text: str) -> Path:
    """Write a text file atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return Path(path)
