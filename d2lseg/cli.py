"""`python -m d2lseg.train`: train an FCN on VOC from the command line, alone or under torchrun.

It runs the notebooks' loop (`train_fcn`) and recipe (AdamW with a one-cycle learning rate),
checks every option before any training, and writes the history (JSON, CSV) and the curves
(PNG) into --out after each epoch. Launched by `torchrun --nproc_per_node=N`, each process
trains on its share of the data with DistributedDataParallel.
"""

import argparse
import csv
import io
import json
import math
import os
import socket
import sys
import tempfile
import time
from pathlib import Path

import torch
from matplotlib.figure import Figure
from tqdm.auto import tqdm

from . import distributed
from .amp import AMP_MODES, precision_for
from .checkpoint import read_checkpoint, training_settings, write_state
from .data import resolve_voc_dir
from .devices import try_all_devices
from .files import hold_lock, remove_leftovers, write_atomically
from .model import _weights_help, fcn_resnet18
from .train import adamw_one_cycle, draw_history, set_seed, train_fcn
from .voc import VOC_CLASSES, VOID_LABEL, VOCSegDataset, default_num_workers

PROG = "python -m d2lseg.train"
VARIANTS = ("32s", "16s", "8s")
STRIDE = 32  # the FCN's coarsest feature map is 1/32 of the input: crop sides must divide
HISTORY_KEYS = ("epoch", "train_loss", "train_acc", "val_acc", "val_miou", "images_per_s")
OUTPUTS = ("history.json", "history.csv", "curves.png")  # what --out receives
MAX_SEED = 2**32 - 1  # NumPy's seeds; process r uses seed + r
CPUS = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


