"""The book's FCN training recipe against d2lseg's, side by side, in one run.

Both train the same model (`fcn_resnet18`, same initial weights), on the same data, with the
same crop, batch size, epochs and seed, and are scored the same way: d2lseg's validation
centre crops, void pixels left out. The book's side uses the d2l package itself: its dataset
(void decoded as background), its loss (per-pixel cross-entropy averaged per image), SGD with
lr 0.001 and weight decay 1e-3, and `d2l.train_batch_ch13` for each step.

    python benchmarks/fcn_recipes.py [--epochs N]
"""

import argparse
import time

import d2l.torch as d2l
import torch
import torch.nn.functional as F

import d2lseg
from d2lseg.train import fcn_settings, fit_fcn


def book_loss(inputs, targets):
    """The book's loss: per-pixel cross-entropy, averaged over each image."""
    return F.cross_entropy(inputs, targets, reduction="none").mean(1).mean(1)


def train_book(net, voc_dir, settings, device):
    """The book's recipe through d2l's own functions; returns training images per second."""
    train_set = d2l.VOCSegDataset(True, settings["crop_size"], str(voc_dir))
    train_iter = torch.utils.data.DataLoader(
        train_set, settings["batch_size"], shuffle=True, drop_last=True
    )
    trainer = torch.optim.SGD(net.parameters(), lr=0.001, weight_decay=1e-3)
    net.to(device)
    images, seconds = 0, 0.0
    for _ in range(settings["num_epochs"]):
        tic = time.perf_counter()
        for X, y in train_iter:
            d2l.train_batch_ch13(net, X, y, book_loss, trainer, [device])
            images += X.shape[0]
        seconds += time.perf_counter() - tic
    return images / seconds


def train_ours(voc_dir, settings, seed):
    """d2lseg's recipe, as notebook 05 runs it; returns the net and training images per
    second."""
    net, history, _ = fit_fcn(voc_dir, settings, seed=seed, live_plot=False)
    # Epochs have equal sizes: overall images/s is the harmonic mean of the epochs' rates.
    return net, len(history) / sum(1 / h["images_per_s"] for h in history)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=None, help="default: fcn_settings'")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    voc_dir = d2lseg.resolve_voc_dir()
    device = d2lseg.try_all_devices()[0]
    settings = fcn_settings(voc_dir, device)
    if args.epochs:
        settings["num_epochs"] = args.epochs
    print("settings for both:", settings, "on", device)
    val_set = d2lseg.VOCSegDataset(False, settings["crop_size"], voc_dir)
    val_iter = torch.utils.data.DataLoader(val_set, settings["batch_size"])

    d2lseg.set_seed(args.seed)  # the same initial weights as fit_fcn's
    book_net = d2lseg.fcn_resnet18(pretrained="auto")
    d2lseg.set_seed(args.seed)
    trained = {
        "book": (book_net, train_book(book_net, voc_dir, settings, device)),
        "d2lseg": train_ours(voc_dir, settings, args.seed),
    }
    results = {}
    for name, (net, images_per_s) in trained.items():
        scores = d2lseg.segmentation_scores(d2lseg.evaluate(net, val_iter, device))
        results[name] = (scores["miou"], scores["pixel_acc"], images_per_s)

    print(f"\n{'recipe':<58} {'val mIoU':>8} {'val acc':>8} {'train img/s':>11}")
    labels = {
        "book": "book: SGD lr 0.001, wd 1e-3, void as background",
        "d2lseg": "d2lseg: AdamW + one-cycle, void ignored",
    }
    for name, (miou, acc, speed) in results.items():
        print(f"{labels[name]:<58} {miou:8.3f} {acc:8.3f} {speed:11.1f}")
    assert results["d2lseg"][0] > results["book"][0], "d2lseg's recipe should reach higher mIoU"


if __name__ == "__main__":
    main()
