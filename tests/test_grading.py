"""The grader against a class of cheats: `assignments/grade.py` (what `make grade` runs) grades
the cheat catalogue of `tests/assignment_cheats/` with two honest students and two bad
submissions (not a notebook; a symbolic link to the source), in a copy of the course, once.
Every cheat gets only the points of its real work, the honest students full marks, nothing
outside the sandbox changes, no process survives, and the two bad submissions are listed as not
graded (and only they). Also: the static integrity check, and the refusal without bubblewrap.
"""

import contextlib
import csv
import hashlib
import html
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
from test_assignments import (
    COURSE,
    by_grade_id,
    copy_course,
    grades,
    nbgrader_meta,
    read_nb,
    run_nbgrader,
    submit,
)

sys.path.insert(0, str(COURSE))
from grading.integrity import cell_hits  # noqa: E402
from grading.problems import PROBLEM_SETS, SUSPICIOUS_NAMES  # noqa: E402

CHEATS = Path(__file__).parent / "assignment_cheats"
ANSWERS = Path(__file__).parent / "assignment_answers"
REUSED = "# from assignment_answers: "  # a cheat's honest cell, written once in ANSWERS
HONEST = {"alice": "ps05_class_imbalance", "bob": "ps02_transposed_as_conv"}
MARKER = "cheat-marker"


def catalogue():
    """{student: (problem set, [points of problem 1, problem 2], [answer cell sources])}.
    GRADING_CHEATS=name,name grades only those (to watch a guard's test fail when it is off)."""
    found, only = {}, os.environ.get("GRADING_CHEATS")
    for path in sorted(CHEATS.glob("*.py")):
        if only and path.stem not in only.split(","):
            continue
        header, _, body = path.read_text().partition("\n")
        ps, *points = header.lstrip("# ").split()
        cells = [_honest(ps, cell) for cell in body.split("# ---\n")]
        found[path.stem] = (ps, [float(p) for p in points], cells)
    return found


def _honest(ps, cell):
    """A cell; the line `# from assignment_answers: right-a/<grade id>.py` stands for that
    honest answer of the problem set (which test_assignments grades full marks)."""
    if not cell.startswith(REUSED):
        return cell
    return (ANSWERS / ps / cell.removeprefix(REUSED).strip()).read_text()


def snapshot(course):
    """sha256 of every file of the course that grading must not change."""
    kept = {}
    for path in sorted(course.rglob("*")):
        relative = path.relative_to(course)
        if relative.parts[0] in ("source", "submitted", "release") or path.suffix == ".py":
            if path.is_file():
                kept[str(relative)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return kept


def leftovers():
    """Files and processes the cheats would leave behind."""
    files = [str(p) for p in Path("/tmp").glob(f"{MARKER}*")]
    files += [p for p in (os.path.expanduser(f"~/{MARKER}"),) if os.path.exists(p)]
    processes = []
    for proc in Path("/proc").iterdir():
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            owner = (proc / "status").read_text().split("Uid:")[1].split()[0]
        except (OSError, IndexError):
            continue
        if MARKER in cmdline or (owner == "65534" and "sleep 600" in cmdline):
            processes.append(cmdline)
    return files, processes


@pytest.fixture(scope="module")
def graded_class(tmp_path_factory):
    course = copy_course(tmp_path_factory, "class")
    result = run_nbgrader(course, "generate_assignment", "*")
    assert result.returncode == 0, result.stderr
    (course / "grading_secret").write_text("tests")
    for student, ps in HONEST.items():
        submit(course, student, ps)
    for student, (ps, _, answers) in catalogue().items():

        def edit(nb, source, answers=answers):
            cells = [c for c in nb.cells if nbgrader_meta(c).get("solution")]
            code = [c for c in cells if c.cell_type == "code"]
            for cell, text in zip(code, answers, strict=False):
                cell.source = text.replace("COURSE", str(course))

        submit(course, student, ps, edit)
    broken = course / "submitted" / "broken" / "ps05_class_imbalance"
    broken.mkdir(parents=True)
    (broken / "ps05_class_imbalance.ipynb").write_text('{"cells": [')
    linked = course / "submitted" / "linked" / "ps05_class_imbalance"  # the source's solutions
    linked.mkdir(parents=True)
    source = course / "source" / "ps05_class_imbalance" / "ps05_class_imbalance.ipynb"
    (linked / "ps05_class_imbalance.ipynb").symlink_to(source)
    before = snapshot(course)
    assert leftovers() == ([], []), "clean before grading"
    env = dict(os.environ)
    env.pop("UNSAFE_GRADING", None)
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, str(course / "grade.py")],
        capture_output=True,
        text=True,
        timeout=1200,
        env=env,
    )
    seconds = time.perf_counter() - start
    time.sleep(9)  # past the moment the detached process would write its file
    return course, result, before, seconds


