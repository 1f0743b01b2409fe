"""`python -m d2lseg.train`, round two: paths, settings and numbers checked before the first
batch, one run per checkpoint, workers that end with torchrun, one line for every error."""

import errno
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import d2lseg
from d2lseg import checkpoint as ckpt
from d2lseg import cli, files, model
from d2lseg.train import adamw_one_cycle

SMALL = ["--epochs", "2", "--batch-size", "4", "--crop", "64", "64", "--workers", "0",
         "--pretrained", "no", "--device", "cpu", "--amp", "off"]  # fmt: skip


def _checkpoint(tmp_path, epochs=2, lr=3e-3, weight_decay=1e-4, crop=(64, 64)):
    """A checkpoint as the CLI writes it, after `epochs` epochs of 5 batches."""
    net = d2lseg.fcn_resnet18(pretrained=False)
    optimizer, scheduler = adamw_one_cycle(net, lr, 2, 5, weight_decay)
    history = [{"epoch": e} for e in range(1, epochs + 1)]
    ckpt.save_checkpoint(tmp_path / "fcn.pt", net, optimizer, scheduler, history, crop=crop)
    return tmp_path / "fcn.pt"


def _empty(tmp_path):
    (tmp_path / "empty.pt").touch()
    return ["--checkpoint", tmp_path / "empty.pt"]


def _a_file(tmp_path):
    (tmp_path / "file").write_text("x")
    return tmp_path / "file"


def _loop(tmp_path):
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    return ["--voc-dir", tmp_path / "loop"]


def _out_with_a_folder(tmp_path):
    (tmp_path / "o" / "curves.png").mkdir(parents=True)
    return ["--out", tmp_path / "o"]


CASES = [
    (lambda t: ["--lr", "nan"], "argument --lr: expected a positive float up to 1.0, got 'nan'"),
    (lambda t: ["--lr", "inf"], "argument --lr: expected a positive float up to 1.0, got 'inf'"),
    (lambda t: ["--lr", "1e30"], "argument --lr: expected a positive float up to 1.0"),
    (lambda t: ["--weight-decay", "inf"], "argument --weight-decay: expected a non-negative"),
    (lambda t: ["--seed", "-1"], "argument --seed: expected a non-negative int up to 4294967295"),
    (lambda t: ["--seed", str(2**32)], "argument --seed: expected a non-negative int up to"),
    (lambda t: ["--workers", "100000"], f"argument --workers: .* up to {cli.CPUS}, got '100000'"),
    (lambda t: ["--voc-dir", t / "missing"], r"argument --voc-dir: .*missing does not exist"),
    (_loop, r"argument --voc-dir: .*loop does not exist \(or is a broken or looping link\)"),
    (lambda t: ["--voc-dir", _a_file(t)], r"argument --voc-dir: .*file is not a folder"),
    (lambda t: ["--out", _a_file(t)], r"argument --out: .*file is a file; --out is a folder"),
    (lambda t: ["--checkpoint", t], r"argument --checkpoint: .* is a folder; give a file path"),
    (_out_with_a_folder, r"argument --out: .*curves\.png is a folder, where"),
    (lambda t: ["--checkpoint", "/dev/null"], "argument --checkpoint: /dev/null is not a regular"),
    (_empty, r"argument --checkpoint: .*empty\.pt is empty"),
    (lambda t: ["--checkpoint", t / "out" / "history.json"],
     r"history\.json is history\.json, which --out .*out writes"),
    (lambda t: ["--checkpoint", t / "out"], r"out is the --out folder, which --out"),
    (lambda t: ["--checkpoint", _checkpoint(t, epochs=3)],
     r"argument --epochs: .*fcn\.pt holds 3 epochs already; ask for --epochs 3 or more"),
    (lambda t: ["--checkpoint", _checkpoint(t, lr=0.01)],
     r"argument --lr: .*fcn\.pt was trained with --lr 0.01; resume with the same"),
    (lambda t: ["--checkpoint", _checkpoint(t, weight_decay=0.0)],
     "argument --weight-decay: .* was trained with --weight-decay 0.0"),
    (lambda t: ["--checkpoint", _checkpoint(t, crop=(96, 64))],
     "argument --crop: .* was trained with --crop 96 64"),
    (lambda t: ["--amp", "fp16"], "argument --amp: fp16 on a CPU is emulated"),
]  # fmt: skip


