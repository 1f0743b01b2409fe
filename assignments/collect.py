"""`make collect ZIP=download.zip`: the notebooks of an LMS download into
assignments/submitted/<student>/<problem set>/<problem set>.ipynb, each with its timestamp.txt.

Names understood (assignments/README.md, *Collect*): Canvas's
`<name>[_LATE]_<user id>_<file id>_<file>`, Moodle's `<Full Name>_<id>_assignsubmission_file_/
<file>` (or the same prefix on the file), and plain `<student>/<file>`. The file is matched to a
problem set by the ids under source/, after removing a browser's ` (1)` or Canvas's `-1`. Every
file not placed gets one line saying why; nothing is extracted as the zip says, each notebook is
read (bounded) and written where this script decides. A submission already collected is
replaced only by a newer one (assignments/README.md says how newer is decided), which
`make grade` then grades again.

Run with the course's environment: `.venv/bin/python assignments/collect.py ZIP [--timezone TZ]`.
"""

import argparse
import datetime
import json
import os
import re
import shutil
import stat
import sys
import tempfile
import unicodedata
import zipfile
import zoneinfo
from dataclasses import dataclass

COURSE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, COURSE)
from grade import CLOCK_SKEW, MAX_NOTEBOOK_BYTES  # noqa: E402

MAX_ENTRIES = 10_000
MAX_TOTAL_BYTES = 2 * 2**30  # what all the notebooks of one zip may hold, uncompressed
CANVAS = re.compile(r"(?P<name>\w+?)(?P<late>_LATE)?_(?P<user>\d+)_(?P<file_id>\d+)_(?P<file>.+)")
CANVAS_ANONYMOUS = re.compile(r"(?P<late>LATE_)?(?P<name>anon_\w+?)_(?P<file_id>\d+)_(?P<file>.+)")
MOODLE = re.compile(r"(?P<name>.+?)_(?P<user>\d+)_assignsubmission_file_(?P<file>.*)")
COPY = re.compile(r"(?: \((?P<browser>\d+)\)|-(?P<canvas>\d+))$")  # name (1).ipynb, name-1.ipynb
STUDENT_ID = re.compile(r"[a-z0-9][a-z0-9_.-]*")


@dataclass
class Found:
    """A notebook of the zip, placed: who, which problem set, when, from which entry."""

    student: str
    ps: str
    when: datetime.datetime  # UTC, naive (nbgrader's convention)
    order: tuple  # sorts resubmissions: (when, LMS file id, copy number)
    entry: str
    data: bytes
    note: str = ""


