"""The compilation cache: a long-lived process near the kernel's limit on memory mappings
keeps compiling (the crash in put_executable_and_time), one directory per machine kind,
capped and locked, shared safely by concurrent processes, and `dftgen cache info | prune`."""

import json
import os
import subprocess
import sys
import time
import zlib

import jax
import pytest

from dftgen import compilation_cache
from dftgen.cli import main
from dftgen.data import provenance


@pytest.fixture()
def cache_root(tmp_path, monkeypatch):
    monkeypatch.setenv("DFTGEN_JAX_CACHE", str(tmp_path / "jax"))
    return tmp_path / "jax"


NEAR_THE_LIMIT = """
import mmap, sys
import jax, jax.numpy as jnp
import dftgen

jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)  # every program is written


def mappings():
    with open("/proc/self/maps", "rb") as f:
        return f.read().count(b"\\n")


@jax.jit  # held for the life of the process, as dftgen's programs are
def f(x):  # a few dozen kernels, each with its own mappings while its program is held
    for i in range(20):
        x = jnp.tanh(x) * (1.0 + i) - jnp.max(x, axis=0)
    return x


limit, headroom = int(open("/proc/sys/vm/max_map_count").read()), int(sys.argv[1])
before = mappings()
jax.block_until_ready(f(jnp.ones((2, 3))))
per = max(mappings() - before, 30)
keep = []  # stands for everything else a long-lived process maps
while (room := limit - headroom - mappings()) > 0:
    keep += [mmap.mmap(-1, 4096, prot=mmap.PROT_READ | (mmap.PROT_WRITE * (i % 2)))
             for i in range(len(keep), len(keep) + max(1, min(room // 2, 5000)))]
for n in range(3, 6 + headroom // per):  # more programs than the headroom can map
    jax.block_until_ready(f(jnp.ones((n, 3))))
print("ok", flush=True)
"""


@pytest.mark.skipif(not os.path.exists("/proc/sys/vm/max_map_count"), reason="Linux only")
def test_a_process_near_the_mapping_limit_keeps_compiling(cache_root):
    """A process holding nearly as many memory mappings as the kernel allows compiles and
    caches more programs: without the guard XLA cannot map the next program's kernels and
    the process dies in JAX's put_executable_and_time (executable.serialize) or in the
    compile itself; with it, JAX's in-memory caches are dropped before that."""
    limit = int(open("/proc/sys/vm/max_map_count").read())
    if limit > 1_000_000:
        pytest.skip(f"vm.max_map_count is {limit}: too many mappings to fill")
    headroom = 1200  # the filler stops this far below the limit; the guard clears 60% of it down
    env = dict(os.environ, DFTGEN_JAX_CLEAR_AT=str((limit - 0.6 * headroom) / limit),
               PYTHONFAULTHANDLER="1")
    p = subprocess.run([sys.executable, "-c", NEAR_THE_LIMIT, str(headroom)], env=env,
                       capture_output=True, text=True, timeout=600)
    assert p.returncode == 0 and p.stdout.strip() == "ok", (p.returncode, p.stderr[-3000:])


class _Held:
    """A stand-in for /proc/self/maps: `n` mappings, `freed` of them dropped by a clear."""

    def __init__(self, n, freed):
        self.n, self.freed, self.clears = n, freed, 0

    def clear(self):
        self.clears += 1
        self.n -= self.freed