@pytest.mark.parametrize(("make_options", "message"), CASES)
def test_bad_options_end_in_one_line_before_training(voc_dir, tmp_path, capsys, make_options,
                                                     message):  # fmt: skip
    options = [*SMALL, "--voc-dir", voc_dir, "--out", tmp_path / "out"]
    with pytest.raises(SystemExit) as info:
        cli.main([*map(str, options), *map(str, make_options(tmp_path))])
    captured = capsys.readouterr()
    assert info.value.code == 2
    assert captured.err.count("\n") == 1, captured.err
    assert re.search(message, captured.err), captured.err
    assert "epoch" not in captured.out and not (tmp_path / "out").exists()


def test_the_data_choice_and_missing_weights_are_one_line(voc_dir, tmp_path, capsys, monkeypatch):
    options = [*map(str, SMALL), "--out", str(tmp_path / "out")]
    monkeypatch.setenv("D2LSEG_DATA", "real")
    with pytest.raises(SystemExit):
        cli.main(options)
    assert "$D2LSEG_DATA is 'real'" in capsys.readouterr().err
    monkeypatch.delenv("D2LSEG_DATA")

    def offline():
        raise OSError("no network")

    monkeypatch.setattr(model, "_pretrained_resnet18", offline)
    with pytest.raises(SystemExit):
        cli.main([*options, "--voc-dir", str(voc_dir), "--pretrained", "yes"])
    err = capsys.readouterr().err
    assert "argument --pretrained: yes, but the ImageNet weights" in err
    assert "use --pretrained no" in err and "pretrained=False" not in err


def test_all_void_labels_are_refused_before_training(voc_dir, tmp_path, capsys):
    void = tmp_path / "VOC2012"
    shutil.copytree(voc_dir, void)
    for label in (void / "SegmentationClass").iterdir():
        with Image.open(label) as img:
            blank = Image.fromarray(np.full(img.size[::-1], 255, dtype=np.uint8), "P")
            blank.putpalette(img.getpalette())
        blank.save(label)
    with pytest.raises(SystemExit):
        cli.main([*map(str, SMALL), "--voc-dir", str(void), "--out", str(tmp_path / "out")])
    assert "every pixel of the training labels" in capsys.readouterr().err


def test_a_second_run_on_a_checkpoint_is_refused_naming_the_first(voc_dir, tmp_path, capsys):
    checkpoint = tmp_path / "fcn.pt"
    held = files.hold_lock(tmp_path / ".fcn.pt.lock", "pid 4242 on elsewhere, started today")
    try:
        with pytest.raises(SystemExit):
            cli.main([*map(str, SMALL), "--voc-dir", str(voc_dir), "--checkpoint",
                      str(checkpoint), "--out", str(tmp_path / "out")])  # fmt: skip
    finally:
        os.close(held)
    err = capsys.readouterr().err
    assert "another run trains" in err and "pid 4242 on elsewhere, started today" in err


def test_a_run_removes_what_a_killed_run_left_beside_its_checkpoint(voc_dir, tmp_path, capsys):
    leftover = tmp_path / ".fcn.pt.pid4242.abcdefgh.tmp"
    leftover.write_bytes(b"half a checkpoint")
    with pytest.raises(SystemExit):  # stopped by --amp fp16, after the lock
        cli.main([*map(str, SMALL), "--voc-dir", str(voc_dir), "--checkpoint",
                  str(tmp_path / "fcn.pt"), "--out", str(tmp_path / "out"),
                  "--amp", "fp16"])  # fmt: skip
    assert not leftover.exists()
    capsys.readouterr()


def test_errors_while_training_are_one_line(voc_dir, tmp_path, capsys, monkeypatch):
    def full_disk(*args, **kwargs):
        raise OSError(errno.ENOSPC, f"cannot write {tmp_path / 'fcn.pt'}: No space left")

    monkeypatch.setattr(cli, "train_fcn", full_disk)
    with pytest.raises(SystemExit) as info:
        cli.main([*map(str, SMALL), "--voc-dir", str(voc_dir), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert info.value.code == 1 and err.count("\n") == 1
    assert err.startswith(f"python -m d2lseg.train: error: [Errno 28] cannot write {tmp_path}")


AS_NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]


def _python_runs_as_nobody():
    """Whether user 65534 can start this Python: not a pyenv build linked to its own
    libpython under a private home (as /root/.pyenv is on CI's machine for Python 3.13)."""
    if os.geteuid() != 0:
        return False
    run = subprocess.run([*AS_NOBODY, sys.executable, "-c", ""], capture_output=True)
    return run.returncode == 0


@pytest.mark.skipif(
    not _python_runs_as_nobody(), reason="needs root, and a Python that user 65534 can start"
)
@pytest.mark.parametrize("option", ["--out", "--checkpoint"])
def test_a_read_only_folder_is_refused_before_training(option):
    """Run as `nobody`: root may write anywhere."""
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        base.chmod(0o755)
        (base / "ro").mkdir(mode=0o555)
        (base / "rw").mkdir(mode=0o777)
        (base / "rw").chmod(0o777)
        paths = {"--out": base / "rw" / "out", option: base / "ro" / "x"}
        command = [*AS_NOBODY, sys.executable, "-m", "d2lseg.train", *SMALL,
                   *(str(item) for pair in paths.items() for item in pair)]  # fmt: skip
        env = dict(os.environ, MPLCONFIGDIR=str(base / "rw"))
        result = subprocess.run(command, capture_output=True, text=True, cwd=tmp, env=env,
                                timeout=120)  # fmt: skip
        assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
        assert f"argument {option}: cannot write in {base / 'ro'}" in result.stderr


ORPHAN = """
import os, subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", sys.argv[1]])
print(child.pid, flush=True)
time.sleep(60)
"""
WORKER = """
import time
from d2lseg.distributed import exit_with_parent
exit_with_parent(0.05)
print("ready", flush=True)
time.sleep(60)
"""


def test_workers_end_when_torchrun_is_killed():
    parent = subprocess.Popen([sys.executable, "-c", ORPHAN, WORKER], stdout=subprocess.PIPE,
                              text=True)  # fmt: skip
    worker = int(parent.stdout.readline())
    assert parent.stdout.readline() == "ready\n"
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    parent.stdout.close()
    status = Path(f"/proc/{worker}/status")
    for _ in range(100):
        time.sleep(0.1)
        if not status.exists() or "\tZ" in status.read_text():  # gone, or a zombie
            return
    pytest.fail(f"worker {worker} still runs after its parent was killed")


LAUNCHER = """
import subprocess, sys
child = subprocess.Popen([sys.executable, "-c", sys.argv[1]])
print("worker exit", child.wait(), flush=True)
"""


@pytest.mark.parametrize("parent_name", ["torchrun", "launcher"])
def test_a_torchrun_worker_whose_parent_is_not_torchrun_stops_at_once(tmp_path, parent_name):
    # As when torchrun is killed while its worker still imports torch: the worker has been
    # handed to another parent before its watchdog could note torchrun's pid.
    parent = tmp_path / parent_name  # the parent's command line: python .../<parent_name>
    parent.write_text(LAUNCHER)
    env = dict(os.environ, TORCHELASTIC_RUN_ID="test")
    started = subprocess.Popen([sys.executable, parent, WORKER], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env=env)  # fmt: skip
    try:
        line = started.stdout.readline()
    finally:
        started.kill()
        _, stderr = started.communicate()
    if parent_name == "torchrun":
        assert line == "ready\n"
    else:
        assert line == "worker exit 1\n"
        assert "torchrun, which started this worker, is gone" in stderr
