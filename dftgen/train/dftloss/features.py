"""What the network sees of a molecule: its SCF inputs, the initial-guess Hamiltonian, a few
rotation-covariant AO matrices, and the atom/shell bookkeeping to address their blocks.

Rotating a molecule by Q rotates each shell's AOs among themselves (s: unchanged, p: by Q,
d: by a 5x5 orthogonal matrix), so every AO-basis matrix built from the geometry transforms
as M -> U M U^T with U block diagonal over shells and orthogonal. Products of such matrices
(with S^-1, itself covariant) transform the same way. The network multiplies each
shell-pair block of these "covariant" matrices by a rotation-invariant gate, which keeps the
result covariant: that is what makes the predicted Hamiltonian equivariant (see model.py).

All arrays are per molecule; `stack` adds a leading batch axis for molecules of one shape
bucket (same basis structure and grid size). Matrices (nao, nao) in the AO basis, Hartree.
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from dftgen import executables
from dftgen.molecule import Molecule
from dftgen.presets import Settings
from dftgen import scf
from dftgen.scf.iterations import SCFInputs, fock_and_energy

MAX_Z = 36  # atomic numbers the embedding tables hold (H to Kr, as dftgen)
SHELL_CODES = 9  # (l, k): the k-th shell (k < 3) of angular momentum l (l <= 2) on an atom
COVARIANT_NAMES = ("fock0", "core", "overlap", "s_dm0_s", "fock0_dm0_s")


class MoleculeFeatures(NamedTuple):
    """One molecule, as arrays.

    scf: the SCF inputs (integrals, grid, minao dm0, occupations), see SCFInputs.
    fock0: F[dm0], the initial-guess Hamiltonian (nao, nao).
    covariants: (K, nao, nao) matrices named by COVARIANT_NAMES: F0, h, S, S D0 S and the
        symmetrised F0 D0 S; each transforms as U M U^T under rotation.
    numbers: (natoms,) atomic numbers.   positions: (natoms, 3) Bohr.
    shell_atom: (nshell,) atom of each shell.   shell_code: (nshell,) index of (l, k).
    ao_shell: (nao, nshell) one-hot: AO i belongs to shell a.
    """

    scf: SCFInputs
    fock0: jax.Array
    covariants: jax.Array
    numbers: jax.Array
    positions: jax.Array
    shell_atom: jax.Array
    shell_code: jax.Array
    ao_shell: jax.Array


@dataclasses.dataclass
class Sample:
    """A molecule with its features; `key` groups molecules that share array shapes."""

    mol: Molecule
    features: MoleculeFeatures
    key: tuple
    n_occ: int

    @property
    def name(self) -> str:
        return self.mol.name


def featurise(mol: Molecule, settings: Settings) -> Sample:
    """The features of `mol` at the settings' basis, grid and precision (the SCF inputs come
    from `dftgen.scf.assemble`, so they are exactly what `run_dft` would use)."""
    prepared = scf.assemble(scf.setup(mol, settings), settings)
    features = features_of(prepared, prepared.work, settings)
    key = (prepared.basis.shape_key, prepared.work.weights.shape[0])
    return Sample(mol, features, key, prepared.setup.n_occ)


def features_of(prepared: scf.Problem, inputs: SCFInputs, settings: Settings) -> MoleculeFeatures:
    """The features of an assembled molecule, built on `inputs` (its work or exact arrays)."""
    mol = prepared.mol
    if int(mol.numbers.max()) > MAX_Z:
        raise ValueError(f"molecule {mol.name!r}: elements beyond Z={MAX_Z} are not supported")
    fock0, _ = _fock_and_energy(inputs.dm0, inputs, settings.xc)
    s, d0 = inputs.s, inputs.dm0
    sds = s @ d0 @ s
    fds = fock0 @ d0 @ s
    covariants = jnp.stack([fock0, inputs.h, s, sds, 0.5 * (fds + fds.T)])
    shells = prepared.basis.shells
    seen: dict[tuple[int, int], int] = {}
    codes = []
    for shell in shells:
        k = seen.get((shell.atom, shell.l), 0)
        seen[(shell.atom, shell.l)] = k + 1
        codes.append(min(shell.l, 2) * 3 + min(k, 2))
    ao_loc = np.asarray(prepared.basis.ao_loc)
    ao_shell = np.zeros((prepared.basis.nao, len(shells)))
    for a in range(len(shells)):
        ao_shell[ao_loc[a]:ao_loc[a + 1], a] = 1.0
    dt = inputs.h.dtype
    return MoleculeFeatures(
        # without the guess's factor, whose width differs between molecules of a bucket
        scf=inputs.with_guess(inputs.dm0), fock0=fock0, covariants=covariants,
        numbers=jnp.asarray(mol.numbers, jnp.int32),
        positions=jnp.asarray(np.asarray(mol.positions), dt),
        shell_atom=jnp.asarray([sh.atom for sh in shells], jnp.int32),
        shell_code=jnp.asarray(codes, jnp.int32),
        ao_shell=jnp.asarray(ao_shell, dt),
    )


_fock_and_energy = executables.jit(fock_and_energy, static_argnames="xc_name")


def stack(features: list[MoleculeFeatures]) -> MoleculeFeatures:
    """Molecules of one shape bucket with a leading batch axis."""
    return jax.tree.map(lambda *a: jnp.stack(a), *features)
