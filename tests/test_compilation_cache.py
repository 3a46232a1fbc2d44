"""The persistent compilation cache: one directory per machine kind (an executable compiled
for one CPU is never loaded on another), capped and locked, shared safely by concurrent
processes, and `dftgen cache info | prune`."""

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
    assert main(["cache", "prune", "--older-than", "30"]) == 0
    assert [e.path.name for e in compilation_cache.entries()] == ["mid-cache", "legacy-cache", "new-cache"]
    assert not (cache_root / "aaaaaaaaaaaa" / "old-atime").exists()
    assert compilation_cache.prune(max_gb=1200 / 2**30) == (2, 2500)
    assert [e.path.name for e in compilation_cache.entries()] == ["new-cache"]
    assert main(["cache", "prune"]) == 2
    assert "--max-gb" in capsys.readouterr().err
