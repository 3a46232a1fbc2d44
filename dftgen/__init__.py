"""dftgen: QM1B-style quantum-chemistry datasets from a JAX DFT kernel."""

from importlib.metadata import PackageNotFoundError, version

from dftgen import hugepages, xla_flags

hugepages.reexec_console_script()  # before the imports below, which a restart would repeat
xla_flags.apply()  # before anything below can start JAX's backend
from dftgen import threads  # noqa: E402

threads.configure()  # a CPU device a core, before JAX's backend starts

from dftgen import compilation_cache, data  # noqa: E402
from dftgen.molecule import EmbeddingError, Molecule, MoleculeError, SmilesError  # noqa: E402
from dftgen.api import run_dft, run_dft_batch  # noqa: E402
from dftgen.scf import DFTResult  # noqa: E402

try:
    __version__ = version("dftgen")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+local"

compilation_cache.enable()

__all__ = ["Molecule", "MoleculeError", "SmilesError", "EmbeddingError", "DFTResult", "run_dft",
           "run_dft_batch", "__version__"]