def slug(name):
    """A student id from a name as an LMS writes it: ASCII, lower case, `_` between words."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "_", ascii_name.lower()).strip("_")


def problem_sets():
    source = os.path.join(COURSE, "source")
    return sorted(p for p in os.listdir(source) if os.path.isdir(os.path.join(source, p)))


def match_problem_set(filename, ids):
    """(problem set, copy number) for a file name, or (None, why)."""
    stem = filename[: -len(".ipynb")]  # the caller checked the suffix, in any case
    copy = 0
    while found := COPY.search(stem):
        copy = max(copy, int(found["browser"] or found["canvas"]))
        stem = stem[: found.start()]
    if stem in ids:
        return stem, copy
    inside = [ps for ps in ids if ps in stem]
    number = re.match(r"ps(\d+)", stem)
    by_number = [ps for ps in ids if number and ps.startswith(f"ps{number[1]}_")]
    for candidates in (inside, by_number):
        if len(candidates) == 1:
            return candidates[0], copy
    return None, f"its name matches no problem set id ({', '.join(ids[:2])}, ...)"


def who(parts):
    """(student id, LATE marker, LMS file id, file name) from an entry's path parts, or a
    string saying why the student is unknown."""
    name = parts[-1]
    for folder in parts[:-1]:
        if (moodle := MOODLE.fullmatch(folder)) and not moodle["file"]:
            return slug(moodle["name"]), False, 0, name
    if (moodle := MOODLE.fullmatch(name)) and moodle["file"]:
        return slug(moodle["name"]), False, 0, moodle["file"]
    for pattern in (CANVAS, CANVAS_ANONYMOUS):
        if canvas := pattern.fullmatch(name):
            return (
                slug(canvas["name"]),
                bool(canvas["late"]),
                int(canvas["file_id"]),
                canvas["file"],
            )
    if len(parts) >= 2:
        return slug(parts[-2]), False, 0, name
    return "no student in its name (not Canvas's or Moodle's naming, not in a folder)"


def refusal(info, total):
    """Why a zip entry is refused before reading it, or ''."""
    name = info.filename
    mode = info.external_attr >> 16
    if name.startswith(("/", "\\")) or re.match(r"[A-Za-z]:", name):
        return "an absolute path"
    if "\\" in name:
        return "a backslash in its path"
    if ".." in name.split("/"):
        return "'..' in its path"
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    if info.flag_bits & 0x1:
        return "encrypted"
    if info.file_size > MAX_NOTEBOOK_BYTES:
        return f"larger than {MAX_NOTEBOOK_BYTES // 2**20} MB"
    if total + info.file_size > MAX_TOTAL_BYTES:
        return f"the zip's notebooks exceed {MAX_TOTAL_BYTES // 2**30} GB together"
    return ""


def read_bounded(archive, info):
    """The entry's bytes, never more than the size limit, whatever its header claims."""
    with archive.open(info) as f:
        data = f.read(MAX_NOTEBOOK_BYTES + 1)
    if len(data) > MAX_NOTEBOOK_BYTES:
        raise ValueError(f"larger than {MAX_NOTEBOOK_BYTES // 2**20} MB once decompressed")
    return data


def entry_time(info, timezone, late, due):
    """The submission time of an entry, UTC: the time the zip stores for it, read in `timezone`.
    Canvas stores the time the zip was made, and marks late files LATE: a Canvas file without
    the marker is on time, so it gets at most its due date."""
    local = datetime.datetime(*info.date_time, tzinfo=timezone)
    when = local.astimezone(datetime.UTC).replace(tzinfo=None)
    if late is False and due is not None:
        when = min(when, due)
    return when


def scan(path, timezone, dates, now):
    """([Found], [(entry, why not placed)]) for the zip at `path`."""
    ids = problem_sets()
    found, skipped, total = [], [], 0
    with zipfile.ZipFile(path) as archive:
        infos = archive.infolist()
        if len(infos) > MAX_ENTRIES:
            raise ValueError(f"{path}: {len(infos)} entries, more than {MAX_ENTRIES}")
        for info in infos:
            name = info.filename
            if name.endswith("/"):
                continue
            if why := refusal(info, total):
                skipped.append((name, "refused: " + why))
                continue
            parts = name.split("/")
            if parts[0] == "__MACOSX" or parts[-1].startswith("._") or parts[-1] == ".DS_Store":
                skipped.append((name, "macOS metadata, not a submission"))
                continue
            if not parts[-1].lower().endswith(".ipynb"):
                skipped.append((name, "not a notebook (.ipynb)"))
                continue
            person = who(parts)
            if isinstance(person, str):
                skipped.append((name, person))
                continue
            student, late, file_id, filename = person
            ps, copy = match_problem_set(filename, ids)
            if ps is None:
                skipped.append((name, copy))
                continue
            if not STUDENT_ID.fullmatch(student):
                skipped.append((name, f"no usable student id in {student!r}"))
                continue
            canvas = file_id > 0
            when = entry_time(info, timezone, late if canvas else None, dates.get(ps))
            if when > now + CLOCK_SKEW:
                skipped.append(
                    (name, f"its time in the zip ({when:%Y-%m-%d %H:%M} UTC) is later than now")
                )
                continue
            try:
                data = read_bounded(archive, info)
                total += len(data)
                json.loads(data)
            except ValueError as error:
                skipped.append((name, f"not a readable notebook ({str(error)[:80]})"))
                continue
            note = " (LATE per Canvas: its time is the zip's, check it)" if late else ""
            found.append(Found(student, ps, when, (when, file_id, copy), name, data, note))
    return found, skipped


