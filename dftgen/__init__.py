"""dftgen: QM1B-style quantum-chemistry datasets from a JAX DFT kernel."""

from importlib.metadata import PackageNotFoundError, version

from dftgen.molecule import EmbeddingError, Molecule, MoleculeError, SmilesError

try:
    __version__ = version("dftgen")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+local"

__all__ = ["Molecule", "MoleculeError", "SmilesError", "EmbeddingError", "__version__"]
