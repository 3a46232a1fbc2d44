"""Compiled programs that a fresh process reads back without tracing or lowering them.

JAX's persistent cache (`compilation_cache`) is keyed by the lowered program, so a process
traces and lowers a function before it can look the function up: for the ~70 programs of one
QM1B molecule that is ~5 s on one core, ten times its SCF. `jit` keys a program instead by
what decides it, known before any tracing: the function's name, its static arguments
(`static_text`), the tree structure, shapes and dtypes of the others, JAX's x64 mode, the
device kind and a hash of the source of its module and every dftgen module that one imports
(`source_hash`: an edit elsewhere in dftgen keeps the program). The serialized executable sits in JAX's cache
directory (named for the CPU kind, JAX's version and the XLA flags:
`compilation_cache.fingerprint`) in JAX's entry format (`<key>-cache` beside `<key>-atime`),
so the size cap, `dftgen cache info` and `dftgen cache prune` treat both kinds of entry
alike.

What the key cannot name goes to the plain `jax.jit` function: a traced argument (inside
another jit, grad or vmap), a keyword the signature cannot place, an argument that is not an
array or Python number, an array on another device than the one the call runs on, a static argument
without `static_text`, and every call while JAX's cache is off or `jax.default_device` names
a platform instead of a device. An executable is loaded once per device it runs on.
A program compiled here is compiled by XLA (`_compile_fresh`) and stored here only, not in
JAX's cache.
"""

from __future__ import annotations

import collections
import dataclasses
import functools
import hashlib
import inspect
import io
import logging
import pickle
import re
import threading
import weakref
import zlib
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from jax._src.lib import xla_client
from jax.experimental import serialize_executable

from dftgen import compilation_cache
from dftgen.atomic_files import atomic_path

PREFIX = "dftgen-"  # beside JAX's "jit_<name>-<hash>" entries
logger = logging.getLogger(__name__)


class _NotKeyed(Exception):
    """An argument this layer cannot key: the call goes to the plain jitted function."""


def _leaf_type(x, device):
    """What a compiled program depends on of one argument leaf: shape, dtype, weak type; a
    JAX array elsewhere than on `device` (the default one; None: the only one) is not
    keyed."""
    if isinstance(x, jax.core.Tracer):
        raise _NotKeyed
    if isinstance(x, jax.Array):
        if device is not None and x.sharding.device_set != {device}:
            raise _NotKeyed
        return x.shape, x.dtype, x.weak_type
    if isinstance(x, (np.ndarray, np.generic)):
        return x.shape, x.dtype, False
    if isinstance(x, (bool, int, float, complex)):
        return type(x).__name__
    raise _NotKeyed


def static_text(x) -> str:
    """Text that names a static argument (or a pytree node's static data) completely, so
    equal texts mean equal programs; _NotKeyed for what it cannot name so: objects without
    a known structure, closures, lambdas. An object built from plain data names that data
    in a `static_key` attribute."""
    if x is None or isinstance(x, (bool, int, float, complex, str, bytes)):
        return repr(x)
    if isinstance(x, np.dtype):
        return f"dtype({x.str})"
    if isinstance(x, (np.ndarray, np.generic)):
        digest = hashlib.sha256(np.ascontiguousarray(x).tobytes()).hexdigest()
        return f"array({x.dtype.str}, {x.shape}, {digest})"
    name = f"{type(x).__module__}.{type(x).__qualname__}"
    if hasattr(x, "static_key"):
        return f"{name}({static_text(x.static_key)})"
    if dataclasses.is_dataclass(x) and not isinstance(x, type):
        fields = (f"{f.name}={static_text(getattr(x, f.name))}" for f in dataclasses.fields(x))
        return f"{name}({', '.join(fields)})"
    if isinstance(x, (tuple, list)):
        return f"{name}({', '.join(static_text(v) for v in x)})"
    if isinstance(x, (frozenset, set)):
        return f"{name}({', '.join(sorted(static_text(v) for v in x))})"
    if isinstance(x, dict):
        return f"{name}({', '.join(sorted(f'{static_text(k)}: {static_text(v)}' for k, v in x.items()))})"
    if (inspect.isfunction(x) and x.__closure__ is None and "<" not in x.__qualname__
            and x.__module__.split(".")[0] == "dftgen"):
        return f"function {x.__module__}.{x.__qualname__} {source_hash(x.__module__)}"
    raise _NotKeyed


