"""FCN-32s, FCN-16s and FCN-8s on ResNet-18, trained the same way for several seeds, in one run.

Every variant gets the same data, crop, batch size, epochs, recipe (`fit_fcn`: AdamW with a
one-cycle learning rate, void ignored) and seeds; for a given seed the backbone and `final_conv`
start from the same weights. Each net is scored on the same validation centre crops: mIoU and
Boundary IoU (`d2lseg.metrics`, band width BOUNDARY_WIDTH), void pixels left out. Prints mean
± standard deviation over the seeds, the paired differences to FCN-32s, and the training speed.

    python benchmarks/fcn_variants.py [--epochs N] [--seeds 0 1 2]
"""

import argparse
import statistics

import d2lseg
from d2lseg.metrics import BOUNDARY_WIDTH, boundary_iou_from_counts, evaluate_boundary
from d2lseg.model import VARIANTS
from d2lseg.train import fcn_settings, fit_fcn

PAPER_MEAN_IU = {"32s": 59.4, "16s": 62.4, "8s": 62.7}  # Long et al. 2015, VOC2011 val, table 2


def train_and_score(voc_dir, settings, variant, seed):
    """mIoU, Boundary IoU and training images/s of one FCN-`variant` trained from `seed`."""
    net, history, val_iter = fit_fcn(voc_dir, settings, seed=seed, live_plot=False, variant=variant)
    miou = history[-1]["val_miou"]  # train_fcn scored the final weights on val_iter
    biou = boundary_iou_from_counts(evaluate_boundary(net, val_iter))
    # Epochs have equal sizes: overall images/s is the harmonic mean of the epochs' rates.
    speed = len(history) / sum(1 / h["images_per_s"] for h in history)
    scores = f"mIoU {miou:.3f}, Boundary IoU {biou:.3f}, {speed:.1f} img/s"
    print(f"  FCN-{variant:<3} seed {seed}: {scores}")
    return {"miou": miou, "biou": biou, "speed": speed}


def mean_std(values):
    return f"{statistics.mean(values):.3f} ± {statistics.stdev(values):.3f}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = parser.parse_args()
    if len(args.seeds) < 2:
        parser.error("--seeds needs at least two seeds for a standard deviation")
    voc_dir = d2lseg.resolve_voc_dir()
    device = d2lseg.try_all_devices()[0]
    settings = {**fcn_settings(voc_dir, device), "num_epochs": args.epochs}
    print("settings for every run:", settings, "on", device, f"boundary width {BOUNDARY_WIDTH} px")
    runs = {variant: [] for variant in VARIANTS}
    for seed in args.seeds:
        for variant in VARIANTS:
            runs[variant].append(train_and_score(voc_dir, settings, variant, seed))

    print(f"\n{len(args.seeds)} seeds, mean ± std; differences paired by seed")
    header = f"{'variant':<8} {'val mIoU':>14} {'Boundary IoU':>14} {'mIoU - 32s':>14} "
    print(header + f"{'BIoU - 32s':>14} {'train img/s':>11} {'paper mean IU':>13}")
    for variant, results in runs.items():
        cells = [mean_std([r[key] for r in results]) for key in ("miou", "biou")]
        for key in ("miou", "biou"):
            diffs = [r[key] - base[key] for r, base in zip(results, runs["32s"], strict=True)]
            cells.append(mean_std(diffs))
        speed = statistics.mean(r["speed"] for r in results)
        row = f"FCN-{variant:<4} " + " ".join(f"{cell:>14}" for cell in cells)
        print(row + f" {speed:11.1f} {PAPER_MEAN_IU[variant]:13.1f}")


if __name__ == "__main__":
    main()
