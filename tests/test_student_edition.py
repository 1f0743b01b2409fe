"""`make student-edition DIR=...` (assignments/student_edition.py): the tree it writes holds the
course's public material and the released problem sets, and nothing secret: grepping every file
of it finds no solution or hidden-test marker, no line of a model answer, a hidden test or a
written answer's rubric (lines that are also in the public material excepted: the released
notebooks, the chapter notebooks, d2lseg), no grader, no gradebook, no grading secret. It
refuses a DIR inside the repository or not empty.
"""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from test_assignments import COURSE, PROBLEM_SETS, nbgrader_meta, read_nb

ROOT = COURSE.parent
SCRIPT = COURSE / "student_edition.py"
MARKERS = ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS")


def build(target):
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    return subprocess.run(
        [sys.executable, str(SCRIPT), str(target)], capture_output=True, text=True, env=env
    )


def secret_and_public_lines():
    """The lines of the sources' solutions, hidden tests and written answers, and the lines of
    the public rest (the sources outside those regions, notebooks/, d2lseg/)."""
    secret, public = set(), set()
    for ps in PROBLEM_SETS:
        for cell in read_nb(COURSE / "source" / ps / f"{ps}.ipynb").cells:
            meta = nbgrader_meta(cell)
            if cell.cell_type == "markdown" and meta.get("solution"):
                secret |= set(cell.source.splitlines())
                continue
            inside = False
            for line in cell.source.splitlines():
                if "BEGIN SOLUTION" in line or "BEGIN HIDDEN TESTS" in line:
                    inside = True
                elif "END SOLUTION" in line or "END HIDDEN TESTS" in line:
                    inside = False
                else:
                    (secret if inside else public).add(line)
    for path in [*(ROOT / "notebooks").glob("*.ipynb"), *(ROOT / "d2lseg").rglob("*.py")]:
        text = path.read_text()
        public |= set(text.splitlines())
        if path.suffix == ".ipynb":  # the notebook's cells, not the JSON around them
            public |= {line for c in read_nb(path).cells for line in c.source.splitlines()}
    shown = "\n".join(public)  # a secret line may also be part of a shown one
    return {s.strip() for s in secret if len(s.strip()) > 12 and s.strip() not in shown}


@pytest.fixture(scope="module")
def edition(tmp_path_factory):
    target = tmp_path_factory.mktemp("edition") / "d2lseg-student"
    result = build(target)
    assert result.returncode == 0, result.stdout + result.stderr
    return target


def text_files(tree):
    for path in sorted(tree.rglob("*")):
        if path.is_file():
            yield path, path.read_bytes().decode("utf-8", errors="replace")


def test_the_edition_holds_the_course_and_the_released_problem_sets(edition):
    top = sorted(p.name for p in edition.iterdir())
    assert top == [
        "Makefile",
        "README.md",
        "assignments",
        "constraints-py313.txt",
        "constraints.txt",
        "d2lseg",
        "data",
        "environment.yml",
        "notebooks",
        "pyproject.toml",
    ]
    assert sorted(p.name for p in (edition / "assignments").iterdir()) == ["release"]
    for ps in PROBLEM_SETS:
        nb = read_nb(edition / "assignments" / "release" / ps / f"{ps}.ipynb")
        assert any("YOUR CODE HERE" in c.source for c in nb.cells)
        assert all(c.get("outputs", []) == [] for c in nb.cells), "no outputs"
        links = re.findall(r"\]\((\.\./[^)#]+)", "".join(c.source for c in nb.cells))
        for link in links:  # the chapter notebooks they link are there
            path = (edition / "assignments" / "release" / ps / link).resolve()
            assert path.is_file() and edition in path.parents, link
    notebooks = sorted(p.name for p in (edition / "notebooks").glob("*.ipynb"))
    assert notebooks == sorted(p.name for p in (ROOT / "notebooks").glob("*.ipynb"))
    assert (edition / "d2lseg" / "sample.py").is_file() and (
        edition / "data" / "README.md"
    ).is_file()
    assert not list(edition.rglob("__pycache__")) and not list(edition.rglob(".ipynb_checkpoints"))


def test_no_solution_hidden_test_or_grader_anywhere_in_the_tree(edition):
    secret = secret_and_public_lines()
    assert len(secret) > 50, "the check has model-answer lines to look for"
    names = {p.name for p in edition.rglob("*")}
    for forbidden in ("source", "grading", "gradebook.db", "grading_secret", "problems.py"):
        assert forbidden not in names
    for forbidden in ("grade.py", "course_preprocessors.py", "nbgrader_config.py", "tests"):
        assert forbidden not in names
    found = []
    # d2lseg.selfcheck names the hidden-test markers: it is the code that strips them.
    stripper = edition / "d2lseg" / "selfcheck.py"
    for path, text in text_files(edition):
        found += [f"{path}: {m}" for m in MARKERS if m in text and path != stripper]
        found += [f"{path}: {line}" for line in secret if line in text]
    assert found == []


def test_the_makefile_has_no_grading_target(edition):
    makefile = (edition / "Makefile").read_text()
    for target in ("lab", "data", "clean"):
        assert re.search(rf"^{target}:", makefile, re.M), target
    for gone in ("grade", "assignments", "collect", "feedback-zip", "student-edition", "test"):
        assert not re.search(rf"^{gone}:", makefile, re.M), gone
    dry = subprocess.run(["make", "-n", "lab"], cwd=edition, capture_output=True, text=True)
    assert dry.returncode == 0 and "jupyter lab" in dry.stdout, dry.stderr
    dry = subprocess.run(["make", "-n", "grade"], cwd=edition, capture_output=True, text=True)
    assert dry.returncode != 0 and "No rule to make target" in dry.stderr


def test_the_readme_is_the_students(edition):
    readme = (edition / "README.md").read_text()
    assert "student edition" in readme and "make lab" in readme
    assert "make grade" not in readme and "assignments/source" not in readme


@pytest.mark.parametrize("where", ["inside", "not empty", "a file"])
def test_refuses_a_dir_inside_the_repository_or_not_empty(where, tmp_path):
    target = {
        "inside": ROOT / "assignments" / "release-for-students",
        "not empty": tmp_path,
        "a file": tmp_path / "file",
    }[where]
    (tmp_path / "file").write_text("x")
    result = build(target)
    assert result.returncode == 2 and len(result.stdout.strip().splitlines()) == 1, result.stdout
    assert not (ROOT / "assignments" / "release-for-students").exists()
    assert os.listdir(tmp_path) == ["file"]


def test_an_empty_dir_is_filled(tmp_path):
    target = tmp_path / "empty"
    target.mkdir()
    result = build(target)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (target / "Makefile").is_file()
    assert os.listdir(tmp_path) == ["empty"], "no staging folder left"
    shutil.rmtree(target)
