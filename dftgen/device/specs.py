"""Device specifications as data: Graphcore GC200 (Mk2) and Bow IPUs, and JAX's own backends.

Every number carries its source. Per-tile rates are derived from the chip-level figures the
datasheets publish, so that tiles x rate x clock gives the chip figure back.
"""

from __future__ import annotations

import dataclasses

KIB = 1024


@dataclasses.dataclass(frozen=True)
class DeviceSpec:
    """One accelerator, or JAX's CPU/GPU backend (kind "cpu"/"gpu": no IPU rules apply).

    Attributes:
        name: the name `dftgen.device.get` accepts.
        kind: "ipu", "cpu" or "gpu".
        description: one line for `dftgen device list`.
        tiles: independent processor tiles (IPU), each with its own SRAM.
        threads_per_tile: hardware worker threads per tile.
        sram_per_tile_bytes: SRAM of one tile, the only memory compute can address.
        clock_hz: tile clock.
        float32_flops_per_cycle_per_tile, float16_flops_per_cycle_per_tile: peak arithmetic.
        exchange_bytes_per_cycle_per_tile: what one tile sends (and receives) per cycle in
            the exchange phase.
        sync_seconds: latency of one chip-wide bulk-synchronous barrier.
        float64: whether the hardware has float64 arithmetic.
    """

    name: str
    kind: str
    description: str
    tiles: int = 0
    threads_per_tile: int = 0
    sram_per_tile_bytes: int = 0
    clock_hz: float = 0.0
    float32_flops_per_cycle_per_tile: int = 0
    float16_flops_per_cycle_per_tile: int = 0
    exchange_bytes_per_cycle_per_tile: int = 0
    sync_seconds: float = 0.0
    float64: bool = True

    @property
    def is_ipu(self) -> bool:
        return self.kind == "ipu"

    @property
    def sram_bytes(self) -> int:
        """All SRAM of one chip: 1,472 x 624 KiB = 940,572,672 bytes (the "900 MB")."""
        return self.tiles * self.sram_per_tile_bytes

    @property
    def float32_flops(self) -> float:
        """Peak float32 FLOP/s of one chip."""
        return self.tiles * self.float32_flops_per_cycle_per_tile * self.clock_hz

    @property
    def float16_flops(self) -> float:
        return self.tiles * self.float16_flops_per_cycle_per_tile * self.clock_hz

    @property
    def exchange_bytes_per_second(self) -> float:
        return self.tiles * self.exchange_bytes_per_cycle_per_tile * self.clock_hz

    def as_dict(self) -> dict:
        out = dataclasses.asdict(self)
        if self.is_ipu:
            out.update(sram_bytes=self.sram_bytes, float32_tflops=self.float32_flops / 1e12,
                       float16_tflops=self.float16_flops / 1e12,
                       exchange_tb_per_s=self.exchange_bytes_per_second / 1e12)
        return out


# The IPU tile: 1,472 tiles x 6 threads (8,832 threads), 624 KiB SRAM each (~900 MB per chip),
# identical in GC200 and Bow (Graphcore, "IPU-M2000 datasheet" and "Bow-2000 datasheet":
# 900 MB In-Processor-Memory per IPU, 3.6 GB per 4-IPU machine; 5,888 cores per 4 IPUs).
_IPU_TILE = dict(
    kind="ipu",
    tiles=1472,
    threads_per_tile=6,
    sram_per_tile_bytes=624 * KIB,
    # AMP units: 32 float32 / 128 float16 FLOP per cycle per tile, which reproduces the
    # datasheets' chip peaks: GC200 62.5 / 250 TFLOP/s at 1.33 GHz, Bow 87 / 350 at 1.85 GHz.
    float32_flops_per_cycle_per_tile=32,
    float16_flops_per_cycle_per_tile=128,
    # 32 bits per cycle per tile into the exchange: 1,472 x 4 B x 1.33 GHz = 7.8 TB/s, the
    # GC200's published ~8 TB/s all-to-all IPU-Exchange bandwidth.
    exchange_bytes_per_cycle_per_tile=4,
    float64=False,  # "float32 and float16 arithmetic only" (Graphcore IPU programmer's guide)
)

# One chip-wide barrier: Graphcore's gc-hostsynclatencytest documentation shows 4,095 syncs,
# each after 32 delays of 5 cycles (160 cycles of work), taking 1,485 us: 0.363 us per sync,
# minus 160 cycles at 1.33 GHz (0.120 us) leaves 0.243 us for the sync itself.
_SYNC_SECONDS = 1485e-6 / 4095 - 160 / 1.33e9

SPECS: dict[str, DeviceSpec] = {
    "ipu-gc200": DeviceSpec(
        name="ipu-gc200", description="Graphcore GC200 (Mk2) IPU, emulated",
        clock_hz=1.33e9,  # IPU-M2000 datasheet: GC200 at 1.33 GHz
        sync_seconds=_SYNC_SECONDS, **_IPU_TILE),
    "ipu-bow": DeviceSpec(
        name="ipu-bow", description="Graphcore Bow IPU (wafer-on-wafer GC200), emulated",
        clock_hz=1.85e9,  # Bow-2000 datasheet: Bow IPU at 1.85 GHz (GC200 core, faster clock)
        # the barrier is a fixed number of cycles: the GC200 figure scaled to the Bow clock
        sync_seconds=_SYNC_SECONDS * 1.33e9 / 1.85e9, **_IPU_TILE),
    "cpu": DeviceSpec(name="cpu", kind="cpu", description="JAX CPU backend (host devices)"),
    "gpu": DeviceSpec(name="gpu", kind="gpu", description="JAX GPU backend (CUDA/ROCm)"),
}


def spec(name: str) -> DeviceSpec:
    """The spec of a device name; raises ValueError naming the known ones."""
    if name not in SPECS:
        raise ValueError(f"unknown device {name!r}; choose from {sorted(SPECS)}")
    return SPECS[name]
