"""`python -m d2lseg.train`: options checked before training, one process and two under
torchrun (gloo on the CPU), identical weights, scores equal to a one-process evaluation, and a
killed run resumed exactly."""

import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import d2lseg
from d2lseg import checkpoint as ckpt
from d2lseg import cli
from d2lseg.files import LOCK_NAME

ROOT = Path(d2lseg.__file__).resolve().parent.parent
WORKER = Path(__file__).with_name("cli_worker.py")
SMALL = ["--epochs", "2", "--batch-size", "4", "--crop", "64", "64", "--workers", "0",
         "--pretrained", "no", "--device", "cpu", "--amp", "off"]  # fmt: skip


def _env():
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    env.pop("D2LSEG_DEVICE", None)
    return env


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _torchrun(*args):
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2",
               "--master-addr=127.0.0.1", f"--master-port={_free_port()}",
               *map(str, args)]  # fmt: skip
    return subprocess.run(command, env=_env(), capture_output=True, text=True, timeout=300)


def _options(voc_dir, run_dir, *extra):
    return [*SMALL, "--voc-dir", voc_dir, "--out", run_dir / "out",
            "--checkpoint", run_dir / "fcn.pt", *extra]  # fmt: skip


def _without_speed(history):
    return [{k: v for k, v in h.items() if k != "images_per_s"} for h in history]


@pytest.fixture(scope="module")
def ddp_runs(voc_dir, tmp_path_factory):
    """Two torchrun runs of 2 epochs: one straight through (each rank saves its weights), one
    killed after its first checkpoint and then resumed with `-m d2lseg.train`."""
    straight, killed = tmp_path_factory.mktemp("straight"), tmp_path_factory.mktemp("killed")
    runs = {"straight": _torchrun(WORKER, "save", straight, "--", *_options(voc_dir, straight))}
    runs["killed"] = _torchrun(WORKER, "kill", "-", "--", *_options(voc_dir, killed))
    runs["after_kill"] = ckpt.read_checkpoint(killed / "fcn.pt")["history"]
    runs["leftovers"] = sorted(p.name for p in killed.iterdir() if p.name not in ("out", LOCK_NAME))
    runs["resumed"] = _torchrun("-m", "d2lseg.train", *_options(voc_dir, killed))
    return straight, killed, runs


def test_two_processes_end_with_identical_weights(ddp_runs):
    straight, _, runs = ddp_runs
    assert runs["straight"].returncode == 0, runs["straight"].stderr[-3000:]
    rank0 = torch.load(straight / "rank0.pt", weights_only=True)
    rank1 = torch.load(straight / "rank1.pt", weights_only=True)
    assert rank0.keys() == rank1.keys()
    for key in rank0:  # parameters and BatchNorm statistics alike
        assert torch.equal(rank0[key], rank1[key]), key
    saved = ckpt.read_checkpoint(straight / "fcn.pt")
    assert all(torch.equal(saved["model"][k], rank0[k]) for k in rank0)
    assert len(saved["rng_by_rank"]) == 2  # each rank's random state, for resuming
    assert not torch.equal(saved["rng_by_rank"][0]["torch"], saved["rng_by_rank"][1]["torch"])


def test_reported_scores_equal_a_one_process_evaluation(ddp_runs, voc_dir):
    straight, _, runs = ddp_runs
    history = json.loads((straight / "out" / "history.json").read_text())
    net = d2lseg.fcn_resnet18(pretrained=False)
    net.load_state_dict(torch.load(straight / "rank0.pt", weights_only=True))
    val_set = d2lseg.VOCSegDataset(False, (64, 64), voc_dir)
    confmat = d2lseg.evaluate(net, torch.utils.data.DataLoader(val_set, 7), torch.device("cpu"))
    assert confmat.sum() == (torch.stack([y for _, y in val_set]) != d2lseg.VOID_LABEL).sum()
    scores = d2lseg.segmentation_scores(confmat)
    assert history[-1]["val_acc"] == pytest.approx(scores["pixel_acc"], abs=1e-12)
    assert history[-1]["val_miou"] == pytest.approx(scores["miou"], abs=1e-12)


