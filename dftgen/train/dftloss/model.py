"""The network: a molecule's features -> a symmetric correction of its initial-guess
Hamiltonian, equivariant under rotations by construction.

Symmetry. Nothing here canonicalises orientation. The correction is

    dH = sum_k  (P G_k P^T) o M_k,

where M_k are the covariant AO matrices of `features` (F0, h, S, S D0 S, sym(F0 D0 S)), P
(nao, nshell) maps AOs to shells, and G_k (nshell, nshell) holds one gate per shell pair,
computed from rotation-invariant quantities only: atomic numbers, interatomic distances, the
shell types, and the Frobenius norms of the shell-pair blocks of each M_k. Rotating the
molecule maps each block M_k[a, b] to U_a M_k[a, b] U_b^T (U_a orthogonal: the rotation of
shell a's AOs) and leaves every gate unchanged, so dH[a, b] -> U_a dH[a, b] U_b^T: the
predicted Hamiltonian rotates with the molecule, and the density and energy that follow are
those of the rotated molecule (up to the integration grid's own orientation dependence).
Gates are symmetric in (a, b) because every pair feature is, so dH is symmetric.

Invariant features: each atom gets an embedding of its element plus one round of
distance-weighted messages from its neighbours (Gaussian radial basis, cosine cutoff); a
shell combines its atom's features with its type (l, k); a shell pair combines both shells'
features symmetrically (sum and product) with the radial basis of their distance and the
block norms. The last layer starts at zero, so an untrained network predicts dH = 0: the
initial-guess Hamiltonian itself.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp

from dftgen.train.dftloss.features import COVARIANT_NAMES, MAX_Z, SHELL_CODES, MoleculeFeatures


class HamiltonianCorrection(eqx.Module):
    species: jax.Array  # (MAX_Z + 1, width): element embedding of an atom
    neighbour_species: jax.Array  # (MAX_Z + 1, width): element embedding of a neighbour
    radial: eqx.nn.Linear  # radial basis -> width
    atom_mlp: eqx.nn.MLP  # 2 width -> width
    shell_mlp: eqx.nn.MLP  # width + SHELL_CODES -> width
    pair_mlp: eqx.nn.MLP  # 2 width + n_rbf + 1 + K -> K gates
    n_rbf: int = eqx.field(static=True)
    cutoff: float = eqx.field(static=True)

    def __init__(self, key, width: int = 32, n_rbf: int = 16, cutoff_bohr: float = 8.0,
                 dtype=jnp.float32):
        keys = jax.random.split(key, 6)
        k = len(COVARIANT_NAMES)
        scale = width ** -0.5
        self.species = scale * jax.random.normal(keys[0], (MAX_Z + 1, width), dtype)
        self.neighbour_species = scale * jax.random.normal(keys[1], (MAX_Z + 1, width), dtype)
        self.radial = eqx.nn.Linear(n_rbf, width, key=keys[2], dtype=dtype)
        self.atom_mlp = eqx.nn.MLP(2 * width, width, width, 2, activation=jax.nn.silu,
                                   key=keys[3], dtype=dtype)
        self.shell_mlp = eqx.nn.MLP(width + SHELL_CODES, width, width, 1,
                                    activation=jax.nn.silu, key=keys[4], dtype=dtype)
        pair = eqx.nn.MLP(2 * width + n_rbf + 1 + k, k, width, 2, activation=jax.nn.silu,
                          key=keys[5], dtype=dtype)
        last = pair.layers[-1]
        self.pair_mlp = eqx.tree_at(lambda m: (m.layers[-1].weight, m.layers[-1].bias), pair,
                                    (jnp.zeros_like(last.weight), jnp.zeros_like(last.bias)))
        self.n_rbf = n_rbf
        self.cutoff = float(cutoff_bohr)

    def __call__(self, f: MoleculeFeatures) -> jax.Array:
        """dH (nao, nao), Hartree, for one molecule."""
        dtype = f.covariants.dtype
        distances = _distances(f.positions)
        rbf = self._rbf(distances)  # (natoms, natoms, n_rbf)
        natoms = f.numbers.shape[0]
        neighbour = (1.0 - jnp.eye(natoms, dtype=dtype)) * _cosine_cutoff(distances, self.cutoff)
        messages = jnp.einsum("ab,abw,bw->aw", neighbour, jax.vmap(jax.vmap(self.radial))(rbf),
                              self.neighbour_species[f.numbers].astype(dtype))
        atom_in = jnp.concatenate([self.species[f.numbers].astype(dtype), messages], axis=-1)
        atoms = jax.vmap(self.atom_mlp)(atom_in)  # (natoms, width)

        code = jax.nn.one_hot(f.shell_code, SHELL_CODES, dtype=dtype)
        shells = jax.vmap(self.shell_mlp)(jnp.concatenate([atoms[f.shell_atom], code], axis=-1))

        # rms of each shell-pair block of each covariant matrix: invariant under rotation
        counts = jnp.sum(f.ao_shell, axis=0)
        block_sq = jnp.einsum("ia,kij,jb->kab", f.ao_shell, f.covariants ** 2, f.ao_shell)
        block_rms = jnp.sqrt(block_sq / (counts[:, None] * counts[None, :]))
        nshell = f.shell_atom.shape[0]
        pair_in = jnp.concatenate([
            shells[:, None, :] + shells[None, :, :],
            shells[:, None, :] * shells[None, :, :],
            rbf[f.shell_atom][:, f.shell_atom],
            (f.shell_atom[:, None] == f.shell_atom[None, :]).astype(dtype)[..., None],
            jnp.arcsinh(jnp.moveaxis(block_rms, 0, -1)),
        ], axis=-1)
        gates = jax.vmap(self.pair_mlp)(pair_in.reshape(nshell * nshell, -1))
        gates = gates.reshape(nshell, nshell, -1)
        gates_ao = jnp.einsum("ia,abk,jb->kij", f.ao_shell, gates, f.ao_shell)
        correction = jnp.sum(gates_ao * f.covariants, axis=0)
        return 0.5 * (correction + correction.T)

    def hamiltonian(self, f: MoleculeFeatures) -> jax.Array:
        """The predicted Hamiltonian F0 + dH (nao, nao), Hartree."""
        return f.fock0 + self(f)

    def _rbf(self, r):
        centres = jnp.linspace(0.0, self.cutoff, self.n_rbf, dtype=r.dtype)
        width = self.cutoff / self.n_rbf
        return jnp.exp(-(((r[..., None] - centres) / width) ** 2))


def _distances(positions):
    """(natoms, natoms) Bohr; the diagonal is exactly zero without a NaN derivative."""
    diff = positions[:, None, :] - positions[None, :, :]
    sq = jnp.sum(diff * diff, axis=-1)
    eye = jnp.eye(positions.shape[0], dtype=bool)
    return jnp.where(eye, 0.0, jnp.sqrt(jnp.where(eye, 1.0, sq)))


def _cosine_cutoff(r, cutoff: float):
    return jnp.where(r < cutoff, 0.5 * (jnp.cos(jnp.pi * r / cutoff) + 1.0), 0.0)