def tree_text(tree) -> str:
    """`static_text` of a pytree structure: every node's type and static data."""
    data = tree.node_data()
    if data is None:
        return "*"
    kind, aux = data
    children = ", ".join(tree_text(child) for child in tree.children())
    return f"{kind.__module__}.{kind.__qualname__}[{static_text(aux)}]({children})"


_IMPORT = re.compile(r"^\s*(?:from\s+([\w.]+)\s+import\s+(\([^)]*\)|[^\n]+)|import\s+([\w., ]+))",
                     re.M)


def import_graph(package: Path, prefix: str) -> dict[str, tuple[Path, set[str]]]:
    """Each module of a package (dotted name under `prefix`) -> its file and the package's
    modules its source imports anywhere (function bodies too); `from pkg import name`
    counts as pkg.name where that is a module, else as pkg."""
    files = {}
    for path in sorted(package.rglob("*.py")):
        parts = path.relative_to(package).with_suffix("").parts
        parts = parts[:-1] if parts[-1] == "__init__" else parts
        files[".".join((prefix, *parts))] = path
    graph = {}
    for name, path in files.items():
        found = set()
        for source, names, plain in _IMPORT.findall(path.read_text()):
            if plain:
                found.update(m.split(" as ")[0].strip() for m in plain.split(","))
            for item in names.strip("()").split(","):
                item = item.split(" as ")[0].strip()
                found.add(f"{source}.{item}" if f"{source}.{item}" in files else source)
        graph[name] = (path, found & files.keys())
    return graph


def closure_hash(graph: dict[str, tuple[Path, set[str]]], module: str) -> str:
    """sha256 of the names and sources of `module` and every module it imports, directly or
    through others (empty for a module outside the graph)."""
    seen, todo = set(), [module]
    while todo:
        name = todo.pop()
        if name in seen or name not in graph:
            continue
        seen.add(name)
        todo.extend(graph[name][1])
    digest = hashlib.sha256()
    for name in sorted(seen):
        digest.update(name.encode() + b"\0" + graph[name][0].read_bytes())
    return digest.hexdigest()


@functools.cache
def source_hash(module: str) -> str:
    """`closure_hash` of a dftgen module: a program's key changes with its module's source
    and with that of every dftgen module it imports, and with no other edit."""
    return closure_hash(_dftgen_graph(), module)


@functools.cache
def _dftgen_graph():
    return import_graph(Path(__file__).parent, "dftgen")


def _cache_directory() -> Path | None:
    """The directory JAX's persistent cache writes to now, or None when it is off."""
    path = jax.config.jax_compilation_cache_dir
    return Path(path) if path and jax.config.jax_enable_compilation_cache else None


_programs: weakref.WeakSet = weakref.WeakSet()


def clear() -> None:
    """Drop every executable this process holds in memory (the disk entries stay)."""
    for program in list(_programs):
        program.loaded.clear()


compilation_cache.on_clear(clear)


