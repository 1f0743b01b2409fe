"""The nbgrader preprocessors of the course, registered in `nbgrader_config.py`.

- `SandboxedExecute` replaces nbgrader's `Execute` during autograding: the notebook runs in a
  bubblewrap sandbox (`grading/sandbox.py`), the hidden cases' results are scored in this
  process (`grading/problems.py`), and each graded test cell is left with the student's own
  output cut to a few lines plus, when the problem earned no points, one error that says why.
  nbgrader's `SaveAutoGrades` then reads the grades from those outputs as usual.
- `SaveIntegrity`, after `SaveAutoGrades`: the forbidden shortcuts found in each answer go into
  the formgrader comment of that answer and into `grading_records/<student>/<ps>.json`, from
  which `grade.py` writes `integrity.csv`.
- `StderrAsStdout` runs during autograding: nbgrader gives 0 points to a test cell that wrote on
  stderr, so a library warning would cost a correct answer its points.
- `HideHiddenTests` runs while generating feedback: it removes the hidden test regions of the
  graded test cells (only there: an answer may contain the marker's text) and cuts their error
  outputs to `Error: message`.
- `LatePenalty` is the plugin of nbgrader's `AssignLatePenalties`: the late rule of
  `README.md`; it also holds the due dates (`due_dates`), which `grade.py` writes into the
  gradebook, where nbgrader reads them.
"""

import datetime
import json
import math
import os
import secrets

import nbformat
from nbgrader.api import Gradebook
from nbgrader.plugins import LateSubmissionPlugin
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Dict, Float, Integer, Unicode


def _is_test_cell(cell):
    meta = cell.metadata.get("nbgrader", {})
    return cell.cell_type == "code" and meta.get("grade") and not meta.get("solution")


class SandboxedExecute(NbGraderPreprocessor):
    """Run the notebook in the sandbox and turn the verdicts into the test cells' outputs."""

    cell_timeout = Integer(20, help="Seconds a cell may run.").tag(config=True)
    notebook_timeout = Integer(120, help="Seconds the whole notebook may run.").tag(config=True)
    secret_file = Unicode("", help="Seeds the hidden cases; made on first use.").tag(config=True)

    def _secret(self):
        if not os.path.exists(self.secret_file):
            fd = os.open(self.secret_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_hex(16))
        with open(self.secret_file) as f:
            return f.read().strip()

    def preprocess(self, nb, resources):
        import grading
        from grading.sandbox import unsafe_requested

        ps = resources["nbgrader"]["assignment"]
        graded = grading.grade_notebook(
            nb,
            ps,
            self._secret(),
            self.cell_timeout,
            self.notebook_timeout,
            unsafe=unsafe_requested(),
        )
        if graded.ungradable:
            raise RuntimeError(graded.ungradable)
        tests = grading.graded_test_cells(nb, ps)
        for index, cell in enumerate(nb.cells):
            if cell.cell_type != "code":
                continue
            cell.execution_count = None
            cell.outputs = graded.outputs.get(index, [])
            if index in tests:
                verdict = graded.verdicts[tests[index].test_id]
                if not verdict.points_earned:
                    cell.outputs.append(
                        nbformat.v4.new_output(
                            "error",
                            ename="AssertionError",
                            evalue=verdict.message,
                            traceback=[f"AssertionError: {verdict.message}"],
                        )
                    )
            elif _is_test_cell(cell):
                # A graded cell the grader does not know (the source has none): never points.
                cell.outputs.append(
                    nbformat.v4.new_output(
                        "error", ename="Error", evalue="not graded", traceback=["not graded"]
                    )
                )
        resources["grading"] = {
            "problems": {
                test_id: {"points_earned": v.points_earned, "message": v.message}
                for test_id, v in graded.verdicts.items()
            },
            "hits": graded.hits,
        }
        return nb, resources


