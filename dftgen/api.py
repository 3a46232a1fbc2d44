"""`run_dft` and `run_dft_batch`: the user's entry points, on JAX's default backend or a device.

Without a device the kernel runs as it is (`dftgen.scf.run_batch`); with one, the device layer
wraps it (`dftgen.device.Device.run`): an emulated IPU decides the precision of the integrals,
refuses what does not fit and reports the admission and estimated cost in `DFTResult.device`.
"""

from __future__ import annotations

from dftgen import device as device_layer
from dftgen import scf, threads
from dftgen.molecule import Molecule
from dftgen.presets import Settings, default_forces, resolve
from dftgen.scf import DFTResult


def run_dft(mol: Molecule, preset: str | Settings = "qm1b", *, forces: bool | None = None,
            keep_orbitals: bool = False, device=None, guess=None, **overrides) -> DFTResult:
    """Restricted Kohn-Sham (or Hartree-Fock, xc="hf") for one closed-shell molecule.

    Args:
        mol: a closed-shell molecule.
        preset: a preset name ("qm1b", "accurate", "qm9", ...) or a Settings object; keyword
            overrides win (basis, xc, grid_level, precision, mode, max_iter, conv_tol, ...).
        forces: also return forces, -dE/dR in Hartree/Bohr, by JAX autodiff of the energy
            at the final density; None: the preset's choice (on for the dataset presets
            qm9, ani1x and wb97x-d3bj-def2-svp, off for a Settings object).
        keep_orbitals: keep mo_coeff and the density matrix in the result.
        device: None (JAX's default backend), a name ("cpu", "gpu", "ipu-bow", "ipu-gc200")
            or a `dftgen.device.Device`. On an emulated IPU every molecule is admitted by the
            device layer first (float32 only, memory, tiles), which raises
            `dftgen.device.DeviceError` with the reason when it does not fit.
        guess: the initial density: None for minao, or a trained DFT-loss network (its model
            directory, or a `dftgen.train.dftloss.guess.ModelGuess`) whose predicted density
            starts the SCF; JAX's default backend only.
    """
    return run_dft_batch([mol], preset, forces=forces, keep_orbitals=keep_orbitals,
                         device=device, guess=guess, **overrides)[0]


def run_dft_batch(mols: list[Molecule], preset: str | Settings = "qm1b", *,
                  forces: bool | None = None,
                  keep_orbitals: bool = False, device=None, guess=None, **overrides) -> list[DFTResult]:
    """`run_dft` for many molecules, one compiled program per shape bucket; results in input
    order. Each bucket's molecules are split across the process's cores (a JAX CPU device
    each, `dftgen.threads`), or with a device of n > 1 (an emulated IPU Pod) across its n
    devices; BLAS runs on one thread a call meanwhile."""
    with threads.blas_on_one_thread():
        return _run(mols, resolve(preset, **overrides),
                    default_forces(preset) if forces is None else forces, keep_orbitals, device,
                    guess)


def _run(mols, settings, forces, keep_orbitals, device, guess) -> list[DFTResult]:
    """`run_dft_batch` with its settings resolved: by the guess, the default backend or a device."""
    if guess is not None:
        if device is not None:
            raise ValueError("guess: a network's initial guess runs on JAX's default backend, not on a device")
        from dftgen.train.dftloss.guess import ModelGuess, load

        guess = guess if isinstance(guess, ModelGuess) else load(str(guess))
        guess.check(settings)
        return scf.run_setups([scf.setup(mol, settings) for mol in mols], settings, forces=forces,
                              keep_orbitals=keep_orbitals, build=guess.build)
    if device is None:
        return scf.run_batch(mols, settings, forces=forces, keep_orbitals=keep_orbitals)
    if isinstance(device, str):
        device = device_layer.get(device)
    return device.run(mols, settings, forces=forces, keep_orbitals=keep_orbitals)
