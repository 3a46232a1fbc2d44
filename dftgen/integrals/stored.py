"""A float64 matrix held in a file, its rows read on demand inside compiled programs: the
fitted ERIs of a molecule whose B would take too much memory, as PySCF keeps its `_cderi`
on disk beyond `max_memory`.

The file is made in the temporary directory (TMPDIR) and unlinked at once, so that it goes
with its last reference even when the process is killed. Programs read rows through a host
callback keyed by an integer token, an array leaf of `StoredMatrix`, so that one compiled
program serves every molecule of a shape. Reads and writes go through pread/pwrite, not a
memory map: the file's pages stay in the page cache, outside the process's resident memory.
"""

from __future__ import annotations

import itertools
import os
import tempfile
import weakref

import jax
import jax.numpy as jnp
import numpy as np

_TOKENS = itertools.count(1)
_OPEN: weakref.WeakValueDictionary[int, RowFile] = weakref.WeakValueDictionary()


class RowFile:
    """An unlinked temporary file of a float64 matrix (rows, columns)."""

    def __init__(self, shape: tuple[int, int]):
        fd, path = tempfile.mkstemp(prefix="dftgen-", suffix=".f64")
        os.unlink(path)
        os.ftruncate(fd, shape[0] * shape[1] * 8)
        self.fd, self.shape, self.token = fd, shape, next(_TOKENS)
        weakref.finalize(self, os.close, fd)
        _OPEN[self.token] = self

    def write_columns(self, first: int, block: np.ndarray) -> None:
        """Columns [first, first + c) of every row from block (rows, c)."""
        block = np.ascontiguousarray(block, np.float64)
        for row in range(self.shape[0]):
            _all(os.pwritev, self.fd, memoryview(block[row]).cast("B"),
                 (row * self.shape[1] + first) * 8)

    def read_rows(self, first: int, count: int) -> np.ndarray:
        """Rows [first, first + count) (count, columns)."""
        out = np.empty((count, self.shape[1]))
        _all(os.preadv, self.fd, memoryview(out).cast("B"), first * self.shape[1] * 8)
        return out


def _all(call, fd: int, buffer: memoryview, offset: int) -> None:
    """os.pwritev / os.preadv until the whole buffer is moved (one call moves at most ~2 GB)."""
    while len(buffer):
        done = call(fd, [buffer], offset)
        if done <= 0:
            raise OSError(f"{call.__name__}: nothing moved at byte {offset}")
        buffer, offset = buffer[done:], offset + done


@jax.tree_util.register_pytree_node_class
class StoredMatrix:
    """The matrix of a RowFile as a JAX pytree: the token is its one leaf (an int32 scalar,
    stacked like any array in a batch), shape and dtype are static; rows read from the
    float64 file are rounded to dtype. `file` keeps the file open (None in the copies JAX
    makes while tracing, which the original outlives)."""

    def __init__(self, token, shape: tuple[int, int], dtype, file: RowFile | None = None):
        self.token, self.shape, self.dtype, self.file = token, shape, jnp.dtype(dtype), file

    @classmethod
    def of(cls, file: RowFile) -> StoredMatrix:
        return cls(jnp.asarray(file.token, jnp.int32), file.shape, jnp.float64, file)

    def astype(self, dtype) -> StoredMatrix:
        return StoredMatrix(self.token, self.shape, dtype, self.file)

    def tree_flatten(self):
        return (self.token,), (self.shape, self.dtype.name)

    @classmethod
    def tree_unflatten(cls, aux, children):
        return cls(children[0], *aux)


def rows(matrix: StoredMatrix, first: jax.Array, count: int) -> jax.Array:
    """Rows [first, first + count) of a stored matrix, (count, columns) in its dtype, from
    inside a compiled program (a host callback)."""
    dtype = matrix.dtype

    def read(token, start):
        return _OPEN[int(token)].read_rows(int(start), count).astype(dtype)

    return jax.pure_callback(read, jax.ShapeDtypeStruct((count, matrix.shape[1]), dtype),
                             matrix.token, first, vmap_method="sequential")
