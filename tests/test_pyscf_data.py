"""PySCF's basis-set data kept on disk: a later process reads the same values without
importing PySCF."""

import json
import os
import subprocess
import sys

SCRIPT = """
import json, sys
import numpy as np
from dftgen import Molecule, basis, guess, pyscf_data
mol = Molecule.from_xyz("3\\nwater\\nO 0 0 0.1178\\nH 0 0.7555 -0.4712\\nH 0 -0.7555 -0.4712\\n")
bas = basis.build(mol, "6-31g*")
shells = [(s.l, list(s.exponents), list(s.coefficients)) for s in bas.shells]
minimal = [list(map(list, guess._atomic_minimal_shells(8)[0][1:3]))]
print(json.dumps({"pyscf": "pyscf" in sys.modules, "shells": shells, "minimal": minimal,
                  "configuration": pyscf_data.configuration(8)}))
"""


def _run(cache) -> dict:
    env = dict(os.environ, DFTGEN_JAX_CACHE=str(cache))
    out = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True,
                         check=True)
    return json.loads(out.stdout)


def test_a_later_process_reads_the_stored_data_without_pyscf(tmp_path):
    first, second = _run(tmp_path), _run(tmp_path)
    assert first["pyscf"] and not second["pyscf"]
    assert second["shells"] == first["shells"]  # bit for bit: JSON keeps every float's digits
    assert second["minimal"] == first["minimal"]
    assert second["configuration"] == first["configuration"] == [4, 4, 0, 0]


def test_with_the_cache_off_every_read_goes_to_pyscf():
    assert _run("off")["pyscf"]
