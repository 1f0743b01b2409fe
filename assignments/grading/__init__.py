"""Sandboxed autograding of the problem sets: see `assignments/README.md`.

`grade_notebook` runs one submission in a bubblewrap sandbox (`sandbox.py`, `runner.py`),
scores each problem in this process from the values the student's functions returned on the
hidden cases (`problems.py`), and checks the answers' code for forbidden shortcuts
(`integrity.py`). Nothing the student wrote runs in this process, and nothing it reads from the
sandbox is unpickled: JSON, and tensors through `torch.load(weights_only=True)`.
"""

import copy
import hashlib
import io
import json
import os
import shutil
import stat
import tempfile
from dataclasses import dataclass, field

import nbformat

from d2lseg.selfcheck import strip_hidden  # one copy, shared with d2lseg.check

from .integrity import static_hits
from .problems import PROBLEM_SETS
from .sandbox import run_in_sandbox

MAX_RECORD_BYTES = 256 * 2**20
MAX_EXECUTED_BYTES = 16 * 2**20
FEEDBACK_LINES = 8  # lines of a student's output kept per output in the graded notebook


@dataclass
class Verdict:
    points_earned: bool
    message: str = ""  # why not, for the feedback
    forbidden_used: list = field(default_factory=list)  # forbidden operators seen at run time


@dataclass
class Graded:
    """The result of one notebook: outputs per cell index, a verdict per test cell grade_id,
    integrity hits as (answer grade_id, kind, what) and notes on cells that were stopped."""

    outputs: dict = field(default_factory=dict)
    verdicts: dict = field(default_factory=dict)
    hits: list = field(default_factory=list)
    ungradable: str = ""


def graded_test_cells(nb, ps):
    """{cell index: Problem} of the graded test cells of `nb` (the first cell of each grade_id)."""
    problems = {p.test_id: p for p in PROBLEM_SETS.get(ps, [])}
    found = {}
    for index, cell in enumerate(nb.cells):
        meta = cell.metadata.get("nbgrader", {})
        test_id = meta.get("grade_id")
        if cell.cell_type == "code" and test_id in problems and meta.get("grade"):
            if test_id not in {p.test_id for p in found.values()}:
                found[index] = problems[test_id]
    return found


def seed_of(secret, *names):
    digest = hashlib.sha256("/".join((secret, *names)).encode()).digest()
    return int.from_bytes(digest[:8], "little") & (2**63 - 1)


