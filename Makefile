# `make demo` and `make test` work on a fresh machine: each creates .venv when it is missing.
SHELL := /bin/bash
VENV := .venv
VPY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-all

# A Python >= 3.12: $PYTHON, else a working python3.12 on PATH, else pyenv's 3.12.
define find_python
for c in "$$PYTHON" python3.12 $$(ls -d $$HOME/.pyenv/versions/3.12*/bin/python3.12 2>/dev/null); do \
  [ -n "$$c" ] || continue; \
  if "$$c" -c 'import sys; sys.exit(sys.version_info < (3, 12))' >/dev/null 2>&1; then echo "$$c"; exit 0; fi; \
done; exit 1
endef

.PHONY: demo test test-slow venv clean

$(VPY):
	@py=$$($(find_python)) || { echo "error: dftgen needs Python >= 3.12: set PYTHON=/path/to/python3.12, put python3.12 on PATH, or install it with pyenv" >&2; exit 1; }; \
	echo "using $$py ($$($$py --version)) to create $(VENV)"; \
	"$$py" -m venv $(VENV)

$(STAMP): $(VPY) pyproject.toml
	$(VPY) -m pip install --quiet --upgrade pip
	$(VPY) -m pip install --quiet -e '.[all]'
	touch $(STAMP)

venv: $(STAMP)

# the main job: a QM1B-style dataset from the embedded default spec (about 50 QM9 molecules x 2
# conformers), then a look at what it made
demo: $(STAMP)
	$(VENV)/bin/dftgen generate pipelines/default.toml --out datasets
	$(VENV)/bin/dftgen status $$(ls -td datasets/default-* | head -1)

test: $(STAMP)
	$(VPY) -m pytest -n 2 -q

test-slow: $(STAMP)
	$(VPY) -m pytest -n 2 -q -m slow

clean:
	rm -rf $(VENV) .pytest_cache .jax_cache
