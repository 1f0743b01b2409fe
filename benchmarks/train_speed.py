"""Training speed: the book's step against ours in fp32, with `--amp auto`, and 2-process DDP.

All of them train the same model (`fcn_resnet18`, same initial weights, random: no ImageNet
weights here) on the same batches (random crops of the sample's training images, drawn once),
with the same crop and batch size per process. The book's step is `d2l.train_batch_ch13` with
the loss and SGD of its FCN chapter (void pixels relabelled background, which its loss needs);
ours is `train_step` with AdamW plus the loop's bookkeeping: in full precision as the notebooks
compute (transposed convolutions, NCHW), in full precision as `--amp off` computes on the CPU
(sub-pixel upsampling, channels-last), and in the precision `--amp auto` picks here. DDP is the
same step in 2 processes launched by torchrun, one thread each, gloo. Then, for accuracy,
`python -m d2lseg.train` trains for the same budget with `--amp off` and with `--amp auto`, once
per seed, and each run is scored on the validation crops: one run per mode cannot tell a cost
of mixed precision from the spread between runs that round differently, the mean over seeds
can. Before the accuracy part, `torch.profiler` shows where a step of ours goes with `--amp off`
and with `--amp auto` (`--seeds` with no seed skips the accuracy).

    python benchmarks/train_speed.py [--crop 128 128] [--batch-size 16] [--epochs 20]
                                     [--seeds 0 1 2 3 4] [--profile-steps 6]
"""

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import d2l.torch as d2l
import torch
import torch.nn.functional as F
from torch.profiler import ProfilerActivity, profile, record_function

import d2lseg
from d2lseg import amp, cli, distributed
from d2lseg.train import _batch_sums, pixel_loss, train_step

WARMUP = 2


def book_loss(inputs, targets):
    """The book's loss: per-pixel cross-entropy, averaged over each image."""
    return F.cross_entropy(inputs, targets, reduction="none").mean(1).mean(1)


def fixed_batches(voc_dir, crop, batch_size, count, seed=0):
    """`count` batches of random training crops, drawn once so that every contender gets them."""
    d2lseg.set_seed(seed)
    loader = torch.utils.data.DataLoader(
        d2lseg.VOCSegDataset(True, crop, voc_dir), batch_size, shuffle=True, drop_last=True
    )
    batches = []
    while len(batches) < count:
        batches += list(loader)
    return batches[:count]


def images_per_s(step, batches):
    """Images per second over the batches after WARMUP (which warm up caches and kernels)."""
    for X, y in batches[:WARMUP]:
        step(X, y)
    tic = time.perf_counter()
    for X, y in batches[WARMUP:]:
        step(X, y)
    return sum(X.shape[0] for X, _ in batches[WARMUP:]) / (time.perf_counter() - tic)


def fresh_net(precision=amp.FULL_PRECISION):
    d2lseg.set_seed(0)
    return precision.prepare(d2lseg.fcn_resnet18(pretrained=False))


def book(batches):
    net = fresh_net()
    trainer = torch.optim.SGD(net.parameters(), lr=0.001, weight_decay=1e-3)
    no_void = [(X, y.masked_fill(y == d2lseg.VOID_LABEL, 0)) for X, y in batches]

    def step(X, y):
        d2l.train_batch_ch13(net, X, y, book_loss, trainer, [torch.device("cpu")])

    return images_per_s(step, no_void)


def ours(batches, precision):
    """Our step with the loop's bookkeeping (`train_fcn` computes the same sums)."""
    net = fresh_net(precision)
    model = distributed.wrap(net, torch.device("cpu"))
    optimizer = torch.optim.AdamW(net.parameters(), lr=1e-3, weight_decay=1e-4)

    def step(X, y):
        logits, loss = train_step(model, precision.layout(X), y, pixel_loss, optimizer, precision)
        _batch_sums(logits, y, loss)

    return images_per_s(step, batches)


PARTS = ("data", "backbone", "upsampling", "loss", "optimizer")