def read_file_safely(path, limit):
    """The bytes of a regular file the sandbox wrote, without following a symbolic link, or
    None (missing, a link, not a regular file, too large)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as f:
        info = os.fstat(f.fileno())
        if not stat.S_ISREG(info.st_mode) or info.st_size > limit:
            return None
        return f.read(limit + 1)[:limit]


def cut(text, lines=FEEDBACK_LINES, chars=2000):
    text = text if isinstance(text, str) else ""
    parts = text.splitlines(keepends=True)
    kept = "".join(parts[:lines])[:chars]
    if len(parts) > lines or len(text) > len(kept):
        kept = kept.rstrip("\n") + f"\n[... output cut by the grader: {len(parts)} lines]\n"
    return kept


def safe_outputs(raw, as_text=False):
    """nbformat outputs rebuilt from the runner's untrusted JSON: text only, cut. With
    `as_text`, results and errors become plain stdout text (a test cell's own outputs never
    decide its points)."""
    outputs = []
    for out in raw if isinstance(raw, list) else []:
        if not isinstance(out, dict):
            continue
        kind = out.get("output_type")
        if kind == "stream":
            text = cut(out.get("text", ""))
            name = "stderr" if out.get("name") == "stderr" and not as_text else "stdout"
            outputs.append(nbformat.v4.new_output("stream", name=name, text=text))
        elif kind in ("execute_result", "display_data"):
            data = out.get("data") if isinstance(out.get("data"), dict) else {}
            text = cut(data.get("text/plain", ""))
            outputs.append(nbformat.v4.new_output("stream", name="stdout", text=text))
        elif kind == "error":
            line = cut(f"{out.get('ename', 'Error')}: {out.get('evalue', '')}", lines=3)
            if as_text:
                text = f"visible tests: {line}\n"
                outputs.append(nbformat.v4.new_output("stream", name="stdout", text=text))
            else:
                outputs.append(
                    nbformat.v4.new_output(
                        "error",
                        ename=cut(str(out.get("ename", "Error")), 1, 100).strip(),
                        evalue=cut(str(out.get("evalue", "")), 3, 500).strip(),
                        traceback=[line],
                    )
                )
    return outputs


STOPPED = {
    "timeout": "stopped: it ran past the time limit of {cell} s per cell",
    "died": "stopped: the kernel died while it ran (os._exit, a crash or too much memory)",
    "notebook_timeout": "not run: the notebook reached its time limit of {notebook} s",
    None: "not run: the notebook stopped before this problem",
    "error": "no result: the grader's call of your function could not run",
    "ok": "no result was recorded",
}


def score(problem, cases, record, status, gen, limits):
    """The Verdict of one problem from the bytes the sandbox recorded (or None)."""
    import torch

    if record is None:
        return Verdict(False, STOPPED.get(status, STOPPED[None]).format(**limits))
    try:
        data = torch.load(io.BytesIO(record), weights_only=True)
        outputs, ops = data["outputs"], [str(op) for op in data["ops"]]
        assert isinstance(outputs, list) and len(outputs) == len(cases)
    except Exception:  # noqa: BLE001 (whatever the student's code saved, it is not a result)
        return Verdict(False, "no valid result was recorded")
    used = sorted({op for op in ops for bad in problem.forbidden_ops if op.startswith(bad)})
    if used:
        message = "calls an operation this problem forbids: " + ", ".join(used)
        return Verdict(False, message, used)
    failures = []
    for case, output in zip(cases, outputs, strict=True):
        kind = problem.kind(case)
        if not isinstance(output, dict):
            failures.append(f"no result on {kind}")
        elif "error" in output:
            failures.append(f"raised {cut(str(output['error']), 1, 200).strip()} on {kind}")
        else:
            try:
                failures.append(problem.check(case, output.get("ok"), kind, gen))
            except Exception:  # noqa: BLE001 (a malformed result)
                failures.append("returned something that could not be checked")
    wrong = [message for message in failures if message]
    if wrong:
        # A wrong value says more than an exception: show the first, if any.
        shown = next((m for m in wrong if not m.startswith("raised")), wrong[0])
        return Verdict(False, f"{shown} (on {len(wrong)} of {len(cases)} hidden cases)")
    return Verdict(True)


def grade_notebook(nb, ps, secret, cell_timeout=20, notebook_timeout=120, unsafe=False):
    """Run `nb` (the submission, its test cells restored) in the sandbox and score it."""
    import torch

    graded = Graded()
    tests = graded_test_cells(nb, ps)
    limits = {"cell": cell_timeout, "notebook": notebook_timeout}
    scratch = tempfile.mkdtemp(prefix="d2lseg-grade-")
    try:
        os.chmod(scratch, 0o755)
        inside, outside = os.path.join(scratch, "in"), os.path.join(scratch, "out")
        os.mkdir(inside, 0o755)
        os.mkdir(outside, 0o755)
        sandboxed = copy.deepcopy(nb)
        for index in tests:
            sandboxed.cells[index].source = strip_hidden(sandboxed.cells[index].source)
        nbformat.write(sandboxed, os.path.join(inside, "notebook.ipynb"))
        cases = {}
        for problem in {p.test_id: p for p in tests.values()}.values():
            gen = torch.Generator().manual_seed(seed_of(secret, ps, problem.test_id))
            cases[problem.test_id] = problem.cases(gen)
            torch.save(cases[problem.test_id], os.path.join(inside, f"{problem.test_id}.pt"))
        plan = {
            "cell_timeout": cell_timeout,
            "notebook_timeout": notebook_timeout,
            "tests": {str(i): p.test_id for i, p in tests.items()},
            "problems": {p.test_id: {"call": p.call} for p in tests.values()},
        }
        with open(os.path.join(inside, "plan.json"), "w") as f:
            json.dump(plan, f)
        for name in os.listdir(inside):
            os.chmod(os.path.join(inside, name), 0o644)
        problem = run_in_sandbox(scratch, notebook_timeout + 60, unsafe=unsafe)  # or ''
        raw = read_file_safely(os.path.join(outside, "executed.json"), MAX_EXECUTED_BYTES)
        try:
            executed = json.loads(raw) if raw else {}
            cells, statuses = executed.get("cells", {}), executed.get("problems", {})
            assert isinstance(cells, dict) and isinstance(statuses, dict)
        except (ValueError, AssertionError, AttributeError):
            cells, statuses = {}, {}
        if not raw:  # not even the kernel started
            graded.ungradable = "the notebook did not start in the sandbox" + (
                f" ({problem})" if problem else ""
            )
            return graded
        for index, cell in enumerate(nb.cells):
            if cell.cell_type != "code":
                continue
            ran = cells.get(str(index)) if isinstance(cells.get(str(index)), dict) else {}
            outputs = safe_outputs(ran.get("outputs"), as_text=index in tests)
            status = ran.get("status")
            if status in ("timeout", "died", "notebook_timeout"):
                note = "[grader] this cell was " + STOPPED[status].format(**limits) + "\n"
                outputs.append(nbformat.v4.new_output("stream", name="stdout", text=note))
            graded.outputs[index] = outputs
        for problem in tests.values():
            gen = torch.Generator().manual_seed(seed_of(secret, ps, problem.test_id, "check"))
            path = os.path.join(outside, f"{problem.test_id}.pt")
            record = read_file_safely(path, MAX_RECORD_BYTES)
            status = statuses.get(problem.test_id)
            status = status if status in STOPPED else None
            graded.verdicts[problem.test_id] = score(
                problem, cases[problem.test_id], record, status, gen, limits
            )
            for op in graded.verdicts[problem.test_id].forbidden_used:
                graded.hits.append((problem.answer_id, "run time", f"called {op}"))
        graded.hits[:0] = static_hits(nb, PROBLEM_SETS.get(ps, []))
        return graded
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
