"""dftgen's XLA:CPU flags: added on import, never overriding the user's."""

import os
import subprocess
import sys

from dftgen import xla_flags


def test_flags_are_appended_to_what_is_set(monkeypatch):
    monkeypatch.delenv("XLA_FLAGS", raising=False)
    monkeypatch.delenv(xla_flags.SWITCH, raising=False)
    assert xla_flags.with_flags("") == "--xla_cpu_prefer_vector_width=512"
    assert xla_flags.with_flags(" --xla_cpu_multi_thread_eigen=false ").split() == [
        "--xla_cpu_multi_thread_eigen=false", "--xla_cpu_prefer_vector_width=512"]


def test_a_flag_the_user_set_wins(monkeypatch):
    monkeypatch.delenv("XLA_FLAGS", raising=False)
    mine = "--xla_cpu_prefer_vector_width=256 --xla_cpu_multi_thread_eigen=false"
    assert xla_flags.with_flags(mine) == mine


def test_workers_get_the_flags_as_the_user_chose_them(monkeypatch):
    from dftgen.pipeline.cluster import worker_env

    monkeypatch.setenv("XLA_FLAGS", "--xla_cpu_prefer_vector_width=256")
    assert worker_env()["XLA_FLAGS"].split() == ["--xla_cpu_multi_thread_eigen=false",
                                                 "--xla_cpu_prefer_vector_width=256"]
    monkeypatch.setenv(xla_flags.SWITCH, "off")
    assert worker_env()["XLA_FLAGS"] == "--xla_cpu_multi_thread_eigen=false"


def _flags_after_import(**env) -> str:
    code = "import os, dftgen; print(os.environ.get('XLA_FLAGS', '<unset>'))"
    environ = {k: v for k, v in os.environ.items() if k not in ("XLA_FLAGS", xla_flags.SWITCH)}
    out = subprocess.run([sys.executable, "-c", code], env={**environ, **env},
                         capture_output=True, text=True, check=True)
    return out.stdout.strip()


def test_importing_dftgen_sets_the_flags_unless_switched_off():
    assert _flags_after_import() == "--xla_cpu_prefer_vector_width=512"
    assert _flags_after_import(XLA_FLAGS="--xla_cpu_multi_thread_eigen=false").split() == [
        "--xla_cpu_multi_thread_eigen=false", "--xla_cpu_prefer_vector_width=512"]
    assert _flags_after_import(DFTGEN_XLA_FLAGS="off") == "<unset>"
