"""CLI sub-commands `dftgen cache info` and `dftgen cache prune`: JAX's persistent
compilation cache as dftgen keeps it (`dftgen.compilation_cache`)."""

from __future__ import annotations

import datetime
import json


def cache_info(args) -> int:
    """Where the compilation cache is, how large, how many entries, the least recently used."""
    from dftgen import compilation_cache

    report = compilation_cache.info()
    if args.json:
        print(json.dumps(report))
        return 0
    oldest = report["oldest_unix"]
    rows = [("root", report["root"] or "off (DFTGEN_JAX_CACHE=off)"),
            ("this machine kind", report["directory"]),
            ("entries", report["entries"]),
            ("size", f"{report['bytes'] / 2**30:.3f} GB (cap "
                     f"{report['max_bytes_per_directory'] / 2**30:g} GB per machine kind)"),
            ("least recently used", "-" if oldest is None else
             datetime.datetime.fromtimestamp(oldest).isoformat(timespec="seconds")),
            ("in-memory programs", "kept" if report["clear_at_fraction"] is None
             or report["map_limit"] is None else
             f"dropped above {int(report['clear_at_fraction'] * report['map_limit'])} memory "
             f"mappings (vm.max_map_count {report['map_limit']})")]
    rows += [(f"  {kind}", f"{v['entries']} entries, {v['bytes'] / 2**30:.3f} GB")
             for kind, v in sorted(report["machine_kinds"].items())]
    width = max(len(k) for k, _ in rows)
    print("\n".join(f"{k:<{width}}  {v}" for k, v in rows))
    return 0


def cache_prune(args) -> int:
    """Remove compiled programs: those last used more than --older-than days ago, then the
    least recently used until the cache holds at most --max-gb."""
    from dftgen import compilation_cache

    if args.max_gb is None and args.older_than is None:
        raise ValueError("say what to prune: --max-gb N and/or --older-than DAYS")
    removed, freed = compilation_cache.prune(args.max_gb, args.older_than)
    print(f"removed {removed} entries, {freed / 2**30:.3f} GB")
    return 0


def add_commands(subparsers) -> None:
    """Register `cache info` and `cache prune` on the `dftgen` sub-parsers."""
    cache = subparsers.add_parser("cache", help="JAX's compilation cache: info, prune",
                                  description="Compiled programs kept between runs.")
    sub = cache.add_subparsers(dest="cache_command", metavar="CACHE_COMMAND", required=True)
    p = sub.add_parser("info", help="where, how large, how many entries",
                       description=cache_info.__doc__)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cache_info)
    p = sub.add_parser("prune", help="remove old or least recently used entries",
                       description=cache_prune.__doc__)
    p.add_argument("--max-gb", type=float, help="keep at most this many GB, most recently used")
    p.add_argument("--older-than", type=float, metavar="DAYS",
                   help="remove entries not used for this many days")
    p.set_defaults(func=cache_prune)
