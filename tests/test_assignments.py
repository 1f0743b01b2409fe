"""The nbgrader problem sets in `assignments/`, graded by nbgrader in a temporary copy (each
notebook in the sandbox, the problems scored outside it: `assignments/grading/`).

For every problem set: the student version hides the solutions, the hidden tests and the
outputs; autograding gives the untouched student version 0 points, the source's solutions and
the independent correct answers of `tests/assignment_answers/` full points, and its typical
wrong answers no points for the problems they answer, with feedback naming the kind of case
that failed. Then
the submissions that misbehave (stderr, exceptions, an endless loop, deleted and edited test
cells) get exactly the points they earned, and the feedback does not show the hidden tests.
The strict nbval run of the source notebooks themselves is in the Makefile's `test` target.
"""

import html
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
COURSE = ROOT / "assignments"
sys.path.insert(0, str(COURSE))
from grading.problems import PROBLEM_SETS as GRADED  # noqa: E402

ANSWERS = Path(__file__).parent / "assignment_answers"
PROBLEM_SETS = sorted(p.name for p in (COURSE / "source").iterdir() if p.name.startswith("ps"))
MARKERS = ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS")
ROBUST = "ps05_class_imbalance"  # its two problems are independent of each other
SECONDS_PER_SUBMISSION = 20
FEEDBACK = "# feedback: "  # first line of a wrong answer: what its feedback must say

NOISY = '''
_quiet_median_frequency_weights = median_frequency_weights


def median_frequency_weights(*args, **kwargs):
    """Right, but it warns and writes on stderr, as libraries do."""
    import sys
    import warnings

    warnings.warn("a library's deprecation warning", DeprecationWarning, stacklevel=1)
    print("progress: 100%", file=sys.stderr)
    return _quiet_median_frequency_weights(*args, **kwargs)
'''
RAISES = """
def median_frequency_weights(labels, num_classes, ignore_index=VOID):
    raise ValueError("not done yet")
"""
LOOPS = """
def weighted_cross_entropy(logits, target, weight, ignore_index=VOID):
    while True:
        pass
"""


def nbgrader_meta(cell):
    return cell.metadata.get("nbgrader", {})


def by_grade_id(nb):
    return {nbgrader_meta(c)["grade_id"]: c for c in nb.cells if "grade_id" in nbgrader_meta(c)}


def read_nb(path):
    return nbformat.read(path, as_version=4)


def run_nbgrader(course, *args):
    """Run nbgrader in `course` as `make grade` does: the environment's bin/ first on PATH."""
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    return subprocess.run(
        [sys.executable, "-m", "nbgrader", *args],
        cwd=course,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def answered(course, ps, edit=None):
    """The student version of `ps`, its code solutions filled in from the source. `edit` gets
    the notebook and the source's cells by grade_id first."""
    release = read_nb(course / "release" / ps / f"{ps}.ipynb")
    source = by_grade_id(read_nb(course / "source" / ps / f"{ps}.ipynb"))
    for grade_id, cell in by_grade_id(release).items():
        if cell.cell_type == "code" and nbgrader_meta(cell).get("solution"):
            cell.source = source[grade_id].source
    if edit is not None:
        edit(release, source)
    return release


def submit(course, student, ps, edit=None):
    """Write `answered(course, ps, edit)` as the submission of `student`."""
    folder = course / "submitted" / student / ps
    folder.mkdir(parents=True)
    nbformat.write(answered(course, ps, edit), folder / f"{ps}.ipynb")


def replace_cells(**sources):
    def edit(nb, source):
        for grade_id, text in sources.items():
            by_grade_id(nb)[grade_id].source = text

    return edit


def answer_students(ps):
    """The students of `tests/assignment_answers/<ps>/`: right-* and wrong-*."""
    return sorted(p.name for p in (ANSWERS / ps).iterdir() if p.is_dir())


def answers(ps, student):
    """{answer cell grade_id: source} of one student of `tests/assignment_answers/`."""
    return {p.stem: p.read_text() for p in sorted((ANSWERS / ps / student).glob("*.py"))}


def shown_in(cell):
    """What a graded test cell shows: the grader's verdict and the visible tests' output."""
    texts = [out.get("text", "") for out in cell.outputs]
    texts += [f"{out.get('ename')}: {out.get('evalue')}" for out in cell.outputs if "ename" in out]
    return "".join(texts)


def untouched(course, ps):
    folder = course / "submitted" / "untouched" / ps
    shutil.copytree(course / "release" / ps, folder)


def copy_course(tmp_path_factory, name):
    """A copy of the course's sources and settings, without anything grading made."""
    course = tmp_path_factory.mktemp(name) / "assignments"
    shutil.copytree(
        COURSE,
        course,
        ignore=shutil.ignore_patterns(
            "release",
            "submitted",
            "autograded",
            "feedback",
            "feedback_zips",
            "gradebook.db",
            "grades.csv",
            "integrity.csv",
            "grading_secret",
            "grading_records",
            "__pycache__",
            ".ipynb_checkpoints",
        ),
    )
    return course


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """A copy of the course, its student versions generated, and per problem set the untouched
    version, the solutions and the answers of `tests/assignment_answers/` autograded (one
    nbgrader call per problem set, timed per submission)."""
    course = copy_course(tmp_path_factory, "course")
    result = run_nbgrader(course, "generate_assignment", "*")  # as `make assignments`
    assert result.returncode == 0, result.stderr
    (course / "grading_secret").write_text("tests")  # the same hidden cases on every run
    for ps in PROBLEM_SETS:
        untouched(course, ps)
        submit(course, "solutions", ps)
        for student in answer_students(ps):
            submit(course, student, ps, replace_cells(**answers(ps, student)))
    seconds = {}
    for ps in PROBLEM_SETS:
        start = time.perf_counter()
        result = run_nbgrader(course, "autograde", ps)
        seconds[ps] = (time.perf_counter() - start) / (2 + len(answer_students(ps)))
        assert result.returncode == 0, result.stderr
    return course, seconds


def grades(course, ps, student):
    """{test cell grade_id: (score, max score)} of the autograded test cells, from nbgrader's
    gradebook."""
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        nb = gb.find_submission_notebook(ps, ps, student)
        return {g.name: (g.score, g.max_score) for g in nb.grades if g.cell_type == "code"}


@pytest.mark.parametrize("ps", PROBLEM_SETS)
def test_source_has_tests_with_hidden_oracles_and_a_written_question(ps):
    cells = list(by_grade_id(read_nb(COURSE / "source" / ps / f"{ps}.ipynb")).values())
    tests = [c for c in cells if nbgrader_meta(c)["grade"] and c.cell_type == "code"]
    written = [c for c in cells if nbgrader_meta(c)["grade"] and c.cell_type == "markdown"]
    assert 2 <= len(tests) <= 4 and written
    assert all(nbgrader_meta(c)["locked"] and "### BEGIN HIDDEN TESTS" in c.source for c in tests)
    assert all(nbgrader_meta(c)["solution"] and nbgrader_meta(c)["points"] > 0 for c in written)
    intro = cells[0].source
    assert f"](../../../notebooks/{ps[2:4]}_" in intro, "the intro links its chapter notebook"


@pytest.mark.parametrize("ps", PROBLEM_SETS)
def test_release_has_no_solution_hidden_test_or_output(course, ps):
    course, _ = course
    release = read_nb(course / "release" / ps / f"{ps}.ipynb")
    source = by_grade_id(read_nb(course / "source" / ps / f"{ps}.ipynb"))
    text = nbformat.writes(release)
    assert not [m for m in MARKERS if m in text]
    for cell in release.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None
    for grade_id, cell in by_grade_id(release).items():
        hidden = source[grade_id].source.partition("### BEGIN HIDDEN TESTS")[2]
        solution = source[grade_id].source.partition("### BEGIN SOLUTION")[2]
        secret = (hidden + solution).partition("### END")[0]
        lines = {line.strip() for line in secret.splitlines() if len(line.strip()) > 12}
        assert not [line for line in lines if line in cell.source], grade_id


@pytest.mark.parametrize("ps", PROBLEM_SETS)
def test_every_code_problem_has_two_right_and_two_wrong_answers(ps):
    for problem in GRADED[ps]:
        found = {"right": 0, "wrong": 0}
        for student in answer_students(ps):
            source = answers(ps, student).get(problem.answer_id)
            if source is not None:
                found[student.partition("-")[0]] += 1
                assert student.startswith("right") or source.startswith(FEEDBACK), student
        assert found["right"] >= 2 and found["wrong"] >= 2, (problem.answer_id, found)


@pytest.mark.parametrize("ps", PROBLEM_SETS)
def test_untouched_zero_solutions_and_right_answers_full(course, ps):
    course, _ = course
    untouched_grades = grades(course, ps, "untouched")
    solution_grades = grades(course, ps, "solutions")
    assert sum(points for _, points in solution_grades.values()) > 0
    assert set(untouched_grades) == set(solution_grades)
    assert all(score == 0 for score, _ in untouched_grades.values()), untouched_grades
    for student in ["solutions", *(s for s in answer_students(ps) if s.startswith("right"))]:
        got = grades(course, ps, student)
        assert all(score == points for score, points in got.values()), (student, got)


@pytest.mark.parametrize("ps", PROBLEM_SETS)
def test_wrong_answers_lose_their_problems_and_say_which_case_failed(course, ps):
    course, _ = course
    for student in (s for s in answer_students(ps) if s.startswith("wrong")):
        got = grades(course, ps, student)
        graded = by_grade_id(read_nb(course / "autograded" / student / ps / f"{ps}.ipynb"))
        for problem in GRADED[ps]:
            source = answers(ps, student).get(problem.answer_id)
            if source is None:
                continue
            assert got[problem.test_id][0] == 0, (student, problem.test_id)
            expected = source.partition("\n")[0].removeprefix(FEEDBACK)
            shown = shown_in(graded[problem.test_id])
            assert expected in shown and "hidden cases)" in shown, (student, shown)


@pytest.mark.parametrize("ps", PROBLEM_SETS)
def test_each_submission_autogrades_in_under_20_s(course, ps):
    _, seconds = course
    assert seconds[ps] < SECONDS_PER_SUBMISSION, seconds


def test_misbehaving_submissions_get_exactly_what_they_earned(course):
    course, _ = course
    wrong_loss = answers(ROBUST, "wrong-a")["weighted-cross-entropy"]

    def noisy_and_deleted(nb, source):
        by_grade_id(nb)["median-frequency"].source = source["median-frequency"].source + NOISY
        by_grade_id(nb)["weighted-cross-entropy"].source = wrong_loss
        nb.cells.remove(by_grade_id(nb)["median-frequency-tests"])

    def raises_and_edited(nb, source):
        by_grade_id(nb)["median-frequency"].source = RAISES
        edited = by_grade_id(nb)["median-frequency-tests"]
        edited.source, nbgrader_meta(edited)["points"] = "pass", 100
        nb.metadata.kernelspec.name = "a-kernel-the-grader-lacks"

    submit(course, "noisy", ROBUST, noisy_and_deleted)
    submit(course, "raises", ROBUST, raises_and_edited)
    submit(course, "loops", ROBUST, replace_cells(**{"weighted-cross-entropy": LOOPS}))
    result = run_nbgrader(course, "autograde", ROBUST)
    assert result.returncode == 0, result.stderr

    median, loss = "median-frequency-tests", "weighted-cross-entropy-tests"
    # The deleted test cell was put back and run; its stderr output cost nothing.
    assert grades(course, ROBUST, "noisy") == {median: (2, 2), loss: (0, 3)}
    # The exception costs its own problem only; the edited test cell was restored, points too;
    # the notebook ran on python3, whatever kernel its metadata named.
    assert grades(course, ROBUST, "raises") == {median: (0, 2), loss: (3, 3)}
    # The endless loop was interrupted at the cell timeout; the cells after it still ran.
    assert grades(course, ROBUST, "loops") == {median: (2, 2), loss: (0, 3)}
    graded = read_nb(course / "autograded" / "noisy" / ROBUST / f"{ROBUST}.ipynb")
    outputs = by_grade_id(graded)[median].outputs
    assert any("progress: 100%" in out.get("text", "") for out in outputs), "stderr text is kept"


def test_feedback_does_not_show_hidden_tests(course):
    course, _ = course
    ps = "ps04_bilinear_resize"
    result = run_nbgrader(course, "generate_feedback", ps, "--student", "wrong-a")
    assert result.returncode == 0, result.stderr
    page = (course / "feedback" / "wrong-a" / ps / f"{ps}.html").read_text()
    text = html.unescape(re.sub(r"<[^>]+>", "", page))  # the code, without its highlighting
    source = read_nb(course / "source" / ps / f"{ps}.ipynb").cells
    hidden = "".join(c.source.partition("### BEGIN HIDDEN TESTS")[2] for c in source)
    hidden_lines = {line.strip() for line in hidden.splitlines() if len(line.strip()) > 12}
    assert len(hidden_lines) > 5 and "HIDDEN TESTS" not in text
    assert not [line for line in hidden_lines if line in text]
    assert "AssertionError: " in text and " hidden cases)" in text, "the failure is reported"
    assert 'bilinear_resize(x, (4, 4)), x, msg="same size: unchanged")' in text, "visible tests"
