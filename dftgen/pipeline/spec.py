"""Pipeline specs: what a dataset run computes, read from TOML and validated.

A spec has a name, a global seed and one table per stage:

    [source]      where the SMILES come from (kind = "qm9" | "smiles" | "gdb11" | "csv")
    [filter]      elements, heavy-atom range, maximum hydrogens, limit
    [conformers]  ETKDGv3 conformers per molecule, optional MMFF relaxation, embedding timeout
    [dft]         preset and Settings overrides (any field of `dftgen.presets.Settings`), forces
    [plan]        how molecules are cut into tasks
    [output]      shard size and the train/val/test fractions
    [run]         how it runs (workers, retries, in-flight window, compile phase): not part
                  of the data

The config hash covers everything that decides the data (all but `name` and `[run]`, and
the shard size, which only decides packaging); it names the run directory, so the same
command finds the same directory again and resumes there.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from pathlib import Path

from dftgen.data.splits import DEFAULT_SPLITS
from dftgen.elements import atomic_number
from dftgen.presets import default_forces
from dftgen.specfile import (SettingsSection, SpecError, check_keys, read_toml, replace_sections,
                             section, settings_section)

SOURCE_KINDS = ("qm9", "smiles", "gdb11", "csv")


@dataclasses.dataclass(frozen=True)
class SourceSection:
    """kind: "qm9" (qm9pack's 130,831 molecules), "smiles" (a text file, SMILES first on each
    line), "gdb11" (GDB-11 `.smi` files: a file, or a folder of gdb11_sizeNN.smi), "csv" (a
    CSV file with a SMILES column). path: the file or folder (not for qm9), absolute or
    relative to the spec file. column: the CSV column holding SMILES."""

    kind: str = "qm9"
    path: str | None = None
    column: str = "smiles"


@dataclasses.dataclass(frozen=True)
class FilterSection:
    """elements: allowed element symbols; heavy_atoms: inclusive (min, max) range;
    max_hydrogens: None for no limit (QM1B: 14); every: keep every N-th molecule that passes
    (a sample spread over the whole source, in its order); limit: keep the first N molecules
    after filtering and `every` (None: all)."""

    elements: tuple[str, ...] = ("H", "C", "N", "O", "F")
    heavy_atoms: tuple[int, int] = (1, 9)
    max_hydrogens: int | None = 14
    every: int = 1
    limit: int | None = None


@dataclasses.dataclass(frozen=True)
class ConformersSection:
    """per_molecule: ETKDGv3 conformers asked per molecule (RDKit may return fewer);
    optimize: None (raw ETKDG geometries, as QM1B), "mmff", or "dft" (BFGS with the spec's
    own DFT settings until every force is below fmax_ev_ang, eV/Angstrom, within max_steps
    steps; a conformer that does not get there fails its molecule); timeout_s: embedding
    time limit per molecule, seconds."""

    per_molecule: int = 1
    optimize: str | None = None
    timeout_s: float = 60.0
    max_steps: int = 200
    fmax_ev_ang: float = 0.01


@dataclasses.dataclass(frozen=True)
class DFTSection(SettingsSection):
    """A preset and Settings overrides (`dftgen.specfile.SettingsSection`); forces: compute
    forces or not, None for the preset's choice (`with_forces`); guess: a trained DFT-loss
    model directory whose predicted density starts every SCF (None: minao), absolute or
    relative to the spec file."""

    forces: bool | None = None
    guess: str | None = None

    @property
    def with_forces(self) -> bool:
        return default_forces(self.preset) if self.forces is None else self.forces


@dataclasses.dataclass(frozen=True)
class PlanSection:
    """task_conformers: conformers per task (tasks of a few minutes; a molecule's conformers
    never split across tasks); batch_size: conformers per `run_dft_batch` call inside a task
    (short batches are padded with copies, so each bucket compiles one program). On CPU 1 is
    fastest, per conformer and to compile (benchmarks/results/tuning.md); batches may pay on
    a GPU."""

    task_conformers: int = 64
    batch_size: int = 1


@dataclasses.dataclass(frozen=True)
class OutputSection:
    """shard_mb: target shard size in MiB; splits: (name, fraction) pairs summing to 1,
    assigned per molecule so that all conformers of a molecule share a split."""

    shard_mb: float = 512.0
    splits: tuple[tuple[str, float], ...] = DEFAULT_SPLITS


@dataclasses.dataclass(frozen=True)
class RunSection:
    """workers: local worker processes (None: one per core); window: tasks in flight at once
    (None: twice the workers); retries: Dask retries of a task that raised; allowed_failures:
    worker deaths a task may cause before it is declared poisonous and bisected; precompile:
    compile every shape bucket with pending tasks before the first task
    (`dftgen.pipeline.precompile`; without it each worker compiles what it meets)."""

    workers: int | None = None
    window: int | None = None
    retries: int = 2
    allowed_failures: int = 1
    precompile: bool = True


@dataclasses.dataclass(frozen=True)
class PipelineSpec:
    name: str = "default"
    seed: int = 0
    source: SourceSection = SourceSection()
    filter: FilterSection = FilterSection()
    conformers: ConformersSection = ConformersSection()
    dft: DFTSection = DFTSection()
    plan: PlanSection = PlanSection()
    output: OutputSection = OutputSection()
    run: RunSection = RunSection()

    def replace(self, **sections) -> PipelineSpec:
        """A copy with fields of sections replaced: `spec.replace(filter={"limit": 10})`."""
        return _validated(replace_sections(self, **sections), "pipeline spec")

    def data_dict(self) -> dict:
        """Everything that decides the data, as plain JSON values (settings fully expanded)."""
        out = {
            "seed": self.seed,
            "source": dataclasses.asdict(self.source),
            "filter": _filter_dict(self.filter),
            "conformers": dataclasses.asdict(self.conformers),
            "dft": {"settings": dataclasses.asdict(self.dft.settings),
                    "forces": self.dft.with_forces,
                    # only when set: the hashes of specs from before `guess` hold
                    **({"guess": self.dft.guess} if self.dft.guess else {})},
            "plan": dataclasses.asdict(self.plan),
            "splits": dict(self.output.splits),
        }
        return json.loads(json.dumps(out))  # tuples -> lists, as they read back

    def config_hash(self) -> str:
        """SHA-256 (hex) of `data_dict()` in canonical JSON."""
        text = json.dumps(self.data_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()

    def run_dir(self, out_root: str | os.PathLike) -> Path:
        """The run directory under out_root: `<name>-<first 12 hex of the config hash>`."""
        return Path(out_root) / f"{self.name}-{self.config_hash()[:12]}"

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), sort_keys=True)


def _filter_dict(filt: FilterSection) -> dict:
    out = dataclasses.asdict(filt)
    if filt.every == 1:  # the default leaves the hashes of specs written before `every` unchanged
        del out["every"]
    return out


def load(path: str | os.PathLike) -> PipelineSpec:
    """Read and validate a TOML spec; a relative source path or guess is taken from the spec's
    folder."""
    path = Path(path)
    data, where = read_toml(path, "pipeline spec")
    for table, key in (("source", "path"), ("dft", "guess")):
        section = data.get(table, {})
        if isinstance(section, dict) and section.get(key) and isinstance(section[key], str):
            section[key] = str((path.parent / os.path.expanduser(section[key])).resolve())
    return from_dict(data, where)


def from_dict(data: dict, where: str = "pipeline spec") -> PipelineSpec:
    """A validated spec from nested dicts as TOML gives them; `where` names it in errors."""
    data = dict(data)
    check_keys(data, [f.name for f in dataclasses.fields(PipelineSpec)], where)
    top = {k: data.pop(k) for k in ("name", "seed") if k in data}
    sections = {name: _section(name, table, where) for name, table in data.items()}
    return _validated(PipelineSpec(**top, **sections), where)


_SECTION_TYPES = {"source": SourceSection, "filter": FilterSection, "conformers": ConformersSection,
                  "dft": DFTSection, "plan": PlanSection, "output": OutputSection, "run": RunSection}


def _section(name: str, table: dict, where: str):
    """One [name] table: the pipeline's own value conversions, then `specfile.section`."""
    if not isinstance(table, dict):
        raise SpecError(f"{where}: [{name}] must be a table")
    if name == "dft":
        return settings_section(DFTSection, table, name, where)
    table = dict(table)
    if name == "output" and "splits" in table:
        table["splits"] = tuple((str(k), float(v)) for k, v in table["splits"].items())
    if name == "conformers" and table.get("optimize") == "none":
        table["optimize"] = None
    return section(_SECTION_TYPES[name], table, name, where)


