"""`make grade`: autograde the new submissions in the sandbox, write every feedback, grades.csv
and integrity.csv, and list the submissions that could not be graded (exit status 1 only then).

A submission is new when it has no autograded copy, or when its notebook or timestamp.txt was
written after that copy (a resubmission `make collect` or you put in its place): it is graded
again. The due dates of `nbgrader_config.py` go into the gradebook first; nbgrader compares
them with each submission's timestamp.txt and the course's `LatePenalty` takes off the points.

Run with the course's environment: `.venv/bin/python assignments/grade.py` (what `make grade`
does). Without bubblewrap it refuses in one line, unless UNSAFE_GRADING=1 (assignments/README.md).
"""

import csv
import datetime
import json
import os
import subprocess
import sys
import time
import warnings

COURSE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, COURSE)
MAX_NOTEBOOK_BYTES = 20 * 2**20
CLOCK_SKEW = datetime.timedelta(minutes=5)  # a timestamp later than now by more is refused


def submissions():
    """[(student, problem set)] of every folder submitted/<student>/<problem set>/."""
    root = os.path.join(COURSE, "submitted")
    found = []
    for student in sorted(os.listdir(root)) if os.path.isdir(root) else []:
        folder = os.path.join(root, student)
        if os.path.isdir(folder) and not student.startswith("."):
            found += [(student, ps) for ps in sorted(os.listdir(folder)) if not ps.startswith(".")]
    return found


def problem(student, ps):
    """Why the submission cannot be graded as it is, or ''."""
    import nbformat

    folder = os.path.join(COURSE, "submitted", student, ps)
    notebook = os.path.join(folder, f"{ps}.ipynb")
    if not os.path.isdir(os.path.join(COURSE, "source", ps)):
        return f"no problem set {ps!r} in source/"
    for here, dirs, files in os.walk(folder):
        if any(os.path.islink(os.path.join(here, name)) for name in dirs + files):
            return "contains a symbolic link"
    if not os.path.isfile(notebook):
        return f"no {ps}.ipynb in the folder"
    if os.path.getsize(notebook) > MAX_NOTEBOOK_BYTES:
        return f"{ps}.ipynb is larger than {MAX_NOTEBOOK_BYTES // 2**20} MB"
    try:
        nbformat.read(notebook, as_version=4)
    except Exception as error:  # noqa: BLE001 (any unreadable notebook)
        return f"{ps}.ipynb is not a readable notebook ({type(error).__name__})"
    return timestamp_problem(folder)


def timestamp_problem(folder):
    """Why the submission's timestamp.txt cannot be trusted, or ''. A time in the future (a
    wrong clock, or an edited file) would escape the late penalty's days: it is not graded."""
    from nbgrader.utils import parse_utc

    path = os.path.join(folder, "timestamp.txt")
    if not os.path.exists(path):
        return ""
    with open(path) as f:
        text = f.read(200).strip()
    try:
        when = parse_utc(text)
    except (ValueError, OverflowError):
        return f"timestamp.txt is not a time ({text[:40]!r})"
    now = datetime.datetime.now(datetime.UTC).replace(tzinfo=None)
    if when > now + CLOCK_SKEW:
        return f"timestamp.txt is in the future ({when:%Y-%m-%d %H:%M} UTC): correct or delete it"
    return ""


def resubmitted(student, ps):
    """Whether the submission's notebook or timestamp.txt is newer than its autograded copy."""
    graded = os.path.join(COURSE, "autograded", student, ps, f"{ps}.ipynb")
    if not os.path.exists(graded):
        return True
    folder = os.path.join(COURSE, "submitted", student, ps)
    written = [
        os.path.getmtime(os.path.join(folder, name))
        for name in (f"{ps}.ipynb", "timestamp.txt")
        if os.path.exists(os.path.join(folder, name))
    ]
    return max(written) > os.path.getmtime(graded)