def existing_order(folder):
    """The order key of the submission already in `folder`, or None (none there, or one not
    collected by this script: then it is never replaced)."""
    try:
        with open(os.path.join(folder, "collected.json")) as f:
            record = json.load(f)
        when = datetime.datetime.fromisoformat(record["when"])
        return (when, int(record["file_id"]), int(record["copy"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def place(item, zip_name):
    """Write `item` as submitted/<student>/<ps>/ (notebook, timestamp.txt, collected.json),
    replacing the folder in one rename."""
    parent = os.path.join(COURSE, "submitted", item.student)
    os.makedirs(parent, exist_ok=True)
    target = os.path.join(parent, item.ps)
    staging = tempfile.mkdtemp(prefix=f".collect-{item.ps}-", dir=parent)
    with open(os.path.join(staging, f"{item.ps}.ipynb"), "wb") as f:
        f.write(item.data)
    with open(os.path.join(staging, "timestamp.txt"), "w") as f:
        f.write(f"{item.when:%Y-%m-%d %H:%M:%S.%f} UTC\n")
    record = {
        "zip": zip_name,
        "entry": item.entry,
        "when": item.when.isoformat(),
        "file_id": item.order[1],
        "copy": item.order[2],
    }
    with open(os.path.join(staging, "collected.json"), "w") as f:
        json.dump(record, f, indent=1)
    os.chmod(staging, 0o755)
    old = None
    if os.path.exists(target):
        old = tempfile.mkdtemp(prefix=f".replaced-{item.ps}-", dir=parent)
        os.rename(target, os.path.join(old, item.ps))
    os.rename(staging, target)
    if old:
        shutil.rmtree(old)


def collect(path, timezone):
    """Collect the zip at `path`; the lines of the report, and the number of files not placed."""
    from course_preprocessors import due_dates
    from traitlets.config.loader import PyFileConfigLoader

    config = PyFileConfigLoader("nbgrader_config.py", path=COURSE).load_config()
    now = datetime.datetime.now(datetime.UTC).replace(tzinfo=None)
    found, skipped = scan(path, timezone, due_dates(config), now)
    latest = {}
    for item in sorted(found, key=lambda item: item.order):
        key = item.student, item.ps
        if key in latest:
            skipped.append((latest[key].entry, f"an older copy: {item.entry} is newer"))
        latest[key] = item
    lines = []
    for (student, ps), item in sorted(latest.items()):
        folder = os.path.join(COURSE, "submitted", student, ps)
        here = f"{student}/{ps}"
        old = existing_order(folder)
        if os.path.exists(folder) and old is None:
            skipped.append((item.entry, f"{here} exists and was not collected by make collect"))
        elif old is not None and old >= item.order:
            same = old == item.order
            why = "already collected" if same else f"older than the collected {here}"
            if not same:
                skipped.append((item.entry, why))
        else:
            place(item, os.path.basename(path))
            verb = "replaced (to be graded again)" if old else "collected"
            lines.append(
                f"{verb} {here} <- {item.entry} ({item.when:%Y-%m-%d %H:%M} UTC){item.note}"
            )
    lines += [f"NOT PLACED {entry}: {why}" for entry, why in skipped]
    return lines, len(skipped)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("zip", help="the LMS's download of submissions (.zip)")
    parser.add_argument(
        "--timezone",
        default="UTC",
        help="the time zone of the times stored in the zip (default UTC), e.g. Europe/Berlin",
    )
    args = parser.parse_args(argv)
    try:
        timezone = zoneinfo.ZoneInfo(args.timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        print(f"--timezone: unknown time zone {args.timezone!r} (expected e.g. Europe/Berlin)")
        return 2
    if not zipfile.is_zipfile(args.zip):
        print(f"ZIP={args.zip}: not a readable zip file")
        return 2
    try:
        lines, not_placed = collect(args.zip, timezone)
    except (ValueError, zipfile.BadZipFile) as error:
        print(error)
        return 2
    print("\n".join(lines) or "Nothing new to collect.")
    print(f"{not_placed} file(s) not placed" if not_placed else "Every file was placed.")
    return 1 if not_placed else 0


if __name__ == "__main__":
    sys.exit(main())