def profiled_step(net, optimizer, precision):
    """Our step (`train_step`'s computation) cut into the parts of PARTS, each under
    `record_function`: the graph is cut at the backbone's output, so that the backward of the
    upsampling head (`final_conv`, `transpose_conv`) and of the backbone are timed apart."""
    backbone, head = net[:-2], net[-2:]

    def step(X, y):
        with record_function("data"):
            X = precision.layout(X)
        with record_function("backbone"), precision.autocast():
            features = backbone(X)
        cut = features.detach().requires_grad_()
        with record_function("upsampling"), precision.autocast():
            logits = head(cut)
        with record_function("loss"):
            with precision.autocast():
                loss = pixel_loss(logits, y)
            optimizer.zero_grad()
            logit_grad = torch.autograd.grad(loss, logits)[0]
            _batch_sums(logits, y, loss)
        with record_function("upsampling"):
            logits.backward(logit_grad)
        with record_function("backbone"):
            features.backward(cut.grad)
        with record_function("optimizer"):
            optimizer.step()

    return step


def step_profile(batches, precision):
    """Milliseconds per step in each of PARTS (forward and backward), from `torch.profiler`."""
    net = fresh_net(precision)
    step = profiled_step(net, torch.optim.AdamW(net.parameters(), lr=1e-3, weight_decay=1e-4),
                         precision)  # fmt: skip
    for X, y in batches[:WARMUP]:
        step(X, y)
    timed = batches[WARMUP:]
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        tic = time.perf_counter()
        for X, y in timed:
            step(X, y)
        total = (time.perf_counter() - tic) * 1000 / len(timed)
    parts = dict.fromkeys(PARTS, 0.0)
    for event in prof.key_averages():
        if event.key in parts:
            parts[event.key] = event.cpu_time_total / 1000 / len(timed)
    parts["other (profiler, bookkeeping)"] = total - sum(parts.values())
    return parts, total


def print_profiles(batches, precisions):
    """The table of `step_profile` for each precision, side by side."""
    profiles = {str(p): step_profile(batches, p) for p in precisions}
    print(f"\nwhere a step of ours goes (torch.profiler, {len(batches) - WARMUP} steps after "
          f"{WARMUP} for warm-up; ms per step, share):\n")  # fmt: skip
    print("| part | " + " | ".join(profiles) + " |")
    print("| --- |" + " --- |" * len(profiles))
    names = list(next(iter(profiles.values()))[0])
    for name in names:
        cells = [f"{parts[name]:.1f} ms ({parts[name] / total:.0%})" for parts, total in
                 profiles.values()]  # fmt: skip
        print(f"| {name} | " + " | ".join(cells) + " |")
    print("| step | " + " | ".join(f"{total:.1f} ms" for _, total in profiles.values()) + " |")


def ddp_worker(args):
    """One of the torchrun processes: its own batches (seed + rank), images/s of all ranks."""
    distributed.init(torch.device("cpu"))
    precision = amp.precision_for("auto", torch.device("cpu"))
    batches = fixed_batches(args.voc_dir, args.crop, args.batch_size, args.batches,
                            seed=distributed.rank())  # fmt: skip
    rate = ours(batches, precision)
    total = distributed.sum_across_ranks(torch.tensor([rate], dtype=torch.float64))
    if distributed.is_main():
        print(json.dumps({"images_per_s": total.item()}))
    distributed.shutdown()


def run_ddp(args):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2",
               "--master-addr=127.0.0.1", f"--master-port={port}", __file__, "--ddp-worker",
               "--voc-dir", str(args.voc_dir), "--crop", *map(str, args.crop),
               "--batch-size", str(args.batch_size), "--batches", str(args.batches)]  # fmt: skip
    env = dict(os.environ, OMP_NUM_THREADS="1")
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])["images_per_s"]


def accuracy(args, mode, seed):
    """Val mIoU and pixel accuracy after `python -m d2lseg.train --amp mode --seed seed`."""
    with tempfile.TemporaryDirectory() as out:
        options = ["--voc-dir", args.voc_dir, "--epochs", args.epochs, "--crop", *args.crop,
                   "--batch-size", args.batch_size, "--amp", mode, "--pretrained", "no",
                   "--device", "cpu", "--seed", seed, "--out", out]  # fmt: skip
        history = cli.main([str(o) for o in options])[1]
    return history[-1]["val_miou"], history[-1]["val_acc"]