class OneLineParser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line (no usage block), printed by one process."""

    def error(self, message):
        if os.environ.get("RANK", "0") == "0":
            print(f"{self.prog}: error: {message}", file=sys.stderr)
        sys.exit(2)


def _number(kind, zero_ok=False, most=None):
    """An argparse type: a positive, finite `kind` (or zero too, with `zero_ok`), at most
    `most` if given."""

    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            value = None
        if (
            value is None
            or not math.isfinite(value)
            or value < 0
            or (value == 0 and not zero_ok)
            or (most is not None and value > most)
        ):
            adjective = "non-negative" if zero_ok else "positive"
            limit = "" if most is None else f" up to {most}"
            raise argparse.ArgumentTypeError(
                f"expected a {adjective} {kind.__name__}{limit}, got {text!r}"
            )
        return value

    return parse


def build_parser():
    parser = OneLineParser(
        prog=PROG,
        description="Train an FCN (ResNet-18 backbone) on Pascal VOC2012 or the embedded sample, "
        "on one device, or on many under torchrun --nproc_per_node=N -m d2lseg.train.",
    )
    add = parser.add_argument
    add(
        "--voc-dir",
        type=Path,
        metavar="DIR",
        default=None,
        help="VOC2012 folder (JPEGImages/, SegmentationClass/, ImageSets/); default: "
        "$D2LSEG_VOC_DIR, else data/VOCdevkit/VOC2012, else the embedded sample",
    )
    add(
        "--variant",
        choices=VARIANTS,
        default="32s",
        help="FCN variant: 32s (the book's, default), 16s or 8s (with skip connections)",
    )
    add(
        "--epochs",
        metavar="N",
        type=_number(int),
        default=20,
        help="number of epochs in total (default: 20)",
    )
    add(
        "--batch-size",
        metavar="N",
        type=_number(int),
        default=16,
        help="images per batch in each process; the global batch is this times the number "
        "of processes (default: 16)",
    )
    add(
        "--crop",
        type=_number(int),
        nargs=2,
        metavar=("H", "W"),
        default=(128, 128),
        help=f"training and validation crop, height and width, multiples of {STRIDE} "
        "(default: 128 128)",
    )
    add(
        "--lr",
        metavar="LR",
        type=_number(float, most=1.0),
        default=3e-3,
        help="peak learning rate of the one-cycle schedule, at most 1 (default: 0.003)",
    )
    add(
        "--weight-decay",
        metavar="WD",
        type=_number(float, zero_ok=True, most=1.0),
        default=1e-4,
        help="AdamW weight decay, 0 to 1 (default: 0.0001)",
    )
    add(
        "--workers",
        metavar="N",
        type=_number(int, zero_ok=True, most=CPUS),
        default=None,
        help="DataLoader worker processes per training process, at most the number of CPUs "
        f"({CPUS} here) (default: by OS and cores)",
    )
    add(
        "--seed",
        metavar="N",
        type=_number(int, zero_ok=True, most=MAX_SEED),
        default=0,
        help=f"random seed, 0 to {MAX_SEED}; process r draws its random crops with seed + r "
        "(default: 0)",
    )
    add(
        "--device",
        metavar="DEVICE",
        default=None,
        help="cpu, cuda, cuda:N or mps (default: $D2LSEG_DEVICE, else the best available; under "
        "torchrun on GPUs each process uses cuda:LOCAL_RANK)",
    )
    add(
        "--amp",
        choices=AMP_MODES,
        default="auto",
        help="mixed precision: auto = bf16 on a CPU with AVX512-BF16/AMX and on GPUs that have "
        "it, else fp16 with a gradient scaler on GPUs, else off (default: auto)",
    )
    add(
        "--sync-bn",
        action="store_true",
        help="under torchrun, compute BatchNorm statistics over all processes' batches",
    )
    add(
        "--pretrained",
        choices=("auto", "yes", "no"),
        default="auto",
        help="start the backbone from ImageNet weights: yes, no, or auto = when cached or "
        "downloadable (default: auto)",
    )
    add(
        "--checkpoint",
        type=Path,
        metavar="PATH",
        default=None,
        help="checkpoint file, written after every epoch and resumed from when it exists "
        "(with the same --lr, --weight-decay and --crop); a symlink is written through to its "
        "target; one run at a time per checkpoint",
    )
    add(
        "--out",
        type=Path,
        metavar="DIR",
        default=Path("runs/fcn"),
        help="folder for history.json, history.csv and curves.png, rewritten after every "
        "epoch (default: runs/fcn)",
    )
    return parser


def _device(parser, wanted):
    if wanted is None:
        try:
            return try_all_devices()[0]
        except ValueError as err:
            parser.error(str(err))
    try:
        device = torch.device(wanted)
    except RuntimeError:
        parser.error(f"argument --device: {wanted!r} is not a device; use cpu, cuda, cuda:N or mps")
    available = {
        "cpu": True,
        "cuda": torch.cuda.is_available(),
        "mps": torch.backends.mps.is_available(),
    }
    if not available.get(device.type, False):
        parser.error(f"argument --device: this machine has no {device.type} device")
    return device


def _check_writable(parser, option, folder):
    """Refuse `folder` unless it is, or can be made, a folder this process can write in."""
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        parser.error(f"argument {option}: {existing} is a file, so {folder} cannot be a folder")
    try:
        tempfile.TemporaryFile(dir=existing).close()
    except OSError as err:
        parser.error(f"argument {option}: cannot write in {existing} ({err.strerror})")


def check_paths(parser, args):
    """--out and --checkpoint: folders that can be written, and files that do not collide."""
    if args.out.exists() and not args.out.is_dir():
        parser.error(
            f"argument --out: {args.out} is a file; --out is a folder for {', '.join(OUTPUTS)}"
        )
    _check_writable(parser, "--out", args.out)
    for name in OUTPUTS:
        if (args.out / name).is_dir():
            parser.error(f"argument --out: {args.out / name} is a folder, where {name} goes")
    if args.voc_dir is not None and not args.voc_dir.is_dir():
        what = (
            "is not a folder"
            if args.voc_dir.exists()
            else "does not exist (or is a broken or looping link)"
        )
        parser.error(f"argument --voc-dir: {args.voc_dir} {what}; give a VOC2012 folder")
    if args.checkpoint is None:
        return
    checkpoint = Path(os.path.realpath(args.checkpoint))
    if checkpoint.is_dir():
        parser.error(
            f"argument --checkpoint: {args.checkpoint} is a folder; give a file path such as "
            f"{args.checkpoint / 'fcn.pt'}"
        )
    if checkpoint.exists() and not checkpoint.is_file():
        parser.error(
            f"argument --checkpoint: {args.checkpoint} is not a regular file (a device, a pipe "
            "or a socket)"
        )
    taken = {Path(os.path.realpath(args.out / name)): name for name in OUTPUTS}
    taken[Path(os.path.realpath(args.out))] = "the --out folder"
    if checkpoint in taken:
        parser.error(
            f"argument --checkpoint: {args.checkpoint} is {taken[checkpoint]}, which --out "
            f"{args.out} writes; choose another --checkpoint or --out"
        )
    _check_writable(parser, "--checkpoint", checkpoint.parent)


def check_args(parser, args):
    """The checks that need no data: paths, crop sides, seeds and the checkpoint's model,
    epochs and settings."""
    check_paths(parser, args)
    if any(side % STRIDE for side in args.crop):
        parser.error(
            f"argument --crop: {args.crop[0]} {args.crop[1]} are not both multiples "
            f"of {STRIDE}, which the FCN needs to give each pixel a prediction"
        )
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if args.seed + world - 1 > MAX_SEED:
        parser.error(
            f"argument --seed: process {world - 1} would use seed {args.seed + world - 1}, "
            f"above {MAX_SEED}; use --seed {MAX_SEED - world + 1} or less"
        )
    if args.checkpoint is not None and args.checkpoint.exists():
        try:
            state = read_checkpoint(args.checkpoint)
        except (ValueError, OSError) as err:
            parser.error(f"argument --checkpoint: {err}")
        saved = state.get("variant", "32s")
        if saved != args.variant:
            parser.error(
                f"argument --checkpoint: {args.checkpoint} holds an FCN-{saved}, not the "
                f"FCN-{args.variant} asked for; use --variant {saved} or another "
                "--checkpoint"
            )
        if state["num_classes"] != len(VOC_CLASSES):
            parser.error(
                f"argument --checkpoint: {args.checkpoint} predicts "
                f"{state['num_classes']} classes, not VOC's {len(VOC_CLASSES)}"
            )
        done = len(state["history"])
        if done > args.epochs:
            parser.error(
                f"argument --epochs: {args.checkpoint} holds {done} epochs already; ask for "
                f"--epochs {done} or more, or use another --checkpoint"
            )
        if state.get("optimizer") is not None:
            _check_same_settings(parser, args, training_settings(state))


def _check_same_settings(parser, args, saved):
    """Refuse to resume with another learning rate, weight decay or crop: the checkpoint's
    optimizer would silently keep its own."""
    given = {"lr": args.lr, "weight_decay": args.weight_decay, "crop": tuple(args.crop)}
    for key, value in given.items():
        was = saved[key]
        if was is not None and not (was == value if key == "crop" else math.isclose(was, value)):
            option = "--" + key.replace("_", "-")
            shown = " ".join(map(str, was)) if key == "crop" else was
            parser.error(
                f"argument {option}: {args.checkpoint} was trained with {option} {shown}; "
                "resume with the same, or start another --checkpoint"
            )


def _loaders(parser, args, voc_dir):
    """Training and validation loaders for this process: a DistributedSampler (reshuffled
    each epoch) for training, and a disjoint shard of the validation images."""
    workers = default_num_workers() if args.workers is None else args.workers
    try:
        with distributed.local_main_first():  # one process per node makes the sample if missing
            voc_dir = resolve_voc_dir(voc_dir)
        train_set = VOCSegDataset(True, args.crop, voc_dir)
        val_set = VOCSegDataset(False, args.crop, voc_dir)
    except (ValueError, OSError) as err:
        parser.error(str(err))
    for split, dataset in (("training", train_set), ("validation", val_set)):
        if all(bool((label == VOID_LABEL).all()) for label in dataset.labels):
            parser.error(
                f"every pixel of the {split} labels in {voc_dir} is void ({VOID_LABEL}), so "
                "there is nothing to learn or score; check the labels in SegmentationClass/"
            )
    world = distributed.world_size()
    share = len(train_set) // world
    if args.batch_size > share:
        parser.error(
            f"argument --batch-size: {args.batch_size} is larger than the {share} "
            f"training images of each of the {world} process(es) ({len(train_set)} in "
            f"{voc_dir} at crop {args.crop[0]}x{args.crop[1]}); every epoch would be "
            "empty"
        )
    sampler = None
    if distributed.is_distributed():
        sampler = torch.utils.data.DistributedSampler(train_set, seed=args.seed, drop_last=True)
    train_iter = torch.utils.data.DataLoader(
        train_set,
        args.batch_size,
        shuffle=sampler is None,
        sampler=sampler,
        drop_last=True,
        num_workers=workers,
    )
    val_iter = torch.utils.data.DataLoader(
        val_set, args.batch_size, sampler=distributed.ShardSampler(val_set), num_workers=workers
    )
    return train_iter, val_iter


def _prepare_resume(parser, args, steps_per_epoch, scheduler):
    """Check that the checkpoint can resume in this run and, when --epochs grew, stretch its
    learning-rate schedule to the new length (rank 0 rewrites the file, atomically)."""
    state = read_checkpoint(args.checkpoint)
    if state.get("optimizer") is None or state.get("scheduler") is None:
        parser.error(
            f"argument --checkpoint: {args.checkpoint} holds weights without optimizer and "
            "scheduler state, so training cannot resume from it"
        )
    world, saved_world = distributed.world_size(), len(state.get("rng_by_rank") or [None])
    if saved_world != world:
        parser.error(
            f"argument --checkpoint: {args.checkpoint} was trained by {saved_world} "
            f"process(es); resume it with as many, not {world}"
        )
    done, saved = len(state["history"]), state.get("scheduler") or {}
    if done and saved.get("last_epoch") != done * steps_per_epoch:
        parser.error(
            f"argument --checkpoint: {args.checkpoint} was trained with "
            f"{saved.get('last_epoch', 0) // done} batches per epoch per process, this "
            f"run has {steps_per_epoch}; resume with the same --batch-size, --crop and "
            "number of processes"
        )
    if done < args.epochs and saved.get("total_steps") != scheduler.total_steps:
        if distributed.is_main():
            stretched = scheduler.state_dict()
            stretched.update(
                {k: saved[k] for k in ("last_epoch", "_step_count", "_last_lr") if k in saved}
            )
            write_state(args.checkpoint, {**state, "scheduler": stretched})
            print(
                f"{args.checkpoint}: continuing after epoch {done} up to epoch {args.epochs}, "
                f"with the learning-rate schedule stretched to {args.epochs} epochs"
            )
        distributed.barrier()


def write_outputs(out, history):
    """history.json, history.csv and curves.png in `out`, each replaced atomically."""
    out.mkdir(parents=True, exist_ok=True)
    write_atomically(out / "history.json", lambda f: json.dump(history, f, indent=1), "w")

    def write_csv(f):
        writer = csv.DictWriter(f, HISTORY_KEYS)
        writer.writeheader()
        writer.writerows({k: h[k] for k in HISTORY_KEYS} for h in history)

    write_atomically(out / "history.csv", write_csv, "w")
    fig = Figure(figsize=(9, 3.2), layout="constrained")
    draw_history(history, *fig.subplots(1, 2))
    png = io.BytesIO()
    fig.savefig(png, format="png", dpi=100)
    write_atomically(out / "curves.png", lambda f: f.write(png.getvalue()))


def epoch_line(record):
    """An epoch of the history in one line."""
    return (
        f"epoch {record['epoch']}: train loss {record['train_loss']:.4f}, "
        f"val pixel acc {record['val_acc']:.4f}, val mIoU {record['val_miou']:.4f}, "
        f"{record['images_per_s']:.1f} images/s"
    )


def _lock_checkpoint(parser, args):
    """Hold the checkpoint's lock for the whole run (rank 0; the kernel releases it when the
    process ends, even killed), naming this run to a second one; then remove the temporaries
    that a killed run left beside the checkpoint. Returns the lock's descriptor, or None."""
    if args.checkpoint is None or os.environ.get("RANK", "0") != "0":
        return None
    checkpoint = Path(os.path.realpath(args.checkpoint))
    started = time.strftime("%Y-%m-%d %H:%M:%S")
    owner = f"pid {os.getpid()} on {socket.gethostname()}, started {started}"
    checkpoint.parent.mkdir(parents=True, exist_ok=True)  # check_paths found it can be made
    try:
        lock = hold_lock(checkpoint.with_name(f".{checkpoint.name}.lock"), owner)
    except BlockingIOError as err:
        parser.error(
            f"argument --checkpoint: another run trains {args.checkpoint} ({err.strerror}); "
            "wait for it to end, or use another --checkpoint"
        )
    remove_leftovers(checkpoint.parent)
    return lock


