"""The course on Google Colab: the "Open in Colab" link and the setup cell that start every
notebook.

Colab opens a notebook straight from GitHub, with its own Python and libraries. The setup cell
does nothing elsewhere; on Colab it clones the course to /content/d2lseg, installs the book's
d2l without its pins (Colab has every library d2l and d2lseg import) and generates the sample.
(Students there check a problem set with `d2lseg.check`: see selfcheck.py.)

`python -m d2lseg.colab NOTEBOOK...` writes (or rewrites) the two cells into notebooks.
"""

import json
import os
import sys
from pathlib import Path

# Placeholder: the course's GitHub repository, owner/name. Set it, then run
# `python -m d2lseg.colab notebooks/*.ipynb` to rewrite the notebooks' links.
GITHUB_REPO = "OWNER/d2lseg"
COLAB_DIR = "/content/d2lseg"  # where the setup cell clones the course on Colab
LINK_ID, SETUP_ID = "colab-link", "colab-setup"

SETUP_SOURCE = f"""\
# On Google Colab only (elsewhere this cell does nothing): get the course, install the book's
# d2l without its pins (Colab has what it imports), and generate the sample data.
import os
import subprocess
import sys

if "google.colab" in sys.modules:

    def run(*command, cwd="/content"):
        done = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
        if done.returncode:
            raise RuntimeError(f"{{' '.join(command)}} failed:\\n{{done.stderr}}")

    if not os.path.isdir("{COLAB_DIR}"):
        run("git", "clone", "--depth=1", "https://github.com/{GITHUB_REPO}", "{COLAB_DIR}")
    run(sys.executable, "-m", "pip", "install", "--no-deps", "d2l==1.0.3")
    run(sys.executable, "-m", "d2lseg", cwd="{COLAB_DIR}")
    sys.path.insert(0, "{COLAB_DIR}")"""


def colab_cells(notebook_name):
    """The two cells that start notebook `notebook_name` (in notebooks/): an "Open in Colab"
    link and the setup cell, as nbformat 4.5 cells."""
    url = f"https://colab.research.google.com/github/{GITHUB_REPO}/blob/main/notebooks/"
    link = f"[Open in Colab]({url}{notebook_name}) (the first code cell sets the course up there)"
    return [
        {"cell_type": "markdown", "id": LINK_ID, "metadata": {}, "source": link},
        {
            "cell_type": "code",
            "execution_count": None,
            "id": SETUP_ID,
            "metadata": {},
            "outputs": [],
            "source": SETUP_SOURCE,
        },
    ]


def write_colab_cells(path):
    """Put `colab_cells` at the top of the notebook at `path`, replacing earlier ones; the
    other cells are left as they are, and so is a Colab cell whose text is unchanged (with what
    executing it added: its execution count)."""
    path = Path(path)
    nb = json.loads(path.read_text(encoding="utf-8"))
    present = {cell.get("id"): cell for cell in nb["cells"]}
    cells = colab_cells(path.name)
    for i, cell in enumerate(cells):
        cell["source"] = cell["source"].splitlines(keepends=True)  # as Jupyter writes it
        old = present.get(cell["id"])
        if old and (old["cell_type"], old["source"]) == (cell["cell_type"], cell["source"]):
            cells[i] = old
    rest = [cell for cell in nb["cells"] if cell.get("id") not in (LINK_ID, SETUP_ID)]
    nb["cells"] = [*cells, *rest]
    tmp = path.with_name(f".{path.name}.colab-tmp")  # written whole, then renamed
    tmp.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)


if __name__ == "__main__":
    for notebook in sys.argv[1:]:
        write_colab_cells(notebook)
        print(f"{os.path.relpath(notebook)}: Colab cells written for {GITHUB_REPO}")