class SaveIntegrity(NbGraderPreprocessor):
    """Write the integrity hits into the gradebook's comments and the grading record."""

    records_dir = Unicode("", help="Where the grading records go.").tag(config=True)

    def preprocess(self, nb, resources):
        info = resources.get("grading")
        if info is None:
            return nb, resources
        meta = resources["nbgrader"]
        student, ps, notebook = meta["student"], meta["assignment"], meta["notebook"]
        by_answer = {}
        for where, kind, what in info["hits"]:
            by_answer.setdefault(where, []).append(f"{kind}: {what}")
        answers = [
            c.metadata.nbgrader.grade_id
            for c in nb.cells
            if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("solution")
        ]
        with Gradebook(meta["db_url"]) as gb:
            for answer in answers:
                lines = by_answer.get(answer, [])
                if answer == (answers[0] if answers else None):
                    lines += [f"(outside the answers) {x}" for x in by_answer.get("notebook", [])]
                if lines:
                    comment = gb.find_comment(answer, notebook, ps, student)
                    text = "Integrity check, for the instructor to judge:\n" + "\n".join(lines)
                    comment.auto_comment = "\n\n".join(filter(None, [comment.auto_comment, text]))
                    gb.db.commit()
        folder = os.path.join(self.records_dir, student)
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, f"{ps}.json"), "w") as f:
            json.dump({"student": student, "problem_set": ps, **info}, f, indent=1)
        return nb, resources


class StderrAsStdout(NbGraderPreprocessor):
    """Turn the stderr stream outputs of every code cell into stdout outputs."""

    def preprocess_cell(self, cell, resources, cell_index):
        if cell.cell_type == "code":
            for output in cell.outputs:
                if output.output_type == "stream" and output.name == "stderr":
                    output.name = "stdout"
        return cell, resources


class HideHiddenTests(NbGraderPreprocessor):
    """Remove hidden test regions of test cells and show only `Error: message` for them."""

    def preprocess_cell(self, cell, resources, cell_index):
        from grading import strip_hidden

        if _is_test_cell(cell):
            cell.source = strip_hidden(cell.source)
            for output in cell.outputs:
                if output.output_type == "error":
                    output.traceback = [f"{output.ename}: {output.evalue}"]
        return cell, resources


class LatePenalty(LateSubmissionPlugin):
    """Late by d started days (1 <= d <= `max_days`): `percent_per_day` * d % of the score off;
    later than that: the whole score off."""

    percent_per_day = Float(10.0, help="Percent of the score taken off per started day.").tag(
        config=True
    )
    max_days = Integer(5, help="Days late after which the score is 0.").tag(config=True)
    due_dates = Dict(
        value_trait=Unicode(),
        help="{problem set: due date, ISO 8601 with its UTC offset}; none: never late.",
    ).tag(config=True)

    def late_submission_penalty(self, student_id, score, total_seconds_late):
        days = math.ceil(total_seconds_late / 86400)
        if days > self.max_days:
            return score
        return score * min(100.0, days * self.percent_per_day) / 100


def parse_due_date(ps, text):
    """The due date `text` of `ps` as a naive UTC datetime (the gradebook's convention), or a
    ValueError that says what is wrong in one line."""
    try:
        due = datetime.datetime.fromisoformat(text)
    except (TypeError, ValueError):
        due = None
    if due is None or due.tzinfo is None:
        raise ValueError(
            f"nbgrader_config.py: the due date of {ps} is {text!r}; expected ISO 8601 with "
            "its UTC offset, such as 2027-03-01T23:59:00+01:00"
        )
    return due.astimezone(datetime.UTC).replace(tzinfo=None)


def due_dates(config):
    """{problem set: naive UTC due date} from the course's config (`c.LatePenalty.due_dates`)."""
    dates = config.LatePenalty.due_dates if "due_dates" in config.LatePenalty else {}
    return {ps: parse_due_date(ps, text) for ps, text in dates.items()}
