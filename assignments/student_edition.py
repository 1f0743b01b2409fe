"""`make student-edition DIR=...`: a copy of the course for students in DIR (a new or empty
folder outside this repository): the notebooks, `d2lseg`, the data tools, the released problem
sets (made by nbgrader's generate_assignment in a scratch copy: no solutions, no hidden tests,
no outputs), a Makefile without the grading targets and the students' README. Nothing of
`assignments/` but the released notebooks: no source, no grader, no gradebook, no secret.

Run with the course's environment: `.venv/bin/python assignments/student_edition.py DIR`.
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile

COURSE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(COURSE)
COPIED = [
    "notebooks",
    "d2lseg",
    "data/README.md",
    "pyproject.toml",
    "constraints.txt",
    "constraints-py313.txt",
    "environment.yml",
]
JUNK = shutil.ignore_patterns("__pycache__", "*.pyc", ".ipynb_checkpoints")
# The Makefile's targets a student uses; every other block of it is the instructor's.
STUDENT_TARGETS = {"python", "$(BIN)/python", "$(INSTALLED)", "data", "lab", "clean"}
MAKEFILE_HEADER = (
    "# The student edition of the d2lseg course: `make lab` sets it up (.venv, the sample data)\n"
    "# and opens it in JupyterLab. `make clean` removes the environment.\n"
)


def refusal(target):
    """Why DIR cannot be written, or ''."""
    real = os.path.realpath(target)
    root = os.path.realpath(ROOT)
    if os.path.commonpath([real, root]) == root:
        return f"DIR={target} is inside the repository ({root}); choose a folder outside it"
    if os.path.lexists(target) and not os.path.isdir(target):
        return f"DIR={target} exists and is not a folder"
    if os.path.isdir(target) and os.listdir(target):
        return f"DIR={target} is not empty; choose a new or empty folder"
    return ""


def student_makefile(text):
    """The Makefile's blocks (separated by blank lines) a student needs, its header replaced."""
    blocks = text.strip("\n").split("\n\n")
    kept = []
    for index, block in enumerate(blocks):
        lines = block.splitlines()
        if index == 0:  # the variables (which Python, which venv, which constraints)
            kept.append(
                MAKEFILE_HEADER + "\n".join(line for line in lines if not line.startswith("#"))
            )
            continue
        targets = {m[1] for line in lines if (m := re.match(r"([^\s#:=]+)\s*:(?!=)", line))}
        if targets & STUDENT_TARGETS:
            kept.append(block)
    phony = ".PHONY: " + " ".join(t for t in ("lab", "data", "clean"))
    return "\n\n".join([kept[0], phony, *kept[1:]]) + "\n"


def release(scratch):
    """Generate the student versions in a scratch copy of the course; their folder."""
    course = os.path.join(scratch, "course")
    os.mkdir(course)
    shutil.copytree(os.path.join(COURSE, "source"), os.path.join(course, "source"), ignore=JUNK)
    for name in ("nbgrader_config.py", "course_preprocessors.py"):
        shutil.copy(os.path.join(COURSE, name), course)
    bin_dir = os.path.dirname(sys.executable)
    env = dict(os.environ, PATH=bin_dir + os.pathsep + os.environ.get("PATH", ""))
    result = subprocess.run(
        [sys.executable, "-m", "nbgrader", "generate_assignment", "*"],
        cwd=course,
        env=env,
        capture_output=True,
        text=True,
    )
    if result.returncode:
        raise RuntimeError("nbgrader generate_assignment failed: " + result.stderr[-500:])
    return os.path.join(course, "release")


def build(target):
    """Write the student edition into `target` (checked by `refusal`)."""
    parent = os.path.dirname(os.path.abspath(target))
    os.makedirs(parent, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=".student-edition-", dir=parent)
    scratch = tempfile.mkdtemp(prefix="d2lseg-release-")
    try:
        for name in COPIED:
            source, dest = os.path.join(ROOT, name), os.path.join(staging, name)
            os.makedirs(os.path.dirname(dest), exist_ok=True)
            if os.path.isdir(source):
                shutil.copytree(source, dest, ignore=JUNK, symlinks=False)
            else:
                shutil.copy(source, dest)
        released = release(scratch)
        shutil.copytree(released, os.path.join(staging, "assignments", "release"), ignore=JUNK)
        with open(os.path.join(ROOT, "Makefile")) as f:
            makefile = student_makefile(f.read())
        with open(os.path.join(staging, "Makefile"), "w") as f:
            f.write(makefile)
        shutil.copy(os.path.join(COURSE, "student_README.md"), os.path.join(staging, "README.md"))
        os.chmod(staging, 0o755)
        if os.path.isdir(target):
            os.rmdir(target)  # empty, as `refusal` checked
        os.rename(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1 or not argv[0]:
        print("usage: make student-edition DIR=/path/to/a/new/folder")
        return 2
    target = argv[0]
    if why := refusal(target):
        print(why)
        return 2
    try:
        build(target)
    except RuntimeError as error:
        print(error)
        return 1
    print(
        f"Wrote the student edition in {os.path.abspath(target)}/ (its README.md says what to do)."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
