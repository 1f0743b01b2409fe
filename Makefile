# Two entry points: `make lab` and `make test`. Both create .venv and install the project
# (again only when pyproject.toml changes) and prepare the embedded sample dataset.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed-stamp
# The setting the committed notebook outputs were made in: the embedded sample, on the CPU.
REFERENCE := D2LSEG_DATA=sample D2LSEG_DEVICE=cpu
PYTEST_NBVAL := --nbval --nbval-current-env --nbval-sanitize-with notebooks/sanitize.cfg

.PHONY: lab test lint data notebooks bench clean

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(None if sys.version_info[:2] == (3, 11) else \
		f"d2lseg needs Python 3.11 (d2l==1.0.3 pins numpy 1.23.5), found {sys.version.split()[0]} at {sys.executable}; run make PYTHON=/path/to/python3.11")'
	$(PYTHON) -m venv $(VENV)

$(INSTALLED): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --upgrade pip
	$(BIN)/python -m pip install -e '.[dev]'
	touch $@

data: $(INSTALLED)
	$(BIN)/python -m d2lseg

# Opens at the repository root, so that README.md and data/README.md are in the file browser.
# JupyterLab refuses to run as root unless told; containers often run as root.
lab: data
	$(BIN)/jupyter lab --ServerApp.root_dir=. $(if $(filter 0,$(shell id -u)),--allow-root)

lint: $(INSTALLED)
	$(BIN)/ruff check d2lseg tests benchmarks notebooks

# Select the reference setting explicitly, whatever data (data/VOCdevkit, $$D2LSEG_VOC_DIR)
# and hardware this machine has.
test: data lint
	$(REFERENCE) $(BIN)/python -m pytest tests notebooks $(PYTEST_NBVAL)

# Re-execute every notebook in place, in the reference setting (after changing one), then
# `make test`.
notebooks: data
	$(REFERENCE) $(BIN)/jupyter nbconvert --to notebook --execute --inplace notebooks/*.ipynb

bench: data
	$(BIN)/python benchmarks/voc_dataset.py
	$(BIN)/python benchmarks/fcn_recipes.py
	$(BIN)/python benchmarks/fcn_variants.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis
