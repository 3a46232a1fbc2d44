"""The dataset card of a run: a Markdown page written from the run's own metadata.

`write_card(run_dir)` reads `shards/index.json` and the first shard's attributes (settings,
spec, provenance) and writes `<run_dir>/DATASET_CARD.md`: what the data is, at which level of
theory, made by which code on which machine, how it is split and what failed.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from dftgen.data import shards

CARD = "DATASET_CARD.md"


def card_text(index: dict, attrs: dict, run_name: str) -> str:
    """The card's Markdown from a shard index and the shards' attributes."""
    settings = attrs.get("settings", {})
    spec = attrs.get("spec", {})
    prov = attrs.get("provenance", {})
    versions = ", ".join(f"{k} {v}" for k, v in prov.get("versions", {}).items() if v)
    machine = prov.get("machine", {})
    split_rows = [f"| {name} | {sum(e['molecules'] for e in entries)} | "
                  f"{sum(e['conformers'] for e in entries)} | {len(entries)} |"
                  for name, entries in index["splits"].items()]
    failures = ", ".join(f"{k} {v}" for k, v in sorted(index.get("failures_by_stage", {}).items()))
    conformers = spec.get("conformers", {})
    theory = attrs.get("level_of_theory") or (
        f"{settings.get('xc')}/{settings.get('basis')} ({settings.get('shells', 'spherical')} "
        f"shells, grid level {settings.get('grid_level')})")
    preset_lines = [f"- preset `{attrs['preset']}`: {attrs['preset_provenance']}"] if "preset" in attrs else []
    return "\n".join([
        f"# Dataset card: {run_name}",
        "",
        f"Config hash `{index.get('config_hash')}`; shard schema version {index.get('schema_version')}.",
        "",
        "## Level of theory",
        "",
        f"- {theory}, precision {settings.get('precision')}, {settings.get('mode')} mode, at "
        f"most {settings.get('max_iter')} iterations",
        *preset_lines,
        f"- conformers: {conformers.get('per_molecule')} per molecule (RDKit ETKDGv3), "
        f"optimisation: {conformers.get('optimize') or 'none'}; forces: "
        f"{'yes' if attrs.get('forces') else 'no'}",
        f"- units: {attrs.get('units', '')}",
        "",
        "## Contents",
        "",
        "| split | molecules | conformers | shards |",
        "|---|---|---|---|",
        *split_rows,
        "",
        f"Failures: {index.get('n_failures', 0)} ({failures or 'none'}); see `shards/failures.h5`.",
        "Molecules are split by their id (SHA-256 of the canonical SMILES), so all conformers of a",
        "molecule share a split.",
        "",
        "## Provenance",
        "",
        f"- code: dftgen {attrs.get('code_version')}, git commit {prov.get('git_commit') or 'unknown'}",
        f"- packages: {versions}",
        f"- machine: {machine.get('cpu')} ({', '.join(machine.get('cpu_flags', []))}), "
        f"{machine.get('cores')} cores, {machine.get('platform')}; Python {prov.get('python')}",
        "",
        "Every column of every shard carries its unit and SHA-256; `dftgen verify` checks them.",
        "The format is described in dftgen's docs/dataset-format.md.",
        "",
    ])


def write_card(run_dir: str | os.PathLike) -> Path:
    """Write `<run_dir>/DATASET_CARD.md` from the compacted shards; returns its path."""
    run_dir = Path(run_dir)
    index = json.loads((run_dir / "shards" / "index.json").read_text())
    first = next((e["file"] for entries in index["splits"].values() for e in entries),
                 index.get("failures"))
    attrs = shards.read(run_dir / "shards" / first)[1] if first else {}
    path = run_dir / CARD
    path.write_text(card_text(index, attrs, run_dir.name))
    return path
