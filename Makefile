# Two entry points: `make lab` and `make test`. Both create .venv and install the project
# (again only when pyproject.toml changes) and prepare the embedded sample dataset.
SUPPORTED_PYTHONS := 3.13 3.12 3.11
VENV ?= .venv
BIN := $(VENV)/bin
# The Python: PYTHON= if given; else the one $(VENV) was made with; else the newest of
# PYTHON_VERSIONS on PATH or in pyenv (whose shims answer for the selected versions only).
PYTHON_VERSIONS ?= $(SUPPORTED_PYTHONS)
FIND_PYTHON := for v in $(PYTHON_VERSIONS); do \
	for p in python$$v $$(pyenv root 2>/dev/null)/versions/$$v*/bin/python$$v; do \
	"$$p" -c '' 2>/dev/null && { command -v "$$p"; exit; }; done; done
PYTHON ?= $(or $(wildcard $(BIN)/python),$(shell $(FIND_PYTHON)))
PY_VERSION := $(if $(PYTHON),$(shell $(PYTHON) -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null))
# constraints.txt pins the reference environment, in which the committed outputs were made
# (Python 3.11, NumPy 1); constraints-py313.txt pins the NumPy 2 environment of CI's second leg.
CONSTRAINTS := $(if $(filter 3.11,$(PY_VERSION)),constraints.txt,constraints-py313.txt)
INSTALLED := $(VENV)/.installed-stamp
# The setting the committed notebook outputs were made in: the embedded sample, on the CPU.
REFERENCE := D2LSEG_DATA=sample D2LSEG_DEVICE=cpu
PYTEST_NBVAL := --nbval --nbval-current-env --nbval-sanitize-with notebooks/sanitize.cfg

.PHONY: lab test lint data notebooks bench clean assignments grade bubblewrap test-browser chromium \
	python collect feedback-zip student-edition test-colab

# Says which Python is used; refuses an unsupported one, or one other than $(VENV)'s.
python:
	@$(if $(PY_VERSION),,echo "d2lseg needs Python 3.11, 3.12 or 3.13: $(if $(PYTHON),$(PYTHON) does not run,none found on PATH or in pyenv); run make PYTHON=/path/to/python3.13"; exit 1)
	@$(if $(filter $(PY_VERSION),$(SUPPORTED_PYTHONS)),,echo "d2lseg needs Python 3.11, 3.12 or 3.13, $(PYTHON) is $(PY_VERSION); run make PYTHON=/path/to/python3.13"; exit 1)
	@[ ! -x $(BIN)/python ] || [ "$$($(BIN)/python -c 'import sys; print("%d.%d" % sys.version_info[:2])')" = $(PY_VERSION) ] \
		|| { echo "$(VENV) was made with another Python than $(PYTHON) ($(PY_VERSION)): make clean, or give another VENV="; exit 1; }
	@echo "Python $(PY_VERSION) ($(PYTHON)) in $(VENV), pinned by $(CONSTRAINTS)"

$(BIN)/python: | python
	$(PYTHON) -m venv $(VENV)

# d2l==1.0.3 pins numpy==1.23.5, which has no wheels past Python 3.11: it is installed without
# its pins, and what it imports is among our dependencies (pyproject.toml).
$(INSTALLED): pyproject.toml $(CONSTRAINTS) | python $(BIN)/python
	$(BIN)/python -m pip install --upgrade pip
	$(BIN)/python -m pip install -c $(CONSTRAINTS) -e '.[dev]'
	$(BIN)/python -m pip install --no-deps -c $(CONSTRAINTS) d2l==1.0.3
	touch $@

data: $(INSTALLED)
	$(BIN)/python -m d2lseg

# Opens at the repository root, so that README.md and data/README.md are in the file browser.
# JupyterLab refuses to run as root unless told; containers often run as root. The venv's bin/
# goes first on PATH: nbgrader's formgrader runs its helpers (alembic) from there.
lab: data
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/jupyter lab --ServerApp.root_dir=. $(if $(filter 0,$(shell id -u)),--allow-root)