def test_every_cheat_gets_only_the_points_of_its_real_work(graded_class):
    course, result, _, _ = graded_class
    graded = len(catalogue()) + len(HONEST)
    assert f"Autograded {graded} new submission(s)" in result.stdout, result.stdout
    got, expected = {}, {}
    for student, (ps, points, _) in catalogue().items():
        got[student] = [score for score, _ in grades(course, ps, student).values()]
        expected[student] = points
    assert got == expected


def test_honest_students_get_full_marks(graded_class):
    course, _, _, _ = graded_class
    for student, ps in HONEST.items():
        assert all(s == m for s, m in grades(course, ps, student).values()), student
    rows = list(csv.DictReader((course / "grades.csv").read_text().splitlines()))
    scores = {(r["student_id"], r["assignment"]): float(r["score"]) for r in rows}
    assert scores["alice", "ps05_class_imbalance"] == 5.0
    assert scores["bob", "ps02_transposed_as_conv"] == 5.0
    assert scores["patches_checkers", "ps05_class_imbalance"] == 2.0


def test_nothing_outside_the_sandbox_changed_and_no_process_survives(graded_class):
    course, _, before, _ = graded_class
    assert snapshot(course) == before, "the sources, submissions and course files are as they were"
    assert not list(course.rglob(f"{MARKER}*"))
    assert leftovers() == ([], [])
    # closing(): sqlite3's own context manager commits but does not close, and Python 3.13
    # reports the unclosed connection (a ResourceWarning, an error here) wherever it is collected.
    with contextlib.closing(sqlite3.connect(course / "gradebook.db")) as db:
        assert db.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall() == []
    assert not [p for p in Path("/tmp").glob("d2lseg-grade-*")], "scratch folders removed"


def test_only_the_bad_submissions_are_listed_as_not_graded(graded_class):
    course, result, _, _ = graded_class
    listed = [line for line in result.stdout.splitlines() if line.startswith("NOT GRADED")]
    assert listed == [
        "NOT GRADED broken/ps05_class_imbalance: ps05_class_imbalance.ipynb is not a readable "
        "notebook (NotJSONError)",
        "NOT GRADED linked/ps05_class_imbalance: contains a symbolic link",
    ], result.stdout
    assert result.returncode == 1
    assert (course / "grades.csv").exists() and (course / "integrity.csv").exists()


def feedback_text(course, student, ps):
    page = (course / "feedback" / student / ps / f"{ps}.html").read_text()
    return html.unescape(re.sub(r"<[^>]+>", "", page))


def test_feedback_names_what_stopped_and_never_shows_hidden_tests(graded_class):
    course, _, _, _ = graded_class
    ps = "ps05_class_imbalance"
    source = read_nb(COURSE / "source" / ps / f"{ps}.ipynb").cells
    hidden = "".join(c.source.partition("### BEGIN HIDDEN TESTS")[2] for c in source)
    hidden_lines = {line.strip() for line in hidden.splitlines() if len(line.strip()) > 12}
    for student, (cheat_ps, _, cells) in catalogue().items():
        text, own = feedback_text(course, student, cheat_ps), "".join(cells)
        # A line of the student's own code may also be a hidden test's ("for image in labels:").
        assert not [line for line in hidden_lines if line in text and line not in own], student
    assert "kernel died" in feedback_text(course, "dies", ps)
    assert "time limit of 20 s" in feedback_text(course, "hangs", ps)
    assert "hidden cases" in feedback_text(course, "frame_reader", ps)
    # The answer with the marker: its feedback was written, its code shown.
    assert "Right, with the hidden-tests marker" in feedback_text(course, "marker", ps)


def test_integrity_report_names_the_shortcuts(graded_class):
    course, _, _, _ = graded_class
    rows = list(csv.DictReader((course / "integrity.csv").read_text().splitlines()))
    found = {}
    for row in rows:
        found.setdefault(row["student"], []).append(f"{row['kind']}: {row['finding']}")
    assert not found.get("alice") and not found.get("bob"), "no finding for honest work"
    assert any("torch.nn.grad" in f for f in found["aten_ops"])
    assert any("run time: called aten.convolution(transposed)" == f for f in found["aten_ops"])
    assert any("torch.ops" in f for f in found["aten_ops"])
    assert any("run time" in f for f in found["default_arg"])
    assert any("conv_transpose2d" in f and "static" in f for f in found["default_arg"])
    assert any("torch._C" in f for f in found["private_loss"])
    assert any("run time: called aten.nll_loss" in f for f in found["private_loss"])
    assert any("_getframe" in f for f in found["frame_reader"])
    assert any("get_ipython" in f for f in found["input_transformer"])
    assert any("hidden-tests marker" in f for f in found["marker"])
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        ps = "ps02_transposed_as_conv"
        comment = gb.find_comment("trans-conv-as-conv", ps, ps, "aten_ops").auto_comment
    assert "Integrity check" in comment and "aten.convolution(transposed)" in comment


