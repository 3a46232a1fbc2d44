"""Fault injection at scale, with the real kernel: 200+ conformers on two workers while workers
are SIGKILLed at random moments, the driver is killed once and restarted, and a finished part
file is truncated on disk. At the end every conformer is in the shards exactly once, the
truncated part was detected and recomputed, and `dftgen status` accounts for every input."""

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dftgen.data import open_dataset
from dftgen.pipeline import spec as spec_mod
from dftgen.pipeline.plan import Plan
from dftgen.pipeline.resume import QUARANTINE
from dftgen.pipeline.status import format_status, run_status
from dftgen.pipeline.synthetic import qm9_smiles

ROOT = Path(__file__).resolve().parents[1]
DRIVER = """
import sys
from dftgen.pipeline import spec as spec_mod
from dftgen.pipeline.runner import generate
generate(spec_mod.load(sys.argv[1]), sys.argv[2], workers=2, progress=False)
"""
MOLECULES, CONFORMERS = 48, 5  # QM9's molecules of 1-4 heavy atoms: 240 conformers


def _children(pid: int) -> list[int]:
    """Processes whose parent is pid (from /proc)."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out


def _workers(driver_pid: int) -> list[int]:
    """The Dask worker processes a driver spawned (the nannies live in the driver)."""
    found = []
    for pid in _children(driver_pid):
        try:
            if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes():
                found.append(pid)
        except OSError:
            continue
    return found


def _parts(run_dir: Path) -> list[Path]:
    return [p for p in (run_dir / "parts").glob("*.h5") if p.stem != "ingest"]


def _wait_for_parts(run_dir: Path, n: int, deadline: float) -> None:
    while len(_parts(run_dir)) < n:
        if time.time() > deadline:
            raise TimeoutError(f"fewer than {n} parts after the deadline")
        time.sleep(0.2)


@pytest.mark.slow
def test_kills_and_a_truncated_part_lose_and_duplicate_nothing(tmp_path):
    smiles = qm9_smiles(MOLECULES, heavy_atoms=(1, 4))
    (tmp_path / "mols.smi").write_text("\n".join(smiles) + "\n")
    spec_file = tmp_path / "faults.toml"
    spec_file.write_text(
        'name = "faults"\n[source]\nkind = "smiles"\npath = "mols.smi"\n'
        '[filter]\nheavy_atoms = [1, 9]\n'
        f'[conformers]\nper_molecule = {CONFORMERS}\n[plan]\ntask_conformers = 10\n'
        '[run]\nretries = 3\nallowed_failures = 8\n[output]\nsplits = { train = 1.0 }\n')
    spec = spec_mod.load(spec_file)
    out = tmp_path / "out"
    run_dir = spec.run_dir(out)
    command = [sys.executable, "-c", DRIVER, str(spec_file), str(out)]
    rng = random.Random(0)
    deadline = time.time() + 1500

    driver = subprocess.Popen(command, cwd=ROOT, start_new_session=True,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    kills = 0
    try:
        for threshold in (2, 6, 10):  # three worker kills at random moments
            _wait_for_parts(run_dir, threshold, deadline)
            time.sleep(rng.uniform(0.0, 3.0))
            workers = _workers(driver.pid)
            if workers:
                os.kill(rng.choice(workers), signal.SIGKILL)
                kills += 1
        _wait_for_parts(run_dir, 14, deadline)
    finally:
        os.killpg(driver.pid, signal.SIGKILL)  # the driver and everything it started
        driver.wait()
    assert kills == 3
    done_before = _parts(run_dir)
    tasks = len(json.loads((run_dir / "plan.json").read_text())["tasks"])
    assert len(done_before) < tasks, "the driver was killed after the run ended"

    victim = rng.choice(done_before)
    victim.write_bytes(victim.read_bytes()[: victim.stat().st_size // 2])
    status = run_status(run_dir)
    assert len(status.damaged_parts) == 1 and victim.name in status.damaged_parts[0]

    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=1500)
    assert result.returncode == 0, result.stderr[-3000:]
    assert (run_dir / "parts" / QUARANTINE / victim.name).is_file()
    assert not victim.exists() or victim.stat().st_size > 0  # recomputed under its own name

    ds = open_dataset(run_dir)
    failures = ds.failures
    failed = set(failures["molecule_id"].tolist())
    stored = ds.molecule_ids.tolist()
    assert len(stored) == len(set(stored)), "a molecule appears twice"
    planned = {m.id for m in Plan.load(run_dir / "plan.json").molecules}
    assert set(stored) | failed >= planned and set(stored) <= planned
    assert failed <= {i for i, stage in zip(failures["molecule_id"], failures["stage"])
                      if stage in ("embed", "ingest", "parse")}, "a kill cost a molecule"
    rows = [(r["molecule_id"], r["conformer"]) for r in ds]
    assert len(rows) == len(set(rows)), "a conformer appears twice"

    final = run_status(run_dir)
    assert final.pending == 0 and final.done + final.failed == final.molecules
    assert final.molecules + sum(v for k, v in final.ingest_counts.items() if k != "kept") >= len(smiles)
    assert "0 pending" in format_status(final)
