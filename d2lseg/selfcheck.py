"""`d2lseg.check("ps02")`: the self-check of students who work where nbgrader's extensions do
not run (Google Colab): the visible tests of a problem set, run on the student's notebook."""

import json
import sys
import traceback
from pathlib import Path

from .data import PROJECT_DIR


def strip_hidden(source):
    """`source` without its `### BEGIN HIDDEN TESTS` ... `### END HIDDEN TESTS` regions, as
    nbgrader's release removes them (an unterminated region runs to the end)."""
    kept, hidden = [], False
    for line in source.splitlines():
        if "BEGIN HIDDEN TESTS" in line:
            hidden = True
        elif "END HIDDEN TESTS" in line and hidden:
            hidden = False
        elif not hidden:
            kept.append(line)
    return "\n".join(kept)


def visible_tests(problem_set, course_dir=PROJECT_DIR):
    """[(grade_id, points, source)] of the autograded test cells of `problem_set` ("ps02", or
    its full name), with the hidden tests removed: from the released problem sets in
    `course_dir` (the student edition has only those), else from the instructor's sources."""
    released = Path(course_dir) / "assignments" / "release"
    sources = released if released.is_dir() else Path(course_dir) / "assignments" / "source"
    names = sorted(p.name for p in sources.glob("ps*") if p.is_dir())
    matches = [n for n in names if n == problem_set or n.startswith(f"{problem_set}_")]
    if len(matches) != 1:
        raise ValueError(f"problem_set must be one of {', '.join(names)}, got {problem_set!r}")
    path = sources / matches[0] / f"{matches[0]}.ipynb"
    tests = []
    for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
        meta = cell["metadata"].get("nbgrader", {})
        if cell["cell_type"] == "code" and meta.get("grade") and not meta.get("solution"):
            tests.append((meta["grade_id"], meta["points"], strip_hidden("".join(cell["source"]))))
    return tests


def check(problem_set, namespace=None):
    """Run the visible tests of `problem_set` ("ps02") on what the notebook defined (its
    `namespace`; by default the caller's globals), each test in a copy of it, and print one
    line per test. This is the self-check of students on Colab, where nbgrader's Validate
    button is missing; the grader's hidden cases decide the points. Returns {grade_id:
    whether the test passed}."""
    if namespace is None:
        namespace = sys._getframe(1).f_globals
    passed = {}
    for grade_id, points, source in visible_tests(problem_set):
        try:
            exec(compile(source, f"<{grade_id}>", "exec"), dict(namespace))
            passed[grade_id] = True
            print(f"{grade_id} ({points} points): passed")
        except Exception as err:  # the student's code may raise anything
            passed[grade_id] = False
            where = traceback.extract_tb(err.__traceback__)[-1]
            print(
                f"{grade_id} ({points} points): FAILED at {where.name} line {where.lineno}: "
                f"{type(err).__name__}: {err}"
            )
    print(
        f"{sum(passed.values())} of {len(passed)} visible tests passed; the grade comes from "
        "hidden tests on other cases"
    )
    return passed
