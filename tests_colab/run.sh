#!/usr/bin/env bash
# The notebooks as a student runs them on Google Colab, imitated here (`make test-colab`):
# - Python 3.13 with NumPy 2 and only the libraries Colab preinstalls (the versions CI's 3.13 leg
#   pins, constraints-py313.txt), in a venv of their own: neither d2lseg nor d2l is installed.
# - `google.colab` imported in every kernel (colab_stub/), as on Colab, so the setup cell acts.
# - An empty /content (a tmpfs, in a bubblewrap sandbox), Colab's working folder; git's
#   url.insteadOf turns the setup cell's `git clone https://github.com/<GITHUB_REPO>` into a
#   clone of this repository's HEAD (commit first: uncommitted changes are not seen).
# Each notebook then runs top to bottom under strict nbval from /content/d2lseg/notebooks: its
# setup cell clones the course, installs d2l==1.0.3 --no-deps (from PyPI) and makes the sample;
# the committed outputs must come out the same. NOTEBOOKS= narrows the notebooks (a glob).
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
VENV=${VENV:-$REPO/.venv-colab}
NOTEBOOKS=${NOTEBOOKS:-'*.ipynb'}  # in notebooks/

find_python() {
  for p in python3.13 "$(pyenv root 2>/dev/null)"/versions/3.13*/bin/python3.13; do
    "$p" -c '' 2>/dev/null && { command -v "$p"; return; }
  done
  echo "make test-colab needs Python 3.13 (Colab's): none found on PATH or in pyenv" >&2
  exit 1
}
command -v bwrap >/dev/null || { echo "make test-colab needs bubblewrap (make bubblewrap)" >&2; exit 1; }
if [ ! -x "$VENV/bin/python" ]; then
  "$(find_python)" -m venv "$VENV"
fi
# What Colab has (its own torch and friends) plus the test runner; not d2lseg, not d2l.
"$VENV/bin/python" -m pip install --quiet -c constraints-py313.txt torch torchvision numpy \
  pandas scipy matplotlib matplotlib-inline requests pillow tqdm ipython ipykernel ipywidgets \
  pytest nbval
(cd / && "$VENV/bin/python" -c "import d2lseg") 2>/dev/null && { echo "$VENV must not have d2lseg" >&2; exit 1; }
(cd / && "$VENV/bin/python" -c "import d2l") 2>/dev/null && "$VENV/bin/python" -m pip uninstall --quiet -y d2l

GITHUB_REPO=$("$VENV/bin/python" -c 'import ast, sys
tree = ast.parse(open("d2lseg/colab.py").read())
print(next(n.value.value for n in tree.body if isinstance(n, ast.Assign)
           and n.targets[0].id == "GITHUB_REPO"))')
# In the sandbox: notebook 01, copied to /content, runs first (its setup cell clones the course
# into /content/d2lseg, installs d2l, makes the sample); then every notebook runs from the
# clone's notebooks/ folder (each setup cell finding the clone there), as a student opens them.
exec bwrap --dev-bind / / --tmpfs /content --tmpfs /tmp --chdir /content \
  --setenv PYTHONPATH "$REPO/tests_colab/colab_stub" \
  --setenv GIT_CONFIG_COUNT 1 \
  --setenv GIT_CONFIG_KEY_0 "url.file://$REPO.insteadOf" \
  --setenv GIT_CONFIG_VALUE_0 "https://github.com/$GITHUB_REPO" \
  --unsetenv D2LSEG_DATA --unsetenv D2LSEG_DATA_DIR --unsetenv D2LSEG_VOC_DIR \
  -- bash -c '
    set -euo pipefail
    nbval() {
      '"$VENV"'/bin/python -m pytest -p no:cacheprovider --rootdir "$PWD" -o faulthandler_timeout=900 \
        --nbval --nbval-current-env --nbval-sanitize-with '"$REPO"'/notebooks/sanitize.cfg "$@"
    }
    mkdir /content/first && cp '"$REPO"'/notebooks/01_*.ipynb /content/first/
    (cd /content/first && nbval 01_*.ipynb)
    test -d /content/d2lseg/.git || { echo "the setup cell did not clone the course" >&2; exit 1; }
    cd /content/d2lseg/notebooks && nbval '"$NOTEBOOKS"'
  '