def test_grading_stays_under_60_s_per_notebook(graded_class):
    _, _, _, seconds = graded_class
    # One notebook spends 20 s in a hang; the broken one costs nothing. About 12 s a notebook
    # on a quiet 2-core CPU, 21 s under a load of 7: the bound only catches a grader that runs
    # a notebook many times over, not a slow machine.
    assert (seconds - 20) / (len(catalogue()) + len(HONEST)) < 60, seconds


@pytest.mark.parametrize(
    "code, expected",
    [
        ("y = torch.ops.aten.conv_transpose2d.input(x, k)", "torch.ops"),
        ("y = torch.nn.grad.conv2d_input(s, k, x)", "torch.nn.grad"),
        ("loss = torch._C._nn.cross_entropy_loss(a, b)", "torch._C"),
        ("def f(x, _ct=F.conv_transpose2d):\n    return _ct(x)", "conv_transpose2d"),
        ("from scipy.ndimage import zoom\ny = zoom(x, 2, order=1)", "scipy"),
        ("y = d2lseg.trans_conv_multi(X, K)", "d2lseg"),
        ("f = getattr(F, 'conv_' + 'transpose2d')", "getattr"),
        ("m = importlib.import_module('torch')", "importlib"),
        ("m = __import__('torch')", "__import__"),
        ("exec(open('x').read())", "exec"),
        ("y = eval('1')", "eval"),
        ("f = sys._getframe(2).f_locals", "_getframe"),
        ("import gc\ngc.get_objects()", "gc"),
        ("import ctypes", "ctypes"),
        ("!cat ../../../source/*/*.ipynb", "get_ipython"),
    ],
)
def test_static_check_finds_forbidden_names(code, expected):
    tokens = SUSPICIOUS_NAMES + ("conv_transpose2d", "interpolate", "zoom")
    assert [hit for hit in cell_hits(code, tokens) if expected in hit], cell_hits(code, tokens)


def test_static_check_is_silent_on_the_solutions():
    for ps, problems in PROBLEM_SETS.items():
        cells = by_grade_id(read_nb(COURSE / "source" / ps / f"{ps}.ipynb"))
        for problem in problems:
            tokens = SUSPICIOUS_NAMES + problem.forbidden_names
            assert cell_hits(cells[problem.answer_id].source, tokens) == [], problem.answer_id
        assert {p.test_id for p in problems} == {
            gid for gid, c in cells.items() if c.cell_type == "code" and nbgrader_meta(c)["grade"]
        }, f"{ps}: every autograded test cell has its hidden cases"


def test_grading_refuses_without_bubblewrap(tmp_path):
    course = tmp_path / "assignments"
    shutil.copytree(COURSE, course, ignore=shutil.ignore_patterns("submitted", "__pycache__"))
    folder = course / "submitted" / "ada" / "ps05_class_imbalance"
    folder.mkdir(parents=True)
    nbformat.write(nbformat.v4.new_notebook(), folder / "ps05_class_imbalance.ipynb")
    env = {k: v for k, v in os.environ.items() if k != "UNSAFE_GRADING"}
    env["PATH"] = str(Path(sys.executable).parent)  # no bwrap on it
    result = subprocess.run(
        [sys.executable, str(course / "grade.py")], capture_output=True, text=True, env=env
    )
    assert result.returncode == 2 and "UNSAFE_GRADING=1" in result.stdout
    assert len(result.stdout.strip().splitlines()) == 1, result.stdout
    assert not (course / "gradebook.db").exists()


@pytest.mark.skipif(shutil.which("bwrap") is None, reason="needs bubblewrap")
def test_sandbox_sees_an_environment_under_tmp(tmp_path, monkeypatch):
    # A course cloned under /tmp (so its .venv and d2lseg are there) stays visible inside the
    # sandbox's private /tmp: the binds are made inside it, not hidden by it.
    from grading import sandbox

    shown = tmp_path / "venv"
    shown.mkdir(mode=0o755)
    (shown / "marker").write_text("seen")
    (shown / "marker").chmod(0o644)
    paths = sandbox._read_only_paths()
    monkeypatch.setattr(sandbox, "_read_only_paths", lambda: [*paths, str(shown)])
    scratch = tmp_path / "scratch"
    (scratch / "in").mkdir(parents=True)
    (scratch / "out").mkdir()
    args = sandbox.command(str(scratch))
    args = args[: args.index("prlimit")] + ["cat", str(shown / "marker")]
    result = subprocess.run(args, capture_output=True, text=True)
    assert str(tmp_path).startswith("/tmp/") and result.stdout == "seen", result.stderr