def test_outputs_and_one_line_per_epoch_from_rank_0(ddp_runs):
    straight, _, runs = ddp_runs
    out = runs["straight"].stdout
    assert [line.split(":")[0] for line in out.splitlines() if line.startswith("epoch")] == [
        "epoch 1", "epoch 2"]  # fmt: skip
    assert "val mIoU" in out and "images/s" in out
    history = json.loads((straight / "out" / "history.json").read_text())
    csv = (straight / "out" / "history.csv").read_text().splitlines()
    assert csv[0] == ",".join(cli.HISTORY_KEYS) and len(csv) == 1 + len(history) == 3
    assert (straight / "out" / "curves.png").read_bytes()[:8] == bytes.fromhex("89504e470d0a1a0a")
    assert sorted(p.name for p in (straight / "out").iterdir()) == [
        LOCK_NAME, "curves.png", "history.csv", "history.json"]  # fmt: skip


def test_a_killed_run_resumes_exactly_under_torchrun(ddp_runs):
    straight, killed, runs = ddp_runs
    assert runs["killed"].returncode != 0  # SIGKILLed after epoch 1
    assert [h["epoch"] for h in runs["after_kill"]] == [1]
    assert runs["leftovers"] == [".fcn.pt.lock", "fcn.pt"]  # no temporary file left behind
    resumed = runs["resumed"]
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "Warning" not in resumed.stderr  # e.g. runpy's "found in sys.modules"
    assert [line.split(":")[0] for line in resumed.stdout.splitlines()
            if line.startswith("epoch")] == ["epoch 2"]  # fmt: skip
    expected, got = (
        ckpt.read_checkpoint(straight / "fcn.pt"),
        ckpt.read_checkpoint(killed / "fcn.pt"),
    )
    assert _without_speed(got["history"]) == _without_speed(expected["history"])
    for key, value in expected["model"].items():
        assert torch.equal(got["model"][key], value), key


def test_resuming_with_more_epochs_continues_the_run(voc_dir, tmp_path, capsys):
    """`--epochs 1`, then `--epochs 2` with the same checkpoint: one more epoch, after the
    first, with the learning-rate schedule stretched (said in one line)."""
    options = [str(o) for o in _options(voc_dir, tmp_path)]
    one = cli.main([*options, "--epochs", "1"])[1]
    two = cli.main([*options, "--epochs", "2"])[1]
    out = capsys.readouterr().out
    assert [h["epoch"] for h in two] == [1, 2] and two[0] == one[0]
    assert "continuing after epoch 1 up to epoch 2" in out
    saved = ckpt.read_checkpoint(tmp_path / "fcn.pt")["scheduler"]
    assert saved["total_steps"] == saved["last_epoch"] == 2 * 5  # 20 images / batches of 4


def test_a_finished_run_writes_its_outputs_to_a_new_out_folder(voc_dir, tmp_path, capsys):
    """Rerunning a finished run trains nothing, but still writes its history and curves to
    the `--out` it is given."""
    options = [str(o) for o in _options(voc_dir, tmp_path, "--epochs", "1")]
    history = cli.main(options)[1]
    again = tmp_path / "again"
    assert cli.main([*options, "--out", str(again)])[1] == history
    assert "need no training" in capsys.readouterr().out
    assert json.loads((again / "history.json").read_text()) == history
    assert {p.name for p in again.iterdir()} - {LOCK_NAME} == {
        "curves.png",
        "history.csv",
        "history.json",
    }


def test_module_runs_without_warnings_and_documents_every_option():
    result = subprocess.run([sys.executable, "-m", "d2lseg.train", "--help"], env=_env(),
                            capture_output=True, text=True, timeout=120)  # fmt: skip
    assert result.returncode == 0 and result.stderr == ""
    names = ["--voc-dir", "--variant", "--epochs", "--batch-size", "--crop", "--lr",
             "--weight-decay", "--workers", "--seed", "--device", "--amp", "--checkpoint",
             "--out", "--sync-bn"]  # fmt: skip
    for name in names:
        assert name in result.stdout
    for action in cli.build_parser()._actions:
        assert action.help, action.option_strings


def test_bad_option_from_the_shell_is_one_line_without_traceback(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "d2lseg.train", "--variant", "4s", "--out", str(tmp_path / "o")],
        env=_env(), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("python -m d2lseg.train: error: argument --variant")
    assert not (tmp_path / "o").exists()


