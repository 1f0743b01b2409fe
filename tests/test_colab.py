"""The Colab route: the notebooks' first cells, and `d2lseg.check`, the problem sets' self-check."""

import json
import subprocess
import sys
import types
from pathlib import Path

import nbformat
import pytest
from nbgrader.preprocessors import ClearHiddenTests

import d2lseg
from d2lseg import colab, selfcheck

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
SOURCES = ROOT / "assignments" / "source"
PROBLEM_SETS = sorted(p.name for p in SOURCES.glob("ps*"))


def _cells(path):
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_notebook_starts_with_its_colab_link_and_setup_cell(path):
    def written(cell):  # what python -m d2lseg.colab writes, not what running it adds
        return cell["cell_type"], "".join(cell["source"])

    link, setup = ({**cell, "source": "".join(cell["source"])} for cell in _cells(path)[:2])
    expected = colab.colab_cells(path.name)
    assert [written(link), written(setup)] == [written(c) for c in expected], (
        "run python -m d2lseg.colab"
    )
    github = f"https://colab.research.google.com/github/{colab.GITHUB_REPO}/blob/main/"
    assert f"({github}{path.relative_to(ROOT).as_posix()})" in link["source"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_writing_the_cells_again_changes_nothing(path, tmp_path):
    copy = tmp_path / path.name
    copy.write_bytes(path.read_bytes())
    colab.write_colab_cells(copy)
    # Not `assert a == b` on the notebooks' bytes: pytest's diff of two long byte strings runs
    # for hours when CI=true turns its truncation off.
    unchanged = copy.read_bytes() == path.read_bytes()
    assert unchanged, f"python -m d2lseg.colab changed {path.name} (its executed setup cell?)"
    assert [p.name for p in tmp_path.iterdir()] == [copy.name]


def test_writing_the_cells_replaces_an_old_setup_cell_and_its_outputs(tmp_path):
    nb = nbformat.v4.new_notebook()
    old_setup = nbformat.v4.new_code_cell("print('old setup')", execution_count=3)
    old_setup.id, old_setup.outputs = colab.SETUP_ID, [nbformat.v4.new_output("stream", text="x")]
    nb.cells = [old_setup, nbformat.v4.new_markdown_cell("the lesson")]
    copy = tmp_path / "01_x.ipynb"
    nbformat.write(nb, copy)
    colab.write_colab_cells(copy)
    cells = _cells(copy)
    assert [c.get("id") for c in cells[:2]] == [colab.LINK_ID, colab.SETUP_ID]
    assert "".join(cells[1]["source"]) == colab.SETUP_SOURCE
    assert (cells[1]["execution_count"], cells[1]["outputs"]) == (None, [])
    assert ["".join(c["source"]) for c in cells[2:]] == ["the lesson"]


def test_the_setup_cell_does_nothing_outside_colab(monkeypatch, capfd):
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: pytest.fail("ran a command"))
    path_before = list(sys.path)
    exec(colab.SETUP_SOURCE, {})
    assert capfd.readouterr() == ("", "") and sys.path == path_before


@pytest.fixture
def on_colab(monkeypatch):
    """Colab as the setup cell sees it: google.colab imported, commands recorded."""
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    monkeypatch.setattr(sys, "path", list(sys.path))
    commands = []

    def run(command, cwd, **kwargs):
        commands.append((command, cwd))
        return subprocess.CompletedProcess(command, returncode=0, stderr="")

    monkeypatch.setattr(subprocess, "run", run)
    return commands


def test_the_setup_cell_on_colab_clones_installs_and_makes_the_sample(on_colab):
    exec(colab.SETUP_SOURCE, {})
    assert on_colab == [
        (
            (
                "git",
                "clone",
                "--depth=1",
                f"https://github.com/{colab.GITHUB_REPO}",
                "/content/d2lseg",
            ),
            "/content",
        ),
        ((sys.executable, "-m", "pip", "install", "--no-deps", "d2l==1.0.3"), "/content"),
        ((sys.executable, "-m", "d2lseg"), "/content/d2lseg"),
    ]
    assert sys.path[0] == "/content/d2lseg"


def test_the_setup_cell_on_colab_shows_what_failed(monkeypatch, on_colab):
    failed = subprocess.CompletedProcess((), returncode=128, stderr="fatal: repository not found")
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: failed)
    with pytest.raises(RuntimeError, match="git clone .* failed:\nfatal: repository not found"):
        exec(colab.SETUP_SOURCE, {})


@pytest.mark.parametrize("ps", PROBLEM_SETS)
def test_visible_tests_are_what_nbgrader_releases(ps):
    nb = nbformat.read(SOURCES / ps / f"{ps}.ipynb", as_version=4)
    released, _ = ClearHiddenTests().preprocess(nb, {})
    expected = [
        (c.metadata.nbgrader.grade_id, c.metadata.nbgrader.points, c.source)
        for c in released.cells
        if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("grade")
    ]
    assert selfcheck.visible_tests(ps) == expected and expected
    assert selfcheck.visible_tests(ps.split("_")[0]) == expected


def _solved(ps):
    """The namespace of the source notebook run up to its tests: what a student who solved
    every problem has."""
    namespace = {}
    for cell in nbformat.read(SOURCES / ps / f"{ps}.ipynb", as_version=4).cells:
        if cell.cell_type == "code" and not cell.metadata["nbgrader"].get("grade"):
            exec(selfcheck.strip_hidden(cell.source), namespace)
    return namespace


@pytest.mark.parametrize("ps", PROBLEM_SETS)
def test_check_passes_the_solutions(ps, capsys):
    passed = d2lseg.check(ps, _solved(ps))
    assert passed and all(passed.values())
    lines = capsys.readouterr().out.splitlines()
    assert lines[-1].startswith(f"{len(passed)} of {len(passed)} visible tests passed")


def test_check_reports_a_wrong_answer_and_reads_the_callers_globals(capsys):
    namespace = _solved("ps02_transposed_as_conv")
    namespace["insert_zeros"] = lambda X, stride: X  # inserts nothing
    exec("result = d2lseg.check('ps02')", {**namespace, "d2lseg": d2lseg})
    out = capsys.readouterr().out
    assert "insert-zeros-tests (2 points): FAILED" in out and "AssertionError" in out
    assert "visible tests passed" in out.splitlines()[-1]


def test_check_of_an_unknown_problem_set_names_the_known_ones():
    with pytest.raises(ValueError, match="problem_set must be one of ps01_voc_augmentation, "):
        d2lseg.check("ps99", {})
