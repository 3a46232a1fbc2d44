"""Gaussian integrals in JAX: overlap, kinetic, nuclear attraction, electron repulsion."""
