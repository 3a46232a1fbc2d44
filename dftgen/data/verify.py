"""`verify_run`: is every file of a dataset run sound?

Checks each part file and shard (readable, this schema, every column equal to its checksum),
the shard index against the files it lists (present, with the SHA-256 recorded when they were
written), and lists the part files quarantined by an earlier resume.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from dftgen.data import shards


def file_sha256(path: str | os.PathLike) -> str:
    """SHA-256 of a whole file, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def verify_run(run_dir: str | os.PathLike) -> dict:
    """{"files_checked": n, "problems": [one line per problem, naming the file]}."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise FileNotFoundError(f"{run_dir} is not a run directory")
    problems: list[str] = []
    files = sorted((run_dir / "parts").glob("*.h5")) + sorted((run_dir / "shards").glob("*.h5"))
    for path in files:
        problems += shards.verify(path)
    for path in sorted((run_dir / "parts" / "quarantine").glob("*.h5")):
        problems.append(f"{path}: quarantined by a resume (its molecules were computed again)")
    index_file = run_dir / "shards" / "index.json"
    if index_file.is_file():
        problems += _index_problems(index_file)
    elif files:
        problems.append(f"{index_file}: missing (the run was not compacted)")
    return {"files_checked": len(files), "problems": problems}


def _index_problems(index_file: Path) -> list[str]:
    index = json.loads(index_file.read_text())
    problems = []
    for entries in index["splits"].values():
        for entry in entries:
            path = index_file.parent / entry["file"]
            if not path.is_file():
                problems.append(f"{path}: listed in {index_file.name} but missing")
            elif entry.get("sha256") and file_sha256(path) != entry["sha256"]:
                problems.append(f"{path}: differs from the file {index_file.name} recorded "
                                "(SHA-256)")
    return problems
