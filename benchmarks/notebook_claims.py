"""The training results that notebooks 05, 06 and 07 assert, measured over seeds and CPU kernels.

The notebooks train on the embedded sample on the CPU, and their asserts guard claims about the
trained networks (an mIoU above a threshold, one way of scoring above another, FCN-8s above
FCN-32s). Such a claim must not hold by the luck of one run: oneDNN and MKL choose other kernels
on other CPUs (AMX, AVX-512, AVX2), the sums round differently, and the runs drift apart as a
change of seed would. This script trains the notebooks' FCN-32s and FCN-8s exactly as they do
(`fit_fcn` with `fcn_settings`), for several seeds, under several instruction-set caps, each run
in a fresh process, computes every asserted quantity, and prints them with the smallest margin
by which each claim held. The notebooks' thresholds are chosen from its output. A setting whose
kernels give bit-for-bit the same forward and backward pass as an earlier one (say
`avx512_core` on a CPU whose best fp32 kernels are AVX-512 anyway) would repeat its runs, and
is skipped.

    python benchmarks/notebook_claims.py                 # 3 seeds x 3 kernel settings
    python benchmarks/notebook_claims.py --seeds 0 --settings native
"""

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

# Each setting caps the instruction sets that oneDNN (convolutions), ATen's own vectorised
# kernels and MKL (matrix products) may use, emulating an older CPU on this one.
SETTINGS = {
    "native": {},
    "avx512_core": {"ONEDNN_MAX_CPU_ISA": "AVX512_CORE"},
    "avx2": {
        "ONEDNN_MAX_CPU_ISA": "AVX2",
        "ATEN_CPU_CAPABILITY": "avx2",
        "MKL_ENABLE_INSTRUCTIONS": "AVX2",
    },
}

# Each claim the notebooks assert: (notebook, text, margin), the margin positive when it holds.
CLAIMS = [
    ("05", "val mIoU >= 0.55", lambda m: m["miou32"] - 0.55),
    ("05", "val pixel acc >= 0.80", lambda m: m["acc32"] - 0.80),
    ("05", "an epoch <= 10 below the crops' background share", lambda m: m["below_margin"]),
    ("05", "no epoch after 10 below the crops' background share", lambda m: m["late_margin"]),
    (
        "05",
        "epochs 1-5 below the whole images' background share",
        lambda m: m["whole_share"] - m["max_acc_first5"],
    ),
    (
        "05",
        "last epoch above the whole images' background share",
        lambda m: m["acc32"] - m["whole_share"],
    ),
    ("06", "whole images: mIoU >= 0.5", lambda m: m["ways"]["C"][0] - 0.5),
    ("06", "whole images: pixel acc >= 0.8", lambda m: m["ways"]["C"][1] - 0.8),
    (
        "06",
        "object pixels given a wrong class < 25%",
        lambda m: 0.25 - m["to_background_share"] - m["wrong_object_share"],
    ),
    ("06", "|mIoU B - A| < 0.1", lambda m: 0.1 - abs(m["ways"]["B"][0] - m["ways"]["A"][0])),
    ("06", "mIoU E < F", lambda m: m["ways"]["F"][0] - m["ways"]["E"][0]),
    ("06", "mIoU E < C", lambda m: m["ways"]["C"][0] - m["ways"]["E"][0]),
    ("06", "acc E > F - 0.02", lambda m: m["ways"]["E"][1] - m["ways"]["F"][1] + 0.02),
    ("07", "Boundary IoU 8s - 32s >= 0.02", lambda m: m["biou8"] - m["biou32"] - 0.02),
    ("07", "mIoU 8s - 32s >= 0.02", lambda m: m["miou8"] - m["miou32_crops"] - 0.02),
]
# Quantities the notebooks state as a range over runs, not as a claim of one run.
RANGES = [
    ("06", "same-colour share of the wrong-object pixels", lambda m: m["same_colour_share"]),
    (
        "06",
        "object pixels to background / to other objects",
        lambda m: m["background_over_objects"],
    ),
    ("06", "mIoU B - A", lambda m: m["ways"]["B"][0] - m["ways"]["A"][0]),
    ("06", "mIoU C - A", lambda m: m["ways"]["C"][0] - m["ways"]["A"][0]),
    ("06", "mIoU E - F", lambda m: m["ways"]["E"][0] - m["ways"]["F"][0]),
    ("06", "pixel acc E - F", lambda m: m["ways"]["E"][1] - m["ways"]["F"][1]),
]


