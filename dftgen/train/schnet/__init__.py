"""SchNet through schnetpack 2.2 on dftgen shards.

    spec.py        the model spec (TOML): targets, network size, training recipe
    data.py        shards read in place as schnetpack input dictionaries; molecule splits
    model.py       representation, heads, transforms and the AtomisticTask
    training.py    Lightning training, model directories, the scaling experiment
    evaluation.py  checkpoints, predictions, MAE/RMSE per split
    plots.py       learning curve and scaling plot
    commands.py    `dftgen train schnet`, `dftgen evaluate`, `dftgen predict`
"""
