"""`dftgen device report`: whether a molecule fits an emulated IPU, and what it would cost.

The memory model and tile map need only the basis and the grid, so a molecule that does not
fit is reported without computing any integral; one that fits goes down the same path as a
run on the device (`Device.build`: assembled as the device computes it, then admitted: float32
check, XLA memory and cost analyses, BSP estimate).
"""

from __future__ import annotations

from dftgen import scf
from dftgen.device.device import get
from dftgen.device.rules import COMPILE_CACHE, DeviceError
from dftgen.presets import resolve


def report(mol, device: str = "ipu-bow", preset: str = "qm1b", **overrides) -> dict:
    """A JSON-ready report; always has fits, nao, memory_bytes, limit_bytes, tiles_used,
    estimated_ms_per_conformer (None when it does not fit) and reason ("" when it fits)."""
    settings = resolve(preset, **overrides)
    dev = get(device)
    setup = scf.setup(mol, settings)
    out = {"molecule": mol.name, "device": dev.name, "preset": preset, "nao": setup.basis.nao,
           "memory_bytes": None, "limit_bytes": None, "tiles_used": None,
           "estimated_ms_per_conformer": None}
    if dev.is_ipu:
        assessment = dev.assess_memory(setup.basis, settings, setup.npts)
        fp = assessment.footprint
        out.update(memory_bytes=fp.peak_bytes, limit_bytes=fp.limit_bytes,
                   tiles_used=assessment.tile_map.tiles_used, memory_model=fp.as_dict(),
                   tile_map=assessment.tile_map.summary())
        if not assessment.fits:
            return {**out, "fits": False, "reason": assessment.reason,
                    "compile_cache": COMPILE_CACHE.stats()}
    try:
        problem = dev.build(setup, settings)
    except DeviceError as err:
        return {**out, "fits": False, "reason": str(err), "compile_cache": COMPILE_CACHE.stats()}
    return {**out, **problem.report, "reason": ""}


def format_report(r: dict) -> str:
    """The report as aligned text lines."""
    mb = lambda b: "n/a" if b is None else f"{b / 1e6:.1f} MB"  # noqa: E731
    rows = [("molecule", r["molecule"]), ("device", r["device"]), ("nao", r["nao"]),
            ("fits", r["fits"]),
            ("memory (model peak)", f"{mb(r['memory_bytes'])} of {mb(r['limit_bytes'])}")]
    if not r["fits"]:
        rows.append(("reason", r["reason"]))
    for term in r.get("memory_model", {}).get("terms", []):
        rows.append((f"  {term['name']} [{term['phase']}]", f"{mb(term['bytes'])}  {term['formula']}"))
    if "xla_memory" in r:
        x = r["xla_memory"]
        rows.append(("XLA memory (compiled)", f"{mb(x['total_bytes'])} (args {mb(x['argument_bytes'])},"
                     f" temps {mb(x['temp_bytes'])}, outputs {mb(x['output_bytes'])})"))
    if "tile_map" in r:
        t = r["tile_map"]
        rows += [("tiles used", f"{t['tiles_used']} ({t['units']} ERI group quartets)"),
                 ("bytes per tile", f"max {t['max_bytes_per_tile']}, mean "
                  f"{t['mean_bytes_per_tile']:.0f} (max/mean {t['max_over_mean']:.4f}), budget "
                  f"{t['budget_bytes_per_tile']}"),
                 ("tile histogram", " ".join(str(c) for c in t["histogram_counts"])
                  + f"  (bins of {t['histogram_edges_bytes'][1]} B; last: over budget)")]
    if r.get("estimated_ms_per_conformer") is not None:
        rows.append(("estimated time", f"{r['estimated_ms_per_conformer']:.1f} ms per conformer"))
        for p in r["phases"]:
            rows.append((f"  {p['name']}", f"{p['ms']:.2f} ms ({p['repeats']} x {p['supersteps']}"
                         " supersteps)"))
    c = r["compile_cache"]
    rows.append(("compile cache", f"{c['compilations']} compiled in {c['compile_seconds']:.1f} s,"
                 f" {c['hits']} hits"))
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)
