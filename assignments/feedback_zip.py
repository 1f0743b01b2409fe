"""`make feedback-zip`: one archive per student, `feedback_zips/<student>.zip`, holding every
feedback page `make grade` wrote for them (`<problem set>/<problem set>.html`), to upload to an
LMS. The folder is written whole, then put in place of the previous one in one rename, so it
never holds a mix of two runs.

Run with the course's environment: `.venv/bin/python assignments/feedback_zip.py`.
"""

import os
import shutil
import sys
import tempfile
import zipfile

COURSE = os.path.dirname(os.path.abspath(__file__))
OUT = "feedback_zips"


def pages(student_folder):
    """[(path in the archive, file)] of the student's feedback pages; symbolic links left out."""
    found = []
    for here, dirs, files in os.walk(student_folder):
        dirs[:] = sorted(d for d in dirs if not os.path.islink(os.path.join(here, d)))
        for name in sorted(files):
            path = os.path.join(here, name)
            if name.endswith(".html") and not os.path.islink(path):
                found.append((os.path.relpath(path, student_folder), path))
    return found


def write_archives(feedback, staging):
    """One zip per student of `feedback` into `staging`; {student: pages}."""
    written = {}
    for student in sorted(os.listdir(feedback)):
        folder = os.path.join(feedback, student)
        if student.startswith(".") or os.path.islink(folder) or not os.path.isdir(folder):
            continue
        found = pages(folder)
        if not found:
            continue
        with zipfile.ZipFile(
            os.path.join(staging, f"{student}.zip"), "w", zipfile.ZIP_DEFLATED
        ) as z:
            for inside, path in found:
                z.write(path, inside)
        written[student] = len(found)
    return written


def main():
    feedback = os.path.join(COURSE, "feedback")
    if not os.path.isdir(feedback):
        print("No feedback yet: run make grade first (it writes assignments/feedback/).")
        return 1
    target = os.path.join(COURSE, OUT)
    staging = tempfile.mkdtemp(prefix=f".{OUT}-", dir=COURSE)
    try:
        written = write_archives(feedback, staging)
        os.chmod(staging, 0o755)
        old = None
        if os.path.exists(target):
            old = tempfile.mkdtemp(prefix=f".{OUT}-old-", dir=COURSE)
            os.rename(target, os.path.join(old, OUT))
        os.rename(staging, target)
        if old:
            shutil.rmtree(old)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    pages_written = sum(written.values())
    print(
        f"Wrote {len(written)} archive(s), one per student ({pages_written} feedback page(s)), "
        f"in {target}/"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
