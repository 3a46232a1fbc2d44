"""Compiled programs keyed before tracing (`dftgen.executables`): a fresh process reads them
back without tracing, runs them to the same bits, and anything the key cannot name goes to
plain jax.jit."""

import dataclasses
import functools
import logging
import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dftgen import compilation_cache, executables
from dftgen.presets import Settings

SCRIPT = """
import hashlib, sys
import numpy as np
import jax
from dftgen import compilation_cache, executables
from dftgen.grids import becke
from dftgen.scf.iterations import orthogonaliser

executables._prepare_runtime()  # its own small trace, made by readers only
traces = []
jax.monitoring.register_event_duration_secs_listener(
    lambda event, seconds, **kw: traces.append(event)
    if event == "/jax/core/compile/jaxpr_trace_duration" else None)
before = compilation_cache.programs()
rng = np.random.default_rng(0)
a = rng.normal(size=(6, 6))
x = np.asarray(orthogonaliser(a @ a.T + 6 * np.eye(6)))
cells = np.asarray(becke.cell_functions(rng.normal(size=(50, 3)), rng.normal(size=(3, 3)),
                                        np.zeros((3, 3))))
got = compilation_cache.programs() - before
digest = hashlib.sha256(x.tobytes() + cells.tobytes()).hexdigest()
print(len(traces), got.compiled, got.from_cache, digest)
"""


def _fresh_process(cache) -> list[str]:
    env = dict(os.environ, DFTGEN_JAX_CACHE=str(cache))
    out = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True,
                         text=True, check=True)
    return out.stdout.split()


def test_a_fresh_process_reads_its_programs_back_without_tracing(tmp_path):
    """The second process traces nothing, loads both programs (one a LAPACK Cholesky, whose
    kernels need SciPy's pointers set first) and gets the same bits."""
    traced, compiled, _, first = _fresh_process(tmp_path)
    assert int(traced) >= 2 and int(compiled) >= 2
    traced, compiled, from_cache, second = _fresh_process(tmp_path)
    assert (int(traced), int(compiled), int(from_cache)) == (0, 0, 2)
    assert second == first
    stored = [p for p in tmp_path.rglob(f"{executables.PREFIX}*{compilation_cache.ENTRY_SUFFIX}")]
    assert len(stored) == 2  # and nothing of them in JAX's own entries (`_compile_fresh`)
    assert not [p for p in tmp_path.rglob("jit_orthogonaliser*")]


@pytest.fixture
def cache_dir(tmp_path):
    """This process's programs stored under tmp_path for one test (JAX's own cache stays)."""
    before = jax.config.jax_compilation_cache_dir
    jax.config.update("jax_compilation_cache_dir", str(tmp_path))
    executables.clear()
    yield tmp_path
    jax.config.update("jax_compilation_cache_dir", before)
    executables.clear()


@executables.jit(static_argnums=1)
def _scaled_sum(x, power: int):
    return jnp.sum(x ** power)


def test_a_damaged_entry_is_compiled_again_and_replaced(cache_dir, caplog):
    x = np.arange(5.0)
    assert float(_scaled_sum(x, 2)) == 30.0
    (entry,) = cache_dir.glob(f"{executables.PREFIX}*{compilation_cache.ENTRY_SUFFIX}")
    entry.write_bytes(b"not a program")
    executables.clear()
    with caplog.at_level(logging.WARNING, logger="dftgen.executables"):
        assert float(_scaled_sum(x, 2)) == 30.0
    assert "could not be loaded" in caplog.text
    executables.clear()
    before = compilation_cache.programs()
    assert float(_scaled_sum(x, 2)) == 30.0
    assert compilation_cache.programs() - before == compilation_cache.Programs(0, 1)


def test_each_static_value_and_shape_has_its_own_program(cache_dir):
    assert float(_scaled_sum(np.arange(5.0), 3)) == 100.0
    assert float(_scaled_sum(np.arange(4.0), 3)) == 36.0
    assert float(_scaled_sum(np.arange(4, dtype=np.float32), 3)) == 36.0
    assert len(list(cache_dir.glob(f"*{compilation_cache.ENTRY_SUFFIX}"))) == 3


def test_traced_arguments_go_to_plain_jit(cache_dir):
    """grad and vmap through a stored program trace it as jax.jit would; nothing is stored."""
    x = np.arange(1.0, 4.0)
    assert np.allclose(jax.grad(_scaled_sum)(x, 2), 2 * x)
    assert np.allclose(jax.vmap(_scaled_sum, in_axes=(0, None))(np.stack([x, x]), 2), 14.0)
    assert not list(cache_dir.glob(f"{executables.PREFIX}*"))  # (JAX may write its own)