lint: $(INSTALLED)
	$(BIN)/ruff check d2lseg tests benchmarks notebooks assignments nbgrader_config.py tests_browser tests_colab
	$(BIN)/ruff format --check d2lseg tests benchmarks nbgrader_config.py tests_browser tests_colab assignments/*.py \
		assignments/grading

# Select the reference setting explicitly, whatever data (data/VOCdevkit, $$D2LSEG_VOC_DIR)
# and hardware this machine has.
# NOTEBOOKS= narrows the notebooks under strict nbval (CI's Python 3.13 leg: 01-04);
# PYTEST_ARGS= adds options (CI's 3.13 leg leaves out the sandboxed grading runs).
NOTEBOOKS ?= notebooks
PYTEST_ARGS ?=
test: data lint bubblewrap
	$(REFERENCE) $(BIN)/python -m pytest tests $(NOTEBOOKS) assignments/source $(PYTEST_NBVAL) \
		$(PYTEST_ARGS)

# The course in JupyterLab in headless Chromium (tests_browser/). Debian's chromium, driven by
# the playwright package: Playwright's own browser download is not possible everywhere.
BROWSER_INSTALLED := $(VENV)/.browser-installed-stamp

$(BROWSER_INSTALLED): $(INSTALLED)
	$(BIN)/python -m pip install -c $(CONSTRAINTS) -e '.[dev,browser]'
	touch $@

chromium:
	@command -v chromium >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get update \
		&& DEBIAN_FRONTEND=noninteractive apt-get install -y chromium; } \
		|| { echo "make test-browser needs Chromium: sudo apt-get install chromium"; exit 1; }

test-browser: chromium $(BROWSER_INSTALLED)
	$(BIN)/python -m pytest tests_browser -rP

# The notebooks as on Google Colab: Python 3.13, NumPy 2, Colab's libraries only, the setup
# cell cloning this repository's HEAD into an empty /content (tests_colab/run.sh). NOTEBOOKS=
# narrows them (a glob in notebooks/).
test-colab: bubblewrap
	$(if $(filter command line,$(origin NOTEBOOKS)),NOTEBOOKS='$(NOTEBOOKS)') bash tests_colab/run.sh

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

# The notebooks of an LMS's download of submissions (Canvas, Moodle, plain folders) into
# assignments/submitted/<student>/<problem set>/, with their timestamp.txt; every file it could
# not place gets one line (and only they make it fail). ZIP_TZ: the zone of the zip's times.
collect: $(INSTALLED)
	@test -n "$(ZIP)" || { echo "usage: make collect ZIP=submissions.zip [ZIP_TZ=Europe/Berlin]"; exit 2; }
	$(BIN)/python assignments/collect.py "$(ZIP)" --timezone "$(or $(ZIP_TZ),UTC)"

# One archive per student of all their feedback pages, in assignments/feedback_zips/.
feedback-zip: $(INSTALLED)
	$(BIN)/python assignments/feedback_zip.py

# A copy of the course for students (no solutions, no hidden tests, no grader) in DIR, a new or
# empty folder outside this repository.
student-edition: $(INSTALLED)
	@test -n "$(DIR)" || { echo "usage: make student-edition DIR=/path/to/a/new/folder"; exit 2; }
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/python assignments/student_edition.py "$(DIR)"

# The sandbox of `make grade` (and of its tests in `make test`), installed like chromium.
bubblewrap:
	@command -v bwrap >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get update \
		&& DEBIAN_FRONTEND=noninteractive apt-get install -y bubblewrap; } \
		|| { echo "make grade needs bubblewrap: sudo apt-get install bubblewrap (Linux only; UNSAFE_GRADING=1 grades unsandboxed, see assignments/README.md)"; exit 1; }

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis
