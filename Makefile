# Two entry points: `make lab` and `make test`. Both create .venv and install the project
# (again only when pyproject.toml changes) and prepare the embedded sample dataset.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed-stamp
# The setting the committed notebook outputs were made in: the embedded sample, on the CPU.
REFERENCE := D2LSEG_DATA=sample D2LSEG_DEVICE=cpu
PYTEST_NBVAL := --nbval --nbval-current-env --nbval-sanitize-with notebooks/sanitize.cfg

.PHONY: lab test lint data notebooks bench clean assignments grade bubblewrap test-browser chromium

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(None if sys.version_info[:2] == (3, 11) else \
		f"d2lseg needs Python 3.11 (d2l==1.0.3 pins numpy 1.23.5), found {sys.version.split()[0]} at {sys.executable}; run make PYTHON=/path/to/python3.11")'
	$(PYTHON) -m venv $(VENV)

# constraints.txt pins the reference environment, in which the committed outputs were made.
$(INSTALLED): pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/python -m pip install --upgrade pip
	$(BIN)/python -m pip install -c constraints.txt -e '.[dev]'
	touch $@

data: $(INSTALLED)
	$(BIN)/python -m d2lseg

# Opens at the repository root, so that README.md and data/README.md are in the file browser.
# JupyterLab refuses to run as root unless told; containers often run as root. The venv's bin/
# goes first on PATH: nbgrader's formgrader runs its helpers (alembic) from there.
lab: data
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/jupyter lab --ServerApp.root_dir=. $(if $(filter 0,$(shell id -u)),--allow-root)

lint: $(INSTALLED)
	$(BIN)/ruff check d2lseg tests benchmarks notebooks assignments nbgrader_config.py tests_browser
	$(BIN)/ruff format --check d2lseg tests benchmarks nbgrader_config.py tests_browser assignments/*.py \
		assignments/grading

# Select the reference setting explicitly, whatever data (data/VOCdevkit, $$D2LSEG_VOC_DIR)
# and hardware this machine has.
test: data lint bubblewrap
	$(REFERENCE) $(BIN)/python -m pytest tests notebooks assignments/source $(PYTEST_NBVAL)

# The course in JupyterLab in headless Chromium (tests_browser/). Debian's chromium, driven by
# the playwright package: Playwright's own browser download is not possible everywhere.
BROWSER_INSTALLED := $(VENV)/.browser-installed-stamp

$(BROWSER_INSTALLED): $(INSTALLED)
	$(BIN)/python -m pip install -c constraints.txt -e '.[dev,browser]'
	touch $@

chromium:
	@command -v chromium >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get update \
		&& DEBIAN_FRONTEND=noninteractive apt-get install -y chromium; } \
		|| { echo "make test-browser needs Chromium: sudo apt-get install chromium"; exit 1; }

test-browser: chromium $(BROWSER_INSTALLED)
	$(BIN)/python -m pytest tests_browser -rP

# Re-execute every notebook in place, in the reference setting (after changing one), then
# `make test`.
notebooks: data
	$(REFERENCE) $(BIN)/jupyter nbconvert --to notebook --execute --inplace notebooks/*.ipynb

bench: data
	$(BIN)/python benchmarks/voc_dataset.py
	$(BIN)/python benchmarks/fcn_recipes.py
	$(BIN)/python benchmarks/fcn_variants.py
	$(BIN)/python benchmarks/train_speed.py
	$(BIN)/python benchmarks/predict_speed.py
	$(BIN)/python benchmarks/notebook_claims.py

# nbgrader runs helper programs (jupyter, the kernel) from the environment's bin/.
NBGRADER := PATH="$(abspath $(BIN)):$$PATH" $(BIN)/nbgrader

# The student version of every problem set, in assignments/release/ (see assignments/README.md).
assignments: $(INSTALLED)
	$(NBGRADER) generate_assignment --force "*"

# Autograde the new submissions in assignments/submitted/<student>/<problem set>/, each in a
# bubblewrap sandbox, then write every student's feedback (manual grades included),
# assignments/grades.csv and assignments/integrity.csv; the submissions that could not be graded
# are listed at the end (and only they make it fail). See assignments/README.md.
grade: $(INSTALLED) $(if $(filter 1,$(UNSAFE_GRADING)),,bubblewrap)
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/python assignments/grade.py

# The sandbox of `make grade` (and of its tests in `make test`), installed like chromium.
bubblewrap:
	@command -v bwrap >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get update \
		&& DEBIAN_FRONTEND=noninteractive apt-get install -y bubblewrap; } \
		|| { echo "make grade needs bubblewrap: sudo apt-get install bubblewrap (Linux only; UNSAFE_GRADING=1 grades unsandboxed, see assignments/README.md)"; exit 1; }

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis
