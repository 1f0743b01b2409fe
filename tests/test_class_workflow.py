"""A class of three, from an LMS download to one feedback archive per student, through the
course's own scripts and nbgrader's own grading (each notebook in the sandbox, as `make grade`):

- ada hands in on Canvas on time, grace on Canvas 36 hours late (Canvas marks her file LATE),
  alan on Moodle a wrong answer under a browser's duplicate name, next to an older copy and a
  file of no problem set; `make collect` places three notebooks and reports the other two;
- `make grade` grades them with ps05's due date: grace loses 20 % (two started days), as
  nbgrader's gradebook and grades.csv say; a hand-made submission dated 2031 is not graded;
- alan's corrected resubmission, in a later download, replaces his first notebook, and the next
  `make grade` grades it again, and only it;
- `make feedback-zip` writes one archive per graded student.
"""

import csv
import datetime
import os
import subprocess
import sys
import zipfile

import nbformat
import pytest
from test_assignments import answered, answers, copy_course, replace_cells, run_nbgrader
from test_collect import make_zip

PS = "ps05_class_imbalance"
# A whole minute: a zip stores times to 2 seconds, so an odd second would be read back 1 s early.
NOW = datetime.datetime.now(datetime.UTC).replace(tzinfo=None, second=0, microsecond=0)
DUE = NOW - datetime.timedelta(days=7)


def at(when):
    return when.timetuple()[:6]


def run(course, script, *args):
    env = {k: v for k, v in os.environ.items() if k != "UNSAFE_GRADING"}
    env["PATH"] = f"{os.path.dirname(sys.executable)}{os.pathsep}{env['PATH']}"
    return subprocess.run(
        [sys.executable, str(course / script), *args],
        capture_output=True,
        text=True,
        timeout=900,
        env=env,
    )


def submission(course, student):
    """(raw score, late penalty, seconds late) of `student`'s ps05 in nbgrader's gradebook."""
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        sub = gb.find_submission(PS, student)
        return sub.score, sub.late_submission_penalty, sub.total_seconds_late


def exported(course):
    rows = csv.DictReader((course / "grades.csv").read_text().splitlines())
    return {r["student_id"]: r for r in rows if r["assignment"] == PS}


@pytest.fixture(scope="module")
def semester(tmp_path_factory):
    course = copy_course(tmp_path_factory, "semester")
    assert run_nbgrader(course, "generate_assignment", PS).returncode == 0
    (course / "grading_secret").write_text("tests")
    with open(course / "nbgrader_config.py", "a") as f:
        f.write(f"\nc.LatePenalty.due_dates = {{{PS!r}: '{DUE.isoformat()}+00:00'}}\n")
    right = nbformat.writes(answered(course, PS)).encode()
    # One of the two problems wrong: a partial score.
    one_wrong = {"median-frequency": answers(PS, "wrong-a")["median-frequency"]}
    wrong = nbformat.writes(answered(course, PS, replace_cells(**one_wrong))).encode()
    moodle = "Alan Turing_31_assignsubmission_file_/"
    first = make_zip(
        course.parent / "first.zip",
        [
            (f"lovelaceada_1001_5001_{PS}.ipynb", right, at(NOW - datetime.timedelta(hours=1))),
            (
                f"hoppergrace_LATE_1002_5002_{PS}.ipynb",
                right,
                at(DUE + datetime.timedelta(hours=36)),
            ),
            (f"{moodle}{PS} (1).ipynb", wrong, at(DUE - datetime.timedelta(hours=2))),
            (f"{moodle}{PS}.ipynb", right, at(DUE - datetime.timedelta(hours=3))),
            (f"{moodle}scratch.ipynb", right, at(DUE - datetime.timedelta(hours=3))),
        ],
    )
    second = make_zip(
        course.parent / "second.zip",
        [(f"{moodle}{PS}.ipynb", right, at(DUE - datetime.timedelta(hours=1)))],
    )
    steps = {"collect": run(course, "collect.py", str(first))}
    future = course / "submitted" / "future" / PS
    future.mkdir(parents=True)
    (future / f"{PS}.ipynb").write_bytes(right)
    (future / "timestamp.txt").write_text("2031-01-01 00:00:00 UTC\n")
    steps["grade"] = run(course, "grade.py")
    steps["first_grades"] = {
        s: submission(course, s) for s in ("lovelaceada", "hoppergrace", "alan_turing")
    }
    steps["recollect"] = run(course, "collect.py", str(second))
    steps["regrade"] = run(course, "grade.py")
    steps["feedback_zip"] = run(course, "feedback_zip.py")
    return course, steps


def test_the_download_is_collected_and_what_is_not_placed_is_reported(semester):
    course, steps = semester
    result = steps["collect"]
    assert result.returncode == 1, result.stdout + result.stderr
    assert sorted(os.listdir(course / "submitted")) == [
        "alan_turing",
        "future",
        "hoppergrace",
        "lovelaceada",
    ]
    not_placed = [line for line in result.stdout.splitlines() if line.startswith("NOT PLACED")]
    assert len(not_placed) == 2, result.stdout
    assert "scratch.ipynb: its name matches no problem set id" in not_placed[0]
    assert f"{PS}.ipynb: an older copy: Alan Turing" in not_placed[1]


def test_graded_with_the_due_date_and_the_late_penalty(semester):
    course, steps = semester
    result = steps["grade"]
    assert "Autograded 3 new submission(s)" in result.stdout, result.stdout + result.stderr
    listed = [line for line in result.stdout.splitlines() if line.startswith("NOT GRADED")]
    assert listed == [
        f"NOT GRADED future/{PS}: timestamp.txt is in the future (2031-01-01 00:00 UTC): "
        "correct or delete it"
    ]
    grades = steps["first_grades"]
    full = grades["lovelaceada"][0]
    assert full > 0 and grades["lovelaceada"] == (full, 0.0, 0.0), "on time per Canvas"
    assert grades["hoppergrace"] == (full, pytest.approx(0.2 * full), 36 * 3600.0)
    assert 0 < grades["alan_turing"][0] < full and grades["alan_turing"][1] == 0, "wrong, on time"


def test_the_resubmission_replaces_the_first_and_alone_is_graded_again(semester):
    course, steps = semester
    assert f"replaced (to be graded again) alan_turing/{PS}" in steps["recollect"].stdout
    result = steps["regrade"]
    assert "Autograded 1 new submission(s)" in result.stdout, result.stdout + result.stderr
    assert f"graded again alan_turing/{PS}" in result.stdout
    full = steps["first_grades"]["lovelaceada"][0]
    assert submission(course, "alan_turing") == (full, 0.0, 0.0)
    rows = exported(course)
    assert float(rows["alan_turing"]["score"]) == full
    assert float(rows["hoppergrace"]["late_submission_penalty"]) == pytest.approx(0.2 * full)
    assert float(rows["hoppergrace"]["score"]) == pytest.approx(0.8 * full)


def test_one_feedback_archive_per_student(semester):
    course, steps = semester
    assert steps["feedback_zip"].returncode == 0, steps["feedback_zip"].stderr
    archives = sorted(os.listdir(course / "feedback_zips"))
    assert archives == ["alan_turing.zip", "hoppergrace.zip", "lovelaceada.zip"]
    for archive in archives:
        with zipfile.ZipFile(course / "feedback_zips" / archive) as z:
            assert z.namelist() == [f"{PS}/{PS}.html"]
            page = z.read(f"{PS}/{PS}.html").decode()
        assert page == (course / "feedback" / archive[:-4] / PS / f"{PS}.html").read_text()