def write_due_dates(config, problem_sets):
    """Put the configured due dates of `problem_sets` into the gradebook (None: never late);
    the names of those without one."""
    from course_preprocessors import due_dates
    from nbgrader.api import Gradebook

    dates = due_dates(config)
    with Gradebook(config.CourseDirectory.db_url) as gb:
        for ps in problem_sets:
            gb.update_or_create_assignment(ps, duedate=dates.get(ps))
    return sorted(set(problem_sets) - set(dates))


def last_line(result):
    text = (result.get("error") or result.get("log") or "").strip().splitlines()
    reasons = [line for line in text if "RuntimeError:" in line or "SandboxUnavailable:" in line]
    reasons = reasons or [line for line in text if "Error" in line]
    return (reasons or text or ["unknown error"])[-1].strip()[:200]


def main():
    warnings.filterwarnings("ignore")  # the gradebook's SQLAlchemy warnings, once per call
    from grading.sandbox import SandboxUnavailable, check, unsafe_requested

    todo = submissions()
    if not todo:
        print("Nothing to grade: no assignments/submitted/<student>/<problem set>/ folder.")
        return 0
    if unsafe_requested():
        print("UNSAFE_GRADING=1: the submissions run unsandboxed, as you.")
    else:
        try:
            check()
        except SandboxUnavailable as error:
            print(error)
            return 2

    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config.loader import PyFileConfigLoader

    os.environ["PATH"] = os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"]
    config = PyFileConfigLoader("nbgrader_config.py", path=COURSE).load_config()
    known = {ps for _, ps in todo if os.path.isdir(os.path.join(COURSE, "source", ps))}
    try:
        undated = write_due_dates(config, sorted(known))
    except ValueError as error:
        print(error)
        return 2
    for ps in undated:
        print(f"{ps}: no due date in nbgrader_config.py, so never late")
    api = NbGraderAPI(CourseDirectory(config=config, root=COURSE), config=config)
    ungradable, started = {}, time.perf_counter()
    graded = 0
    for student, ps in todo:
        if reason := problem(student, ps):
            ungradable[student, ps] = reason
            continue
        already = os.path.isdir(os.path.join(COURSE, "autograded", student, ps))
        again = already and resubmitted(student, ps)
        result = api.autograde(ps, student, force=again)
        if not result["success"]:
            ungradable[student, ps] = "autograding failed: " + last_line(result)
        elif again or not already:
            graded += 1
            print(f"{'graded again' if again else 'graded'} {student}/{ps}", flush=True)
    seconds = time.perf_counter() - started
    for student, ps in todo:
        if (student, ps) in ungradable:
            continue
        result = api.generate_feedback(ps, student, force=True)
        if not result["success"]:
            ungradable[student, ps] = "no feedback: " + last_line(result)

    exported = subprocess.run(
        [sys.executable, "-m", "nbgrader", "export", "--to", "grades.csv"],
        cwd=COURSE,
        capture_output=True,
        text=True,
    )
    if exported.returncode:
        ungradable["grades.csv", ""] = "nbgrader export failed: " + exported.stderr[-200:]
    findings = write_integrity(todo)
    print(
        f"Autograded {graded} new submission(s) in {seconds:.0f} s; wrote grades.csv, "
        f"integrity.csv ({findings} finding(s)) and the feedback in feedback/ (in {COURSE})."
    )
    for (student, ps), reason in ungradable.items():
        print(f"NOT GRADED {student}/{ps}: {reason}")
    return 1 if ungradable else 0


def write_integrity(todo):
    """assignments/integrity.csv from the grading records of the submissions present."""
    rows = []
    for student, ps in todo:
        path = os.path.join(COURSE, "grading_records", student, f"{ps}.json")
        if not os.path.isdir(os.path.join(COURSE, "autograded", student, ps)):
            continue
        try:
            with open(path) as f:
                record = json.load(f)
        except (OSError, ValueError):
            continue
        rows += [[student, ps, where, kind, what] for where, kind, what in record["hits"]]
    with open(os.path.join(COURSE, "integrity.csv"), "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["student", "problem_set", "answer_cell", "kind", "finding"])
        writer.writerows(rows)
    return len(rows)


if __name__ == "__main__":
    sys.exit(main())