@dataclasses.dataclass(frozen=True)
class _Options:
    name: str
    sizes: tuple


def test_programs_compiled_on_threads_leave_nothing_in_jax_cache(cache_dir):
    """Threads compiling side by side (`dftgen.threads`): each program stored once by this
    module, none in JAX's own entries (whose executables would serialize without their
    kernels), and JAX's write threshold restored when the last one is done."""
    from concurrent.futures import ThreadPoolExecutor

    before = jax.config.jax_persistent_cache_min_compile_time_secs
    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(lambda n: float(_scaled_sum(np.arange(float(n)), 2)), range(3, 11)))
    assert got == [sum(k * k for k in range(n)) for n in range(3, 11)]
    assert jax.config.jax_persistent_cache_min_compile_time_secs == before
    assert len(list(cache_dir.glob(f"{executables.PREFIX}*{compilation_cache.ENTRY_SUFFIX}"))) == 8
    assert not [p for p in cache_dir.glob(f"*{compilation_cache.ENTRY_SUFFIX}")
                if not p.name.startswith(executables.PREFIX)]


def test_static_text_names_every_field_and_refuses_what_it_cannot_name():
    text = executables.static_text
    assert text(_Options("a", (1, 2.5))) != text(_Options("a", (1, 2.25)))
    qm1b = Settings()
    assert text(qm1b) != text(dataclasses.replace(qm1b, conv_tol=1e-8))
    assert text(np.arange(3.0)) != text(np.arange(3.0) + 1e-15)
    for unnamed in (lambda v: v, functools.partial(np.sum, axis=0), object()):
        with pytest.raises(executables._NotKeyed):
            text(unnamed)


def test_a_key_follows_the_sources_its_module_imports_and_no_other(tmp_path):
    """pkg.a imports pkg.b inside a function, pkg.b imports pkg.sub.c; pkg.d stands alone."""
    (tmp_path / "sub").mkdir()
    (tmp_path / "__init__.py").write_text("")
    (tmp_path / "a.py").write_text("def f():\n    from pkg import b as bee\n    return bee.g()\n")
    (tmp_path / "b.py").write_text("from pkg.sub.c import (h,\n    k)\ndef g():\n    return h()\n")
    (tmp_path / "sub" / "c.py").write_text("def h():\n    return 1\nk = 2\n")
    (tmp_path / "d.py").write_text("import os\n")
    graph = executables.import_graph(tmp_path, "pkg")
    assert graph["pkg.a"][1] == {"pkg.b"} and graph["pkg.b"][1] == {"pkg.sub.c"}
    first = {m: executables.closure_hash(graph, m) for m in ("pkg.a", "pkg.d")}
    (tmp_path / "d.py").write_text("import sys\n")
    assert executables.closure_hash(graph, "pkg.a") == first["pkg.a"]
    assert executables.closure_hash(graph, "pkg.d") != first["pkg.d"]
    (tmp_path / "sub" / "c.py").write_text("def h():\n    return 2\nk = 2\n")
    assert executables.closure_hash(graph, "pkg.a") != first["pkg.a"]


def test_the_kernel_does_not_depend_on_the_pipeline():
    """Editing the pipeline, the CLI or the trainers keeps every compiled SCF program."""
    graph = executables._dftgen_graph()
    seen, todo = set(), ["dftgen.scf.iterations", "dftgen.integrals.eri_stepwise"]
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo.extend(graph[name][1])
    assert "dftgen.xc.vxc" in seen and "dftgen.integrals.eri" in seen
    assert not [m for m in seen if m.startswith(("dftgen.pipeline", "dftgen.train", "dftgen.cli"))]


def test_stored_programs_keep_the_directory_within_its_cap(cache_dir, monkeypatch):
    """The least recently used entries go once the directory passes DFTGEN_JAX_CACHE_MAX_GB."""
    x = np.arange(3.0)
    _scaled_sum(x, 2)
    (first,) = cache_dir.glob(f"*{compilation_cache.ENTRY_SUFFIX}")
    monkeypatch.setenv(compilation_cache.MAX_GB_ENV, str(1.5 * first.stat().st_size / 2**30))
    _scaled_sum(x, 3)
    (kept,) = cache_dir.glob(f"*{compilation_cache.ENTRY_SUFFIX}")
    assert kept != first