def _validated(spec: PipelineSpec, where: str) -> PipelineSpec:
    s, f, c, p, o, r = spec.source, spec.filter, spec.conformers, spec.plan, spec.output, spec.run
    lo, hi = f.heavy_atoms if len(f.heavy_atoms) == 2 else (0, -1)
    checks = [
        (s.kind in SOURCE_KINDS, f"[source] kind must be one of {SOURCE_KINDS}, got {s.kind!r}"),
        (s.kind == "qm9" or bool(s.path), f"[source] kind {s.kind!r} needs a path"),
        (1 <= lo <= hi, f"[filter] heavy_atoms must be [min, max] with 1 <= min <= max, "
                        f"got {list(f.heavy_atoms)}"),
        (f.max_hydrogens is None or f.max_hydrogens >= 0, "[filter] max_hydrogens must be >= 0"),
        (f.limit is None or f.limit >= 1, "[filter] limit must be >= 1"),
        (f.every >= 1, f"[filter] every must be >= 1, got {f.every}"),
        (c.per_molecule >= 1, "[conformers] per_molecule must be >= 1"),
        (c.optimize in (None, "mmff", "dft"),
         "[conformers] optimize must be \"none\", \"mmff\" or \"dft\""),
        (c.max_steps >= 1 and c.fmax_ev_ang > 0,
         "[conformers] max_steps must be >= 1 and fmax_ev_ang > 0"),
        (c.timeout_s >= 0, "[conformers] timeout_s must be >= 0"),
        (p.task_conformers >= 1 and p.batch_size >= 1, "[plan] sizes must be >= 1"),
        (o.shard_mb > 0, "[output] shard_mb must be > 0"),
        (abs(sum(v for _, v in o.splits) - 1.0) < 1e-9 and all(v >= 0 for _, v in o.splits),
         "[output] split fractions must be >= 0 and sum to 1"),
        (r.workers is None or r.workers >= 1, "[run] workers must be >= 1"),
        (r.retries >= 0 and r.allowed_failures >= 0, "[run] retries and allowed_failures >= 0"),
    ]
    for ok, message in checks:
        if not ok:
            raise SpecError(f"{where}: {message}")
    for element in f.elements:
        try:
            atomic_number(element)
        except ValueError as err:
            raise SpecError(f"{where}: [filter] elements: {err}") from None
    try:
        spec.dft.settings
    except ValueError as err:
        raise SpecError(f"{where}: [dft] {err}") from None
    return spec