def mean_std(values):
    """Mean and sample standard deviation (0 for a single value)."""
    values = torch.tensor(values, dtype=torch.float64)
    return values.mean().item(), (values.std().item() if len(values) > 1 else 0.0)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--voc-dir", type=Path, default=None)
    parser.add_argument("--crop", type=int, nargs=2, default=(128, 128))
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--batches", type=int, default=22, help="timed batches + 2 warm-up")
    parser.add_argument("--epochs", type=int, default=20,
                        help="for the accuracy comparison (default: notebook 05's 20)")  # fmt: skip
    parser.add_argument("--seeds", type=int, nargs="*", default=[0, 1, 2, 3, 4],
                        help="one accuracy run per mode and seed; none: no accuracy")  # fmt: skip
    parser.add_argument("--profile-steps", type=int, default=6,
                        help="profiled steps per precision, after 2 for warm-up")  # fmt: skip
    parser.add_argument("--ddp-worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.ddp_worker:
        return ddp_worker(args)
    args.voc_dir = d2lseg.resolve_voc_dir(args.voc_dir)
    device = torch.device("cpu")
    precision = amp.precision_for("auto", device)
    plain_bf16 = amp.Precision("cpu", torch.bfloat16)
    batches = fixed_batches(args.voc_dir, args.crop, args.batch_size, args.batches)
    print(f"crop {args.crop[0]}x{args.crop[1]}, batch {args.batch_size} per process, "
          f"{args.batches - WARMUP} timed batches, {torch.get_num_threads()} threads; "
          f"--amp auto is {precision} here")  # fmt: skip
    full = amp.precision_for("off", device)
    rates = {
        "book: d2l.train_batch_ch13, fp32": book(batches),
        "d2lseg train_step, fp32 as the notebooks (NCHW, transposed)": ours(
            batches, amp.FULL_PRECISION
        ),  # fmt: skip
        f"d2lseg train_step, --amp off ({full})": ours(batches, full),
        f"d2lseg train_step, --amp auto ({precision})": ours(batches, precision),
        "d2lseg train_step, bf16 without channels_last": ours(batches, plain_bf16),
        "d2lseg, 2-process DDP (gloo, 1 thread each), --amp auto": run_ddp(args),
    }
    reference = rates["book: d2l.train_batch_ch13, fp32"]
    print(f"\n| {'loop':<70} | images/s | vs book |\n| --- | --- | --- |")
    for name, rate in rates.items():
        print(f"| {name:<70} | {rate:8.1f} | {rate / reference:6.2f}x |")
    print_profiles(batches[: WARMUP + args.profile_steps], [full, precision])
    if not args.seeds:
        return

    print(f"\naccuracy: python -m d2lseg.train, {args.epochs} epochs, crop {args.crop[0]}x"
          f"{args.crop[1]}, batch {args.batch_size}, seeds {args.seeds}")  # fmt: skip
    runs = {seed: {mode: accuracy(args, mode, seed) for mode in ("off", "auto")}
            for seed in args.seeds}  # fmt: skip
    print("\n| seed | --amp off val mIoU | --amp auto val mIoU | auto - off |")
    print("| --- | --- | --- | --- |")
    for seed, scores in runs.items():
        off, auto = scores["off"][0], scores["auto"][0]
        print(f"| {seed} | {off:.3f} | {auto:.3f} | {auto - off:+.3f} |")
    off_mean, off_std = mean_std([scores["off"][0] for scores in runs.values()])
    auto_mean, auto_std = mean_std([scores["auto"][0] for scores in runs.values()])
    gap_mean, gap_std = mean_std([scores["auto"][0] - scores["off"][0] for scores in runs.values()])
    print(f"| mean ± std | {off_mean:.3f} ± {off_std:.3f} | {auto_mean:.3f} ± {auto_std:.3f} "
          f"| {gap_mean:+.3f} ± {gap_std:.3f} |")  # fmt: skip
    verdict = "within" if abs(gap_mean) <= 0.02 else "NOT within"
    print(f"\nmean val mIoU, --amp auto - off: {gap_mean:+.3f}, {verdict} 0.02")


if __name__ == "__main__":
    main()