class Program:
    """A `jax.jit` function whose executables are keyed and stored by this module; called as
    the function it wraps."""

    def __init__(self, fun, static_argnums=(), static_argnames=(), name: str | None = None,
                 context=()):
        try:
            self.signature = inspect.signature(fun)
        except (TypeError, ValueError):
            self.signature = None
        names = list(self.signature.parameters) if self.signature else []
        kinds = [p.kind for p in self.signature.parameters.values()] if self.signature else []
        plain = all(k is inspect.Parameter.POSITIONAL_OR_KEYWORD for k in kinds)
        self.positional_count = len(kinds) if self.signature and plain else -1
        if isinstance(static_argnums, int):
            static_argnums = (static_argnums,)
        if isinstance(static_argnames, str):
            static_argnames = (static_argnames,)
        # by position too: arguments arrive here by position, and lower() must know them
        self.static = frozenset(static_argnums) | {names.index(n) for n in static_argnames}
        self.jitted = jax.jit(fun, static_argnums=tuple(sorted(self.static)),
                              static_argnames=static_argnames)
        self.name = name or f"{fun.__module__}.{fun.__qualname__}"
        self.module = fun.__module__ if name is None else name.rsplit(".", 1)[0]
        self.context = context  # what a closure bound, where `fun` is one
        self.loaded: dict = {}
        functools.update_wrapper(self, fun)
        _programs.add(self)

    def __call__(self, *args, **kwargs):
        device = _default_device()  # where jit runs uncommitted arguments
        if _cache_directory() is None or device is None:
            return self.jitted(*args, **kwargs)
        try:
            positional = self._positional(args, kwargs)
            dynamic = tuple(a for i, a in enumerate(positional) if i not in self.static)
            static = tuple(positional[i] for i in sorted(self.static) if i < len(positional))
            leaves, tree = jax.tree.flatten(dynamic)
            only = None if jax.device_count() == 1 else device  # one device: no check per leaf
            key = (tree, tuple(_leaf_type(x, only) for x in leaves), static,
                   jax.config.jax_enable_x64, device)
        except _NotKeyed:
            return self.jitted(*args, **kwargs)
        compiled = self.loaded.get(key)
        if compiled is None:
            compiled = self.loaded[key] = self._load_or_compile(key, positional, device)
            if compiled is None:
                del self.loaded[key]
                return self.jitted(*args, **kwargs)
        return compiled(*dynamic)

    def lower(self, *args, **kwargs):
        """`jax.jit`'s lower: the traced program, for a caller that compiles it itself."""
        return self.jitted.lower(*args, **kwargs)

    def cache_size(self) -> int:
        """Executables held in memory: read or compiled here, and compiled by plain jit."""
        return len(self.loaded) + self.jitted._cache_size()

    def _positional(self, args, kwargs) -> tuple:
        """Every argument by position, defaults filled in; keyword-only ones are left to the
        function (a `functools.partial`'s bound keywords: its `context`)."""
        if not kwargs and len(args) == self.positional_count:
            return args  # the common call: every parameter by position, no defaults to fill
        if self.signature is None:
            if kwargs:
                raise _NotKeyed
            return args
        try:
            bound = self.signature.bind(*args, **kwargs)
        except TypeError:
            raise _NotKeyed from None
        if any(self.signature.parameters[n].kind is inspect.Parameter.KEYWORD_ONLY
               for n in bound.arguments):
            raise _NotKeyed  # a keyword-only default belongs to the function (its context)
        bound.apply_defaults()
        return bound.args

    def _load_or_compile(self, key, positional, device):
        """The executable of `key`, from disk where an entry is there, else compiled and
        written; None where an argument has no `static_text`."""
        try:
            text = repr((self.name, static_text(self.context), static_text(key[2]),
                         tree_text(key[0]), key[1], key[3], device.platform,
                         device.device_kind, device.client.platform_version))
        except _NotKeyed:
            return None
        digest = hashlib.sha256((text + source_hash(self.module)).encode()).hexdigest()
        path = _cache_directory() / f"{PREFIX}{self.name.rsplit('.', 1)[-1]}-{digest}"
        with _entry_lock(path):  # another thread's compile of it is read back, not repeated
            compilation_cache.before_program()
            compiled = _read(path, device)
            if compiled is not None:
                compilation_cache.record_hit()
                return compiled
            compiled = _compile_fresh(self.jitted.lower(*positional))
            _write(path, compiled)
            return compiled


def _default_device():
    """The device a call runs on: `jax.default_device`'s where this thread set one (None
    where that names a platform, not a device), else JAX's first."""
    device = jax.config.jax_default_device
    if device is None:
        return jax.devices()[0]
    return device if isinstance(device, jax.Device) else None


_entry_locks: dict[Path, threading.Lock] = {}
_entry_locks_lock = threading.Lock()


def _entry_lock(path: Path) -> threading.Lock:
    """One lock per stored entry: threads on different devices wanting one program take turns."""
    with _entry_locks_lock:
        return _entry_locks.setdefault(path, threading.Lock())


#: an option with no effect on the program that gives it a JAX cache key of its own
_OWN_KEY = {"xla_embed_ir_in_executable": False}


