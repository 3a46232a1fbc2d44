"""CLI sub-commands `dftgen device list` and `dftgen device report`; `dftgen.cli` calls
`add_commands(subparsers)` to register them."""

from __future__ import annotations

import json

from dftgen.cli_args import add_molecule_arguments, add_preset_argument, molecule_from_args
from dftgen.device.specs import SPECS


def cmd_device_list(args) -> int:
    """List the devices `--device` accepts, with their specs."""
    if args.json:
        print(json.dumps([s.as_dict() for s in SPECS.values()]))
        return 0
    for s in SPECS.values():
        line = f"{s.name:<10s} {s.description}"
        if s.is_ipu:
            line += (f": {s.tiles} tiles x {s.threads_per_tile} threads, "
                     f"{s.sram_per_tile_bytes // 1024} KiB SRAM per tile ({s.sram_bytes / 1e6:.1f}"
                     f" MB), {s.clock_hz / 1e9:.2f} GHz, {s.float32_flops / 1e12:.1f} TFLOP/s "
                     f"float32, {s.float16_flops / 1e12:.0f} float16, float32 only")
        print(line)
    return 0


def cmd_device_report(args) -> int:
    """Whether a molecule fits an emulated IPU: memory model and XLA memory, tile map,
    estimated ms per conformer, compile-cache stats."""
    from dftgen.device.report import format_report, report

    mol = molecule_from_args(args)
    result = report(mol, device=args.device, preset=args.preset)
    print(json.dumps(result) if args.json else format_report(result))
    return 0


def add_commands(subparsers) -> None:
    """Register `device list` and `device report` on an argparse sub-parsers object."""
    device = subparsers.add_parser("device", help="emulated IPU devices: list, report",
                                   description="The simulated IPU device layer.")
    sub = device.add_subparsers(dest="device_command", metavar="DEVICE_COMMAND", required=True)
    p = sub.add_parser("list", help="devices and their specs", description=cmd_device_list.__doc__)
    p.add_argument("--json", action="store_true", help="print one JSON list")
    p.set_defaults(func=cmd_device_list)
    p = sub.add_parser("report", help="does a molecule fit an IPU, and at what cost",
                       description=cmd_device_report.__doc__)
    add_molecule_arguments(p)
    p.add_argument("--device", default="ipu-bow", choices=sorted(SPECS),
                   help="device to report on (default ipu-bow)")
    add_preset_argument(p)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_device_report)

