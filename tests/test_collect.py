"""`make collect` (assignments/collect.py) on LMS downloads built here as Canvas and Moodle write
them (Canvas: lib/content_zipper.rb, `<name>[_LATE]_<user id>_<file id>_<file>`; Moodle:
`<Full Name>_<id>_assignsubmission_file_/<file>`), in a copy of the course: where each notebook
goes, its timestamp.txt, which files are reported and why, resubmissions, and the zips it
refuses to trust. Also the late rule (`LatePenalty`) and `make feedback-zip`. No grading here:
tests/test_class_workflow.py grades a collected class.
"""

import datetime
import json
import os
import stat
import subprocess
import sys
import zipfile

import nbformat
import pytest
from test_assignments import COURSE, copy_course

sys.path.insert(0, str(COURSE))
from course_preprocessors import LatePenalty, parse_due_date  # noqa: E402

PS = "ps05_class_imbalance"
PS2 = "ps02_transposed_as_conv"
DUE = "2026-03-02T23:59:00+01:00"  # 22:59 UTC
DUE_UTC = datetime.datetime(2026, 3, 2, 22, 59)


def notebook(tag):
    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_markdown_cell(tag))
    return nbformat.writes(nb).encode()


def make_zip(path, entries):
    """entries: [(name, bytes, (y, m, d, H, M, S))]; a mode in the name's place makes a link."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data, when in entries:
            info = zipfile.ZipInfo(name, date_time=when)
            info.compress_type = zipfile.ZIP_DEFLATED
            if data is None:  # a symbolic link, as `zip --symlinks` stores it
                info.external_attr = (stat.S_IFLNK | 0o777) << 16
                data = b"../../source"
            z.writestr(info, data)
    return path


def collect(course, zip_path, *args):
    return subprocess.run(
        [sys.executable, str(course / "collect.py"), str(zip_path), *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def submitted(course, student, ps):
    folder = course / "submitted" / student / ps
    text = (folder / f"{ps}.ipynb").read_text()
    stamp = (folder / "timestamp.txt").read_text().strip()
    return nbformat.reads(text, as_version=4).cells[0].source, stamp


@pytest.fixture
def course(tmp_path_factory):
    course = copy_course(tmp_path_factory, "collect")
    with open(course / "nbgrader_config.py", "a") as f:
        f.write(f"\nc.LatePenalty.due_dates = {{{PS!r}: {DUE!r}, {PS2!r}: {DUE!r}}}\n")
    return course


def test_canvas_moodle_and_plain_names_are_placed_and_the_rest_reported(course, tmp_path):
    day = (2026, 3, 2)
    entries = [
        # Canvas, on time: the zip's time (made after the due date) is not the upload time.
        (f"lovelaceada_12345_901_{PS}.ipynb", notebook("ada"), (2026, 3, 5, 9, 0, 0)),
        # Canvas, LATE, a resubmission Canvas renamed -1.
        (f"hoppergrace_LATE_222_902_{PS}-1.ipynb", notebook("grace"), (2026, 3, 4, 10, 0, 0)),
        # Canvas with anonymous grading.
        (f"LATE_anon_x7Kq2_903_{PS}.ipynb", notebook("anon"), (2026, 3, 4, 11, 0, 0)),
        # Moodle, one folder per student; the browser's duplicate name.
        (
            f"Alan Turing_31_assignsubmission_file_/{PS} (1).ipynb",
            notebook("alan"),
            (*day, 20, 0, 0),
        ),
        # Moodle without folders.
        (
            f"Émilie du Châtelet_7_assignsubmission_file_{PS2}.ipynb",
            notebook("emilie"),
            (*day, 8, 0, 0),
        ),
        # Plain folders; the later copy of the same problem set wins.
        (f"class/noether/{PS}.ipynb", notebook("noether old"), (*day, 9, 0, 0)),
        (f"class/noether/{PS} (1).ipynb", notebook("noether new"), (*day, 10, 0, 0)),
        ("class/noether/my_homework.ipynb", notebook("?"), (*day, 10, 0, 0)),
        ("class/noether/notes.pdf", b"%PDF-1.4", (*day, 10, 0, 0)),
        (f"{PS}.ipynb", notebook("whose?"), (*day, 10, 0, 0)),
        (f"__MACOSX/class/noether/._{PS}.ipynb", b"\0", (*day, 10, 0, 0)),
        (f"class/broken/{PS}.ipynb", b'{"cells": [', (*day, 10, 0, 0)),
    ]
    result = collect(course, make_zip(tmp_path / "class.zip", entries))
    assert result.returncode == 1, result.stdout + result.stderr
    assert submitted(course, "lovelaceada", PS) == ("ada", "2026-03-02 22:59:00.000000 UTC")
    assert submitted(course, "hoppergrace", PS) == ("grace", "2026-03-04 10:00:00.000000 UTC")
    assert submitted(course, "alan_turing", PS) == ("alan", "2026-03-02 20:00:00.000000 UTC")
    assert submitted(course, "anon_x7kq2", PS) == ("anon", "2026-03-04 11:00:00.000000 UTC")
    assert submitted(course, "emilie_du_chatelet", PS2)[0] == "emilie"
    assert submitted(course, "noether", PS)[0] == "noether new"
    assert sorted(os.listdir(course / "submitted")) == [
        "alan_turing",
        "anon_x7kq2",
        "emilie_du_chatelet",
        "hoppergrace",
        "lovelaceada",
        "noether",
    ]
    assert os.listdir(course / "submitted" / "noether") == [PS], "no temporary folder left"
    assert "LATE per Canvas" in result.stdout
    reported = sorted(line for line in result.stdout.splitlines() if line.startswith("NOT PLACED"))
    assert reported == [
        f"NOT PLACED __MACOSX/class/noether/._{PS}.ipynb: macOS metadata, not a submission",
        f"NOT PLACED class/broken/{PS}.ipynb: not a readable notebook "
        "(Expecting value: line 1 column 12 (char 11))",
        "NOT PLACED class/noether/my_homework.ipynb: its name matches no problem set id "
        "(ps01_voc_augmentation, ps02_transposed_as_conv, ...)",
        "NOT PLACED class/noether/notes.pdf: not a notebook (.ipynb)",
        f"NOT PLACED class/noether/{PS}.ipynb: an older copy: "
        f"class/noether/{PS} (1).ipynb is newer",
        f"NOT PLACED {PS}.ipynb: no student in its name (not Canvas's or Moodle's naming, "
        "not in a folder)",
    ], result.stdout
    assert "6 file(s) not placed" in result.stdout


def test_a_newer_resubmission_replaces_an_older_one_never_the_reverse(course, tmp_path):
    first = make_zip(
        tmp_path / "first.zip",
        [
            (
                f"Alan Turing_31_assignsubmission_file_/{PS}.ipynb",
                notebook("v1"),
                (2026, 3, 1, 9, 0, 0),
            ),
            (f"lovelaceada_12345_901_{PS}.ipynb", notebook("a1"), (2026, 3, 3, 9, 0, 0)),
        ],
    )
    second = make_zip(
        tmp_path / "second.zip",
        [
            # Moodle: later in the zip, so newer (Moodle has no LATE marker and no file order).
            (
                f"Alan Turing_31_assignsubmission_file_/{PS}.ipynb",
                notebook("v2"),
                (2026, 3, 2, 9, 0, 0),
            ),
            # Canvas: both on time, so both at the due date; the later upload has the larger id.
            (f"lovelaceada_12345_950_{PS}-1.ipynb", notebook("a2"), (2026, 3, 4, 9, 0, 0)),
        ],
    )
    assert collect(course, first).returncode == 0
    result = collect(course, second)
    assert result.returncode == 0, result.stdout
    assert f"replaced (to be graded again) alan_turing/{PS}" in result.stdout
    assert submitted(course, "alan_turing", PS) == ("v2", "2026-03-02 09:00:00.000000 UTC")
    assert submitted(course, "lovelaceada", PS)[0] == "a2"
    # The first download again: nothing goes back.
    result = collect(course, first)
    assert result.returncode == 1
    assert (
        f"NOT PLACED Alan Turing_31_assignsubmission_file_/{PS}.ipynb: older than the collected "
        f"alan_turing/{PS}"
    ) in result.stdout
    assert submitted(course, "alan_turing", PS)[0] == "v2"
    assert submitted(course, "lovelaceada", PS)[0] == "a2"
    assert collect(course, second).stdout.startswith("Nothing new to collect.")


def test_a_submission_put_there_by_hand_is_never_overwritten(course, tmp_path):
    folder = course / "submitted" / "noether" / PS
    folder.mkdir(parents=True)
    (folder / f"{PS}.ipynb").write_bytes(notebook("by hand"))
    zip_path = make_zip(
        tmp_path / "z.zip", [(f"noether/{PS}.ipynb", notebook("zip"), (2026, 3, 1, 9, 0, 0))]
    )
    result = collect(course, zip_path)
    assert result.returncode == 1
    assert f"noether/{PS} exists and was not collected by make collect" in result.stdout
    assert nbformat.read(folder / f"{PS}.ipynb", as_version=4).cells[0].source == "by hand"


def test_unsafe_entries_are_refused_one_line_each(course, tmp_path):
    past = (2026, 3, 1, 9, 0, 0)
    big = b" " * (20 * 2**20 + 1)  # compresses to a few kB: a small zip bomb
    entries = [
        (f"../outside/{PS}.ipynb", notebook("x"), past),
        (f"/abs/ada/{PS}.ipynb", notebook("x"), past),
        (f"ada\\{PS}.ipynb", notebook("x"), past),
        (f"linked/{PS}.ipynb", None, past),
        (f"bomb/{PS}.ipynb", big, past),
        (f"future/{PS}.ipynb", notebook("x"), (2031, 1, 1, 0, 0, 0)),
    ]
    zip_path = make_zip(tmp_path / "bad.zip", entries)
    assert os.path.getsize(zip_path) < 200_000
    result = collect(course, zip_path)
    assert result.returncode == 1
    lines = [line for line in result.stdout.splitlines() if line.startswith("NOT PLACED")]
    assert lines == [
        f"NOT PLACED ../outside/{PS}.ipynb: refused: '..' in its path",
        f"NOT PLACED /abs/ada/{PS}.ipynb: refused: an absolute path",
        f"NOT PLACED ada\\{PS}.ipynb: refused: a backslash in its path",
        f"NOT PLACED linked/{PS}.ipynb: refused: a symbolic link",
        f"NOT PLACED bomb/{PS}.ipynb: refused: larger than 20 MB",
        f"NOT PLACED future/{PS}.ipynb: its time in the zip (2031-01-01 00:00 UTC) is later "
        "than now",
    ], result.stdout
    assert not (course / "submitted").exists()
    assert not (course.parent / "outside").exists() and not os.path.exists("/abs")


def test_bad_arguments_get_one_line(course, tmp_path):
    (tmp_path / "not.zip").write_text("hello")
    result = collect(course, tmp_path / "not.zip")
    assert result.returncode == 2 and result.stdout.strip().count("\n") == 0
    assert "not a readable zip file" in result.stdout
    zip_path = make_zip(tmp_path / "z.zip", [])
    result = collect(course, zip_path, "--timezone", "Mars/Olympus")
    assert result.returncode == 2 and "unknown time zone 'Mars/Olympus'" in result.stdout


def test_the_zips_times_are_read_in_the_given_time_zone(course, tmp_path):
    zip_path = make_zip(
        tmp_path / "z.zip", [(f"ada/{PS}.ipynb", notebook("x"), (2026, 3, 2, 12, 0, 0))]
    )
    assert collect(course, zip_path, "--timezone", "Europe/Berlin").returncode == 0
    assert submitted(course, "ada", PS)[1] == "2026-03-02 11:00:00.000000 UTC"
    record = json.loads((course / "submitted" / "ada" / PS / "collected.json").read_text())
    assert record["zip"] == "z.zip" and record["entry"] == f"ada/{PS}.ipynb"


@pytest.mark.parametrize(
    "seconds_late, kept",
    [
        (1, 0.9),
        (86400, 0.9),
        (86401, 0.8),
        (2.5 * 86400, 0.7),
        (5 * 86400, 0.5),
        (5 * 86400 + 1, 0.0),
    ],
)
def test_late_rule_ten_percent_per_started_day_then_zero(seconds_late, kept):
    penalty = LatePenalty().late_submission_penalty("ada", 5.0, seconds_late)
    assert penalty == pytest.approx(5.0 * (1 - kept))


def test_due_dates_need_their_utc_offset():
    assert parse_due_date(PS, DUE) == DUE_UTC
    with pytest.raises(ValueError, match=f"the due date of {PS} is '2026-03-02 23:59'"):
        parse_due_date(PS, "2026-03-02 23:59")


def test_feedback_zip_writes_one_archive_per_student(tmp_path_factory):
    course = copy_course(tmp_path_factory, "feedback")
    for student, sets in {"ada": [PS, PS2], "alan": [PS]}.items():
        for ps in sets:
            folder = course / "feedback" / student / ps
            folder.mkdir(parents=True)
            (folder / f"{ps}.html").write_text(f"<p>{student} {ps}</p>")
    run = [sys.executable, str(course / "feedback_zip.py")]
    old = course / "feedback_zips"
    old.mkdir()
    (old / "gone.zip").write_text("from an earlier run")
    result = subprocess.run(run, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "Wrote 2 archive(s), one per student (3 feedback page(s))" in result.stdout
    assert sorted(os.listdir(course / "feedback_zips")) == ["ada.zip", "alan.zip"]
    with zipfile.ZipFile(course / "feedback_zips" / "ada.zip") as z:
        assert sorted(z.namelist()) == [f"{PS2}/{PS2}.html", f"{PS}/{PS}.html"]
        assert z.read(f"{PS}/{PS}.html").decode() == f"<p>ada {PS}</p>"
    assert not [p for p in os.listdir(course) if p.startswith(".feedback_zips")]


def test_every_problem_set_has_a_due_date():
    from course_preprocessors import due_dates
    from traitlets.config.loader import PyFileConfigLoader

    config = PyFileConfigLoader("nbgrader_config.py", path=str(COURSE)).load_config()
    problem_sets = sorted(p.name for p in (COURSE / "source").iterdir() if p.is_dir())
    assert sorted(due_dates(config)) == problem_sets
