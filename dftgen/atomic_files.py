"""Files that appear whole or not at all.

A writer fills a temporary file beside the target and renames it over the target; a rename
within one directory is atomic on POSIX, so a reader never sees half a file and a writer
killed mid-way leaves the old file (or none), never a truncated one.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """A temporary path beside `path` to write to: it replaces `path` when the block exits
    cleanly and is removed when the block raises."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.unlink(missing_ok=True)  # a killed writer of the same pid may have left one
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_text_atomically(path: str | os.PathLike, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)