def main(argv=None):
    """Parse the options, check them, train; returns the trained net and its history. An
    error (bad data, a full disk, a loss that is not finite) ends it in one line, exit 1."""
    parser = build_parser()
    args = parser.parse_args(argv)
    check_args(parser, args)
    lock = _lock_checkpoint(parser, args)
    try:
        return _train(parser, args)
    except (ValueError, OSError, FloatingPointError) as err:
        rank = os.environ.get("RANK", "0")
        where = f" (process {rank})" if distributed.launched_by_torchrun() else ""
        print(f"{PROG}: error{where}: {' '.join(str(err).split())}", file=sys.stderr)
        sys.exit(1)
    finally:
        if lock is not None:
            os.close(lock)


def _train(parser, args):
    device = _device(parser, args.device)
    if args.sync_bn and (device.type != "cuda" or not distributed.launched_by_torchrun()):
        parser.error(
            "argument --sync-bn: needs several CUDA processes (torchrun on GPUs); "
            f"SyncBatchNorm does not run on {device.type} or in one process"
        )
    try:
        amp = precision_for(args.amp, device)
    except ValueError as err:
        parser.error(f"argument --amp: {err}")
    if args.amp == "fp16" and device.type == "cpu":
        parser.error(
            "argument --amp: fp16 on a CPU is emulated, some 5 times slower than off; use "
            "--amp bf16, auto or off"
        )
    device = distributed.init(device)
    try:
        if not distributed.is_main():
            sys.stdout = open(os.devnull, "w")  # rank 0 speaks for all
        train_iter, val_iter = _loaders(parser, args, args.voc_dir)
        set_seed(args.seed)  # the same initial weights in every process
        pretrained = {"auto": "auto", "yes": True, "no": False}[args.pretrained]
        with distributed.local_main_first():  # one download of the ImageNet weights per node
            try:
                net = fcn_resnet18(len(VOC_CLASSES), pretrained, variant=args.variant)
            except RuntimeError:  # --pretrained yes, and no weights
                parser.error(
                    "argument --pretrained: yes, but the ImageNet weights of ResNet-18 are "
                    f"not available; {_weights_help()}, or use --pretrained no"
                )
        if args.sync_bn:
            net = torch.nn.SyncBatchNorm.convert_sync_batchnorm(net)
        optimizer, scheduler = adamw_one_cycle(
            net, args.lr, args.epochs, len(train_iter), args.weight_decay
        )
        if args.checkpoint is not None and args.checkpoint.exists():
            _prepare_resume(parser, args, len(train_iter), scheduler)
        if distributed.is_main():
            print(
                f"training FCN-{args.variant} on {device} x {distributed.world_size()} "
                f"process(es), precision {amp}, {len(train_iter)} batches of "
                f"{args.batch_size} per process per epoch"
            )

        trained = []  # epochs reported (and written) by this run

        def report(history):
            trained.append(history[-1]["epoch"])
            if distributed.is_main():
                tqdm.write(epoch_line(history[-1]))
                write_outputs(args.out, history)

        history = train_fcn(
            net,
            train_iter,
            val_iter,
            args.epochs,
            optimizer,
            scheduler,
            device=device,
            checkpoint=args.checkpoint,
            seed=args.seed + distributed.rank(),
            live_plot=False,
            amp=amp,
            on_epoch=report,
        )
        if distributed.is_main() and history and not trained:  # a finished run's checkpoint
            write_outputs(args.out, history)
        return net, history
    finally:
        distributed.shutdown()
