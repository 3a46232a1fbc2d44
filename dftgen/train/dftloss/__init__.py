"""The DFT-loss trainer (Mathiasen et al. 2024): a network predicts a correction of a
molecule's initial-guess Hamiltonian, a few differentiable SCF steps turn it into a density,
and the DFT energy of that density is the loss, so training needs no labels. Its label twin
trains the same network on converged SCF labels; `compare` runs both under one budget.

    spec.py                the DFT-loss spec (TOML): dft settings, data, model, training
    features.py            molecule -> SCF inputs, initial-guess Hamiltonian, covariant matrices
    model.py               the rotation-equivariant Hamiltonian correction (equinox)
    safe_eigh.py           eigh with a broadened derivative for (near-)degenerate levels
    differentiable_scf.py  Hamiltonian -> density -> E[D] through a few SCF steps
    labels.py              the supervised twin's labels and loss
    train.py               the optimiser loop and `dftgen train dftloss`
    evaluate.py            errors against converged SCF, SCF iterations saved
    compare.py             both routes under one compute budget; report and plots
"""