def test_guard_clears_above_its_threshold_only(monkeypatch):
    held = _Held(400, freed=400)
    monkeypatch.setattr(compilation_cache, "mappings", lambda: held.n)
    monkeypatch.setattr(jax, "clear_caches", held.clear)
    monkeypatch.setattr(compilation_cache.MappingGuard, "PER_PROGRAM", 50)
    guard = compilation_cache.MappingGuard(limit=1000, fraction=0.5)
    guard(compilation_cache.COMPILE_EVENT, 0.0)
    guard("/jax/some/other/event", 0.0)
    assert (held.clears, guard.unchecked) == (0, 2)  # 100 below the threshold: 2 programs' room
    held.n = 600
    guard("/jax/some/other/event", 0.0)
    guard(compilation_cache.COMPILE_EVENT, 0.0)
    guard(compilation_cache.COMPILE_EVENT, 0.0)
    assert held.clears == 0
    guard(compilation_cache.COMPILE_EVENT, 0.0)
    assert (held.clears, held.n, guard.threshold) == (1, 200, 500)
    # most mappings held elsewhere: the next clear waits for half the room left
    held.n, held.freed = 700, 10
    guard(compilation_cache.COMPILE_EVENT, 0.0)
    assert (held.clears, guard.threshold) == (2, 690 + 310 // 2)
    guard(compilation_cache.COMPILE_EVENT, 0.0)
    assert held.clears == 2


def test_the_guard_and_the_cap_are_on_in_pipeline_workers(cache_root, monkeypatch):
    """What a worker process started with `worker_env` gets on importing dftgen: the cap
    (JAX then locks every read and write) and the mapping guard."""
    from dftgen.pipeline.cluster import worker_env

    probe = ("import jax, dftgen; g = dftgen.compilation_cache._guard; "
             "print(jax.config.jax_compilation_cache_max_size, g and g.threshold)")
    env = dict(os.environ, **worker_env())
    env.pop("DFTGEN_JAX_CLEAR_AT", None)
    env.pop("DFTGEN_JAX_CACHE_MAX_GB", None)
    out = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True,
                         text=True, timeout=120, check=True).stdout.split()
    limit = compilation_cache.map_limit()
    assert out == [str(2 * 2**30), str(limit // 2 if limit else None)]
    for bad in ("two", "1.5"):
        monkeypatch.setenv("DFTGEN_JAX_CLEAR_AT", bad)
        with pytest.raises(ValueError, match="DFTGEN_JAX_CLEAR_AT"):
            compilation_cache.clear_at()
    monkeypatch.setenv("DFTGEN_JAX_CLEAR_AT", "off")
    assert compilation_cache.clear_at() is None


def test_another_cpu_kind_gets_another_directory(cache_root, monkeypatch):
    here = compilation_cache.directory()
    assert here.parent == cache_root and len(here.name) == 12
    model, flags = provenance.cpu()
    monkeypatch.setattr(provenance, "cpu", lambda: (model, flags - {"avx512f"} | {"not-here"}))
    assert compilation_cache.directory() != here
    monkeypatch.setattr(provenance, "cpu", lambda: ("another CPU", flags))
    assert compilation_cache.directory() != here


def test_enable_caps_the_cache_so_jax_locks_it(cache_root, monkeypatch):
    monkeypatch.setenv("DFTGEN_JAX_CACHE_MAX_GB", "0.5")
    before = jax.config.jax_compilation_cache_dir, jax.config.jax_compilation_cache_max_size
    try:
        path = compilation_cache.enable()
        assert jax.config.jax_compilation_cache_dir == str(path) and path.is_dir()
        assert jax.config.jax_compilation_cache_max_size == 2**29
    finally:
        jax.config.update("jax_compilation_cache_dir", before[0])
        jax.config.update("jax_compilation_cache_max_size", before[1])
    monkeypatch.setenv("DFTGEN_JAX_CACHE_MAX_GB", "lots")
    with pytest.raises(ValueError, match="DFTGEN_JAX_CACHE_MAX_GB='lots'"):
        compilation_cache.max_bytes()


WRITER = """
import sys, jax, jax.numpy as jnp
import dftgen
jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)
for n in range(8, 8 + int(sys.argv[1])):   # the same shapes in every process
    jax.block_until_ready(jax.jit(lambda x: jnp.sin(x) @ x.T + jnp.cumsum(x, 0))(jnp.ones((n, n))))
print("ok")
"""


@pytest.mark.slow  # eight processes importing dftgen
def test_processes_writing_one_directory_at_once_leave_it_whole(cache_root):
    """Four processes compile and write the same shapes into one fresh directory at once,
    then four more read them back: all finish, and every entry is a whole zlib stream."""
    for _ in range(2):
        procs = [subprocess.Popen([sys.executable, "-c", WRITER, "12"], stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True, env=dict(os.environ))
                 for _ in range(4)]
        for p in procs:
            out, err = p.communicate(timeout=300)
            assert p.returncode == 0 and out.strip() == "ok", err
    found = compilation_cache.entries(cache_root)
    assert len(found) >= 12
    for e in found:
        zlib.decompress(e.path.read_bytes())  # a torn write would not decompress
    assert (compilation_cache.directory() / ".lockfile").exists()


COUNTER = """
import jax, jax.numpy as jnp
from dftgen import compilation_cache
before = compilation_cache.programs()
for n in (3, 4):
    jax.block_until_ready(jax.jit(lambda x: jnp.sin(x) @ x.T)(jnp.ones((n, n))))
jax.block_until_ready(jnp.ones(5) * 2.0)  # an eager op: a small program of its own
now = compilation_cache.programs() - before
print(now.compiled, now.from_cache)
"""


def test_programs_counts_compiles_and_cache_hits(cache_root):
    """A fresh cache: every program is compiled and written, the small ones too; a second
    process compiles none of them and reads them all back."""
    runs = [subprocess.run([sys.executable, "-c", COUNTER], env=dict(os.environ), text=True,
                           capture_output=True, timeout=300, check=True).stdout.split()
            for _ in range(2)]
    compiled, from_cache = (int(n) for n in runs[0])
    assert compiled >= 3 and from_cache == 0
    assert [int(n) for n in runs[1]] == [0, compiled]


def _fake_entry(directory, name, size, days_ago):
    directory.mkdir(parents=True, exist_ok=True)
    (directory / f"{name}-cache").write_bytes(b"x" * size)
    used = int((time.time() - days_ago * 86400) * 1e9)
    (directory / f"{name}-atime").write_bytes(used.to_bytes(8, "little"))


def test_info_and_prune(cache_root, capsys):
    _fake_entry(cache_root / "aaaaaaaaaaaa", "old", 3000, days_ago=40)
    _fake_entry(cache_root / "aaaaaaaaaaaa", "mid", 2000, days_ago=5)
    _fake_entry(cache_root / "bbbbbbbbbbbb", "new", 1000, days_ago=0)
    _fake_entry(cache_root, "legacy", 500, days_ago=1)
    assert main(["cache", "info", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["entries"] == 4 and report["bytes"] == 6500
    assert report["machine_kinds"]["(unkeyed: older dftgen)"] == {"entries": 1, "bytes": 500}
    assert report["map_limit"] == compilation_cache.map_limit()
    assert main(["cache", "info"]) == 0 and "in-memory programs" in capsys.readouterr().out
    assert main(["cache", "prune", "--older-than", "30"]) == 0
    assert [e.path.name for e in compilation_cache.entries()] == ["mid-cache", "legacy-cache", "new-cache"]
    assert not (cache_root / "aaaaaaaaaaaa" / "old-atime").exists()
    assert compilation_cache.prune(max_gb=1200 / 2**30) == (2, 2500)
    assert [e.path.name for e in compilation_cache.entries()] == ["new-cache"]
    assert main(["cache", "prune"]) == 2
    assert "--max-gb" in capsys.readouterr().err


def test_worker_env_carries_the_cap_and_the_guard(monkeypatch, tmp_path):
    from dftgen.pipeline.cluster import worker_env

    monkeypatch.setenv("DFTGEN_JAX_CACHE_MAX_GB", "0.25")
    monkeypatch.setenv("DFTGEN_JAX_CLEAR_AT", "0.3")
    env = worker_env(cache_dir=tmp_path)
    assert env["DFTGEN_JAX_CACHE_MAX_GB"] == "0.25" and env["DFTGEN_JAX_CLEAR_AT"] == "0.3"
