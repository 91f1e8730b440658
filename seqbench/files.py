"""Atomic file writes: a reader never sees a half-written table, figure or input file."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any


def atomic_write(path: Path, write: Callable[[Path], Any]) -> Path:
    """Call ``write(tmp)`` on a hidden temporary name next to ``path``, then rename it over ``path``.

    The temporary name carries the process id, so two processes writing the same file never
    share one; on any failure it is removed and ``path`` is left as it was.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def write_if_changed(path: Path, data: bytes | str) -> bool:
    """Write ``data`` to ``path`` atomically unless the file already holds exactly it.

    For demo inputs that are rebuilt on every run: an unchanged file keeps its modification time,
    so nothing downstream sees a change.  Text is written as UTF-8.  Returns whether it wrote.
    """
    path = Path(path)
    blob = data.encode() if isinstance(data, str) else data
    if path.is_file() and path.read_bytes() == blob:
        return False
    atomic_write(path, lambda tmp: tmp.write_bytes(blob))
    return True
