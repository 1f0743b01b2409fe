"""Leftover cleanup by lock, not by pid or age; file modes, symlinks and a full disk."""

import os
import signal
import subprocess
import sys

from d2lseg import files

WRITER = """
import sys, time
from d2lseg.files import writing_in
with writing_in(sys.argv[1]):
    print("ready", flush=True)
    time.sleep(60)
"""

OURS = (
    ".fcn.pt.pid7.abcd_123.tmp",
    ".VOCtrainval.tar.pid8.x1y2z3w4.part",
    ".extract-pid9-abcdefgh",
    ".sample-pid10-12345678",
)
THEIRS = (
    ".mynotes.tmp",
    ".backup.part",
    ".sample-figures",
    ".extract-notes",
    ".fcn.pt.pid7.tmp",
    "fcn.pt",
    "sample-v1",
    ".d2lseg.lock.keep",
)


def _populate(folder):
    for name in OURS + THEIRS:
        if "." in name[1:]:
            (folder / name).write_text("x")
        else:
            (folder / name / "VOC2012").mkdir(parents=True)


def test_only_our_exact_names_are_removed(tmp_path):
    _populate(tmp_path)
    files.remove_leftovers(tmp_path, tmp_path / "missing")
    left = {p.name for p in tmp_path.iterdir()} - {files.LOCK_NAME}
    assert left == set(THEIRS)


def test_a_live_writer_keeps_its_temporaries_whatever_its_pid(tmp_path):
    """The writer's lock decides, not the pid in the name (another namespace, or reused)."""
    _populate(tmp_path)
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert writer.stdout.readline() == "ready\n"
        files.remove_leftovers(tmp_path)
        assert all((tmp_path / name).exists() for name in OURS)
    finally:
        writer.send_signal(signal.SIGKILL)
        writer.wait()
        writer.stdout.close()
    files.remove_leftovers(tmp_path)  # the kernel released the killed writer's lock
    assert not any((tmp_path / name).exists() for name in OURS)


def test_new_files_follow_the_umask_and_existing_ones_keep_their_mode(tmp_path):
    old = os.umask(0o022)
    try:
        new = files.write_atomically(tmp_path / "new.csv", lambda f: f.write("a"), "w")
        assert new.stat().st_mode & 0o777 == 0o644
        kept = tmp_path / "kept.csv"
        kept.write_text("old")
        kept.chmod(0o640)
        files.write_atomically(kept, lambda f: f.write("b"), "w")
        assert kept.stat().st_mode & 0o777 == 0o640
    finally:
        os.umask(old)


def test_a_symlink_is_written_through_to_its_target(tmp_path):
    target = tmp_path / "store" / "fcn.pt"
    target.parent.mkdir()
    target.write_bytes(b"old")
    link = tmp_path / "fcn.pt"
    link.symlink_to(target)
    files.write_atomically(link, lambda f: f.write(b"new"))
    assert link.is_symlink() and target.read_bytes() == b"new"


FULL = """
import resource, sys
from d2lseg.checkpoint import write_state
import torch
resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))
try:
    write_state(sys.argv[1], {"x": torch.zeros(100000)})
except OSError as err:
    print(err)
"""


def test_a_file_size_limit_names_the_file_and_keeps_the_previous_one(tmp_path):
    checkpoint = tmp_path / "fcn.pt"
    checkpoint.write_bytes(b"previous")
    out = subprocess.run(
        [sys.executable, "-c", FULL, str(checkpoint)], capture_output=True, text=True
    )
    assert f"cannot write {checkpoint}: File too large" in out.stdout, out.stderr
    assert checkpoint.read_bytes() == b"previous"
    assert sorted(p.name for p in tmp_path.iterdir()) == [files.LOCK_NAME, "fcn.pt"]