def _other_variant_checkpoint(voc_dir, tmp_path):
    net = d2lseg.fcn_resnet18(pretrained=False, variant="16s")
    ckpt.save_checkpoint(tmp_path / "fcn16s.pt", net, None, None, [])
    return ["--checkpoint", tmp_path / "fcn16s.pt"]


def _weights_only_checkpoint(voc_dir, tmp_path):
    ckpt.save_checkpoint(tmp_path / "weights.pt", d2lseg.fcn_resnet18(pretrained=False), None,
                         None, [])  # fmt: skip
    return ["--checkpoint", tmp_path / "weights.pt"]


def _garbage_checkpoint(voc_dir, tmp_path):
    (tmp_path / "notes.pt").write_text("not a checkpoint\n")
    return ["--checkpoint", tmp_path / "notes.pt"]


@pytest.mark.parametrize(
    ("make_options", "message"),
    [
        (lambda v, t: ["--variant", "4s"], "argument --variant: invalid choice: '4s'"),
        (lambda v, t: ["--crop", "64", "x"], "argument --crop: expected a positive int, got 'x'"),
        (lambda v, t: ["--crop", "64"], "argument --crop: expected 2 arguments"),
        (lambda v, t: ["--crop", "0", "64"], "argument --crop: expected a positive int, got '0'"),
        (lambda v, t: ["--crop", "64", "-32"], "expected a positive int, got '-32'"),
        (
            lambda v, t: ["--crop", "64", "80"],
            "argument --crop: 64 80 are not both multiples of 32",
        ),
        (lambda v, t: ["--batch-size", "21"], "argument --batch-size: 21 is larger than the 20"),
        (lambda v, t: ["--epochs", "0"], "argument --epochs: expected a positive int"),
        (lambda v, t: ["--amp", "fp8"], "argument --amp: invalid choice"),
        (lambda v, t: ["--device", "gpu0"], "argument --device: 'gpu0' is not a device"),
        (lambda v, t: ["--sync-bn"], "argument --sync-bn: needs several CUDA processes"),
        (_other_variant_checkpoint, r"holds an FCN-16s, not the FCN-32s asked for"),
        (_weights_only_checkpoint, r"weights\.pt holds weights without optimizer"),
        (_garbage_checkpoint, r"argument --checkpoint: .*notes\.pt is not a readable PyTorch"),
    ],
)
def test_bad_options_end_in_one_line_before_training(voc_dir, tmp_path, capsys, make_options,
                                                     message):  # fmt: skip
    options = [*SMALL, "--voc-dir", voc_dir, "--out", tmp_path / "out"]
    with pytest.raises(SystemExit) as info:
        cli.main([*map(str, options), *map(str, make_options(voc_dir, tmp_path))])
    captured = capsys.readouterr()
    assert info.value.code == 2
    assert captured.err.count("\n") == 1, captured.err
    assert captured.err.startswith("python -m d2lseg.train: error: ")
    assert re.search(message, captured.err), captured.err
    assert "epoch" not in captured.out and not (tmp_path / "out").exists()


@pytest.mark.parametrize("variant", ["16s", "8s"])
def test_skip_variants_train_and_are_recorded(voc_dir, tmp_path, capsys, variant):
    options = [str(o) for o in _options(voc_dir, tmp_path, "--variant", variant)]
    net, history = cli.main([*options, "--epochs", "1"])
    assert d2lseg.model.variant_of(net) == variant and len(history) == 1
    assert ckpt.read_checkpoint(tmp_path / "fcn.pt")["variant"] == variant
    assert f"training FCN-{variant}" in capsys.readouterr().out


def test_a_checkpoint_in_a_folder_not_made_yet_is_written_there(voc_dir, tmp_path):
    checkpoint = tmp_path / "runs" / "new" / "fcn.pt"
    options = [*SMALL, "--epochs", "1", "--voc-dir", voc_dir, "--checkpoint", checkpoint,
               "--out", tmp_path / "out"]  # fmt: skip
    cli.main([str(o) for o in options])
    assert ckpt.read_checkpoint(checkpoint)["history"][0]["epoch"] == 1