def measure(seed):
    """Train FCN-32s and FCN-8s as the notebooks do and return every asserted quantity."""
    import torch
    from torchvision.transforms import functional as TF

    import d2lseg
    from d2lseg.metrics import boundary_iou_from_counts, evaluate_boundary
    from d2lseg.sample import class_appearance
    from d2lseg.train import fcn_settings, fit_fcn

    voc_dir = d2lseg.resolve_voc_dir()
    device = torch.device("cpu")
    settings = fcn_settings(voc_dir, device)
    num_classes = len(d2lseg.VOC_CLASSES)
    tic = time.perf_counter()
    net, history, val_iter = fit_fcn(voc_dir, settings, seed=seed, live_plot=False)
    net.eval()
    m = {"seconds_32s": time.perf_counter() - tic}

    # Notebook 05: final scores and the background shares.
    final = history[-1]
    m["miou32"], m["acc32"] = final["val_miou"], final["val_acc"]
    val_y = torch.cat([y.flatten() for _, y in val_iter])
    background_share = ((val_y == 0).sum() / (val_y != d2lseg.VOID_LABEL).sum()).item()
    features, labels = d2lseg.read_voc_images(voc_dir, is_train=False)
    colormap2label = d2lseg.voc_colormap2label()
    whole_y = [d2lseg.voc_label_indices(label, colormap2label) for label in labels]
    flat = torch.cat([y.flatten() for y in whole_y])
    m["whole_share"] = ((flat == 0).sum() / (flat != d2lseg.VOID_LABEL).sum()).item()
    accs = [h["val_acc"] for h in history]
    m["val_accs"] = accs
    m["max_acc_first5"] = max(accs[:5])
    below = [h["epoch"] for h in history if h["val_acc"] < background_share]
    m["below_margin"] = background_share - min(accs[:10])
    m["late_margin"] = min(accs[10:]) - background_share
    m["below"] = below

    # Notebook 06: whole images, confusions, six ways of scoring.
    whole = [d2lseg.predict_whole_image(net, f) for f in features]
    confmat = sum(d2lseg.confusion_matrix(p, y) for p, y in zip(whole, whole_y, strict=True))
    objects = range(1, num_classes)
    wrong = sum(confmat[c, c2].item() for c in objects for c2 in objects if c2 != c)
    same = sum(confmat[c, c2].item() for c in objects for c2 in objects
               if c2 != c and class_appearance(c)[2] == class_appearance(c2)[2])  # fmt: skip
    object_pixels = confmat[1:].sum().item()
    m["same_colour_share"] = same / wrong
    m["background_over_objects"] = confmat[1:, 0].sum().item() / wrong
    m["to_background_share"] = confmat[1:, 0].sum().item() / object_pixels
    m["wrong_object_share"] = wrong / object_pixels
    crop = list(settings["crop_size"])

    def centre(t):
        return TF.center_crop(t.unsqueeze(0), crop)[0]

    def scored(preds, targets):
        s = d2lseg.segmentation_scores(
            sum(d2lseg.confusion_matrix(p, y) for p, y in zip(preds, targets, strict=True))
        )
        return s["miou"], s["pixel_acc"]

    def counted(y, keep):
        return torch.where(keep, y, d2lseg.VOID_LABEL)

    regions, borders = [], []
    for y in whole_y:
        height, width = y.shape
        region = torch.zeros(height * width, dtype=torch.bool)
        region[centre(torch.arange(height * width).reshape(height, width)).flatten()] = True
        regions.append(region.reshape(height, width))
        border = torch.ones(height, width, dtype=torch.bool)
        border[32:-32, 32:-32] = False
        borders.append(border)
    crop_y = [centre(y) for y in whole_y]
    crop_pred = [d2lseg.predict(net, TF.center_crop(f, crop)) for f in features]
    m["ways"] = {
        "A": scored(crop_pred, crop_y),
        "B": scored([centre(p) for p in whole], crop_y),
        "C": scored(whole, whole_y),
        "D": scored(whole, [counted(y, ~r) for y, r in zip(whole_y, regions, strict=True)]),
        "E": scored(whole, [counted(y, b) for y, b in zip(whole_y, borders, strict=True)]),
        "F": scored(whole, [counted(y, ~b) for y, b in zip(whole_y, borders, strict=True)]),
    }

    # Notebook 07: FCN-8s against FCN-32s on the validation crops.
    m["miou32_crops"] = d2lseg.segmentation_scores(d2lseg.evaluate(net, val_iter, device))["miou"]
    m["biou32"] = boundary_iou_from_counts(evaluate_boundary(net, val_iter, device))
    tic = time.perf_counter()
    net8, history8, _ = fit_fcn(voc_dir, settings, seed=seed, live_plot=False, variant="8s")
    net8.eval()
    m["seconds_8s"] = time.perf_counter() - tic
    m["miou8"] = history8[-1]["val_miou"]
    m["biou8"] = boundary_iou_from_counts(evaluate_boundary(net8, val_iter, device))
    return m


def fingerprint():
    """A hash of one FCN forward and backward pass: equal hashes, equal kernels."""
    import hashlib

    import torch

    import d2lseg

    torch.manual_seed(0)
    net = d2lseg.fcn_resnet18(21, pretrained=False)
    out = net(torch.rand(4, 3, 128, 128))
    out.sum().backward()
    digest = hashlib.sha1(out.detach().numpy().tobytes())
    for p in net.parameters():
        digest.update(p.grad.numpy().tobytes())
    return digest.hexdigest()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--settings", nargs="+", choices=list(SETTINGS), default=list(SETTINGS))
    parser.add_argument("--out", help="also write every run's measurements to this JSON file")
    parser.add_argument("--report", nargs="+", metavar="JSON", help="only print the tables of "
                        "runs saved with --out (several files: their runs together)")  # fmt: skip
    parser.add_argument("--run", type=int, help=argparse.SUPPRESS)  # one seed, in this process
    parser.add_argument("--fingerprint", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.report:
        report([run for path in args.report for run in json.loads(Path(path).read_text())])
        return
    if args.fingerprint:
        print(fingerprint())
        return
    if args.run is not None:
        print(json.dumps(measure(args.run)))
        return
    env = {**os.environ, "D2LSEG_DATA": "sample", "D2LSEG_DEVICE": "cpu"}

    def child(setting, *argv):
        return subprocess.run(
            [sys.executable, __file__, *argv],
            env={**env, **SETTINGS[setting]},
            capture_output=True,
            text=True,
            check=True,
        ).stdout.splitlines()[-1]

    seen, runs = {}, []
    for setting in args.settings:
        digest = child(setting, "--fingerprint")
        if digest in seen:
            print(f"{setting}: the same kernels as {seen[digest]} on this CPU, skipped", flush=True)
            continue
        seen[digest] = setting
        for seed in args.seeds:
            out = child(setting, "--run", str(seed))
            runs.append({"setting": setting, "seed": seed, **json.loads(out)})
            r = runs[-1]
            print(f"{setting:>12} seed {seed}: 32s mIoU {r['miou32']:.3f} acc {r['acc32']:.3f}, "
                  f"8s mIoU {r['miou8']:.3f}, Boundary IoU 32s {r['biou32']:.3f} "
                  f"8s {r['biou8']:.3f} ({r['seconds_32s'] + r['seconds_8s']:.0f} s)",
                  flush=True)  # fmt: skip
            if args.out:
                with open(args.out, "w") as f:
                    json.dump(runs, f, indent=1)
    report(runs)


def _values(runs, quantity):
    """`quantity` of every run, None where a run did not record what it needs."""
    values = []
    for run in runs:
        try:
            values.append(quantity(run))
        except KeyError:
            values.append(None)
    return values


def report(runs):
    """Each claim's smallest and mean margin and its margin in every run; each range."""
    print("runs: " + ", ".join(f"{r['setting']} seed {r['seed']}" for r in runs))
    for title, rows, first, second in (
        ("claim", CLAIMS, "min margin", "mean"),
        ("range", RANGES, "min", "max"),
    ):
        print(f"\n{'nb':>2} {title:<52} {first:>10} {second:>7}  per run")
        for notebook, text, quantity in rows:
            values = _values(runs, quantity)
            known = [v for v in values if v is not None]
            summary = sum(known) / len(known) if second == "mean" else max(known)
            cells = " ".join("   n/a" if v is None else f"{v:+.3f}" for v in values)
            print(f"{notebook:>2} {text:<52} {min(known):+10.3f} {summary:+7.3f}  {cells}")


if __name__ == "__main__":
    main()