class _NoPersistentWrites:
    """While any thread is inside it, JAX writes nothing to its persistent cache
    (min_compile_time infinite: one process-wide setting, restored when the last leaves)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._inside = 0
        self._before = None

    def __enter__(self):
        with self._lock:
            if self._inside == 0:
                self._before = jax.config.jax_persistent_cache_min_compile_time_secs
                jax.config.update("jax_persistent_cache_min_compile_time_secs", float("inf"))
            self._inside += 1

    def __exit__(self, *exc):
        with self._lock:
            self._inside -= 1
            if self._inside == 0:
                jax.config.update("jax_persistent_cache_min_compile_time_secs", self._before)


_no_persistent_writes = _NoPersistentWrites()


def _compile_fresh(lowered):
    """Compile with XLA, never from JAX's persistent cache: an executable JAX read from its
    cache serializes without its kernels (a later process loads it and fails with "Function
    ... not found"). Under `_OWN_KEY` JAX finds no entry, and it writes none while any thread
    compiles here (`_NoPersistentWrites`: threads compile side by side, `dftgen.threads`)."""
    with _no_persistent_writes:
        return lowered.compile(compiler_options=_OWN_KEY)


@functools.cache
def _prepare_runtime() -> None:
    """XLA:CPU's LAPACK kernels take their function pointers from SciPy when JAX first lowers
    a linear-algebra operation: an executable read back without lowering needs them set."""
    try:  # JAX's own hook, where this version has it: lowering a program costs ~0.1 s more
        from jax._src.lax.linalg import initialize_lapack
    except ImportError:
        jax.jit(jnp.linalg.cholesky).lower(np.eye(1))
    else:
        initialize_lapack()


def _read(path: Path, device):
    """The executable stored at path, or None where there is none or it cannot be loaded."""
    entry = path.with_name(path.name + compilation_cache.ENTRY_SUFFIX)
    try:
        blob = entry.read_bytes()
    except FileNotFoundError:
        return None
    _prepare_runtime()
    try:
        compiled = _load(*pickle.loads(zlib.decompress(blob)), device)
    except Exception as error:  # a damaged or foreign entry: compile again and replace it
        logger.warning("compiled program %s could not be loaded (%s: %s); compiling it again",
                       entry.name, type(error).__name__, error)
        return None
    compilation_cache.touch(path)
    return compiled


class _OnDevice(serialize_executable._JaxPjrtUnpickler):
    """JAX's unpickler of a serialized executable, loading it on `device` whichever CPU device
    it was compiled for: every device the entry names reads as `device`, and the machine code
    is given that device's assignment (as JAX's own cache does on GPUs)."""

    def __init__(self, file, device):
        super().__init__(file, device.client, [device])
        self.devices_by_id = collections.defaultdict(lambda: device)
        self.options = xla_client.CompileOptions()
        self.options.device_assignment = xla_client.DeviceAssignment.create(
            np.array([[device.id]]))

    def persistent_load(self, pid):
        if pid[0] == "exec":
            return self.backend.deserialize_executable(pid[1], self.execution_devices,
                                                       self.options)
        return super().persistent_load(pid)


def _load(serialized: bytes, in_tree, out_tree, device) -> jax.stages.Compiled:
    """`serialize_executable.deserialize_and_load` for a one-device program, on `device`
    whichever device it was compiled for."""
    version, unloaded, args_info, no_kwargs, const_args = _OnDevice(io.BytesIO(serialized),
                                                                    device).load()
    if version != serialize_executable._SERIALIZATION_VERSION:
        raise ValueError(f"serialized by another JAX (format {version})")
    return jax.stages.Compiled(unloaded.load(), const_args, in_tree.unflatten(args_info),
                               out_tree, no_kwargs=no_kwargs)


def _write(path: Path, compiled) -> None:
    """Store an executable at path, whole or not at all (`atomic_path`); one that cannot be
    serialized (a host callback: `stored.rows`) is compiled in every process."""
    try:
        blob = zlib.compress(pickle.dumps(serialize_executable.serialize(compiled)), 1)
    except Exception as error:
        logger.debug("compiled program %s not stored: %s", path.name, error)
        return
    entry = path.with_name(path.name + compilation_cache.ENTRY_SUFFIX)
    try:
        with atomic_path(entry) as tmp:
            tmp.write_bytes(blob)
        compilation_cache.touch(path)
        # JAX keeps its directory within the cap only when it writes an entry itself
        compilation_cache.prune(max_gb=compilation_cache.max_bytes() / 2**30, base=path.parent)
    except OSError as error:  # a full or read-only cache costs the next process a compile
        logger.warning("compiled program %s not stored: %s", entry.name, error)


def jit(fun=None, *, static_argnums=(), static_argnames=(), name: str | None = None,
        context=()):
    """`jax.jit` with executables kept by this module's key: as a decorator, with or without
    arguments. name, context: the key's name for fun (default its module and qualified
    name) and what a closure bound (its `static_text` is part of the key)."""
    if fun is None:
        return functools.partial(jit, static_argnums=static_argnums,
                                 static_argnames=static_argnames, name=name, context=context)
    return Program(fun, static_argnums, static_argnames, name, context)
