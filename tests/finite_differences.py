"""Central finite differences, the reference for every autodiff gradient test."""

import numpy as np


def central_gradient(f, x, h=1e-4):
    """d f / d x by (f(x + h e_i) - f(x - h e_i)) / 2h for every element i of the array x."""
    x = np.asarray(x, dtype=np.float64)
    grad = np.zeros_like(x)
    for idx in np.ndindex(*x.shape):
        step = np.zeros(x.shape)
        step[idx] = h
        grad[idx] = (float(f(x + step)) - float(f(x - step))) / (2 * h)
    return grad
