"""One training loop for the CPU, a CUDA GPU, Apple's MPS, and many processes under torchrun.

Compared with the book's `train_ch13`: it runs where `try_all_gpus()` is empty, ignores VOC's
void pixels in the loss, reports validation mIoU, survives epochs of fewer than 5 batches,
seeds everything, writes checkpoints from which training resumes exactly, trains in mixed
precision (d2lseg.amp) and, launched by torchrun, with DistributedDataParallel
(d2lseg.distributed) instead of the book's DataParallel. `python -m d2lseg.train` runs it from
the command line (d2lseg.cli).
"""

import random
import time
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.ticker import MaxNLocator
from torch.nn import functional as F
from tqdm.auto import tqdm

from .. import distributed
from ..amp import FULL_PRECISION
from ..checkpoint import load_checkpoint, save_checkpoint
from ..devices import try_all_devices
from ..metrics import confusion_matrix, segmentation_scores
from ..model import fcn_resnet18, num_classes_of
from ..sample import is_sample_voc
from ..voc import VOC_CLASSES, VOID_LABEL, load_data_voc


def set_seed(seed):
    """Seed Python's, NumPy's and PyTorch's generators (all devices)."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def evaluate(net, data_iter, device=None, amp=FULL_PRECISION):
    """Confusion matrix of `net` over a data iterator, void pixels left out, computed in the
    precision `amp` (see d2lseg.amp)."""
    device = device or next(net.parameters()).device
    num_classes = num_classes_of(net)
    confmat = torch.zeros(num_classes, num_classes, dtype=torch.int64)
    net.eval()
    with torch.no_grad(), amp.autocast():
        for X, y in data_iter:
            pred = net(amp.layout(X.to(device))).argmax(dim=1)
            confmat += confusion_matrix(pred, y.to(device), num_classes)
    return confmat


def draw_history(history, ax_loss, ax_acc):
    """Plot the training loss on `ax_loss` and the accuracies and mIoU on `ax_acc`."""
    epochs = [h["epoch"] for h in history]
    ax_loss.clear()
    ax_loss.plot(epochs, [h["train_loss"] for h in history], "o-", label="train loss")
    ax_acc.clear()
    curves = (
        ("train_acc", "train pixel acc"),
        ("val_acc", "val pixel acc"),
        ("val_miou", "val mIoU"),
    )
    for key, label in curves:
        ax_acc.plot(epochs, [h[key] for h in history], "o-", label=label)
    ax_acc.set_ylim(0, 1)
    for ax in (ax_loss, ax_acc):
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(True, alpha=0.3)
        ax.legend(loc="best")


class LivePlot:
    """Loss and accuracy curves, redrawn after each epoch in the notebook's output cell."""

    def __init__(self):
        from IPython.display import display

        self.fig, (self.ax_loss, self.ax_acc) = plt.subplots(
            1, 2, figsize=(9, 3.2), layout="constrained"
        )
        self.handle = display(self.fig, display_id=True)
        plt.close(self.fig)  # shown through the handle only, not again at the end of the cell

    def update(self, history):
        draw_history(history, self.ax_loss, self.ax_acc)
        self.handle.update(self.fig)


def _in_notebook():
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    return type(get_ipython()).__name__ == "ZMQInteractiveShell"


def pixel_loss(logits, y):
    """Cross-entropy averaged over the labelled pixels of a batch: VOID_LABEL pixels count
    neither way, and a batch without labelled pixels gives 0, not NaN."""
    total = F.cross_entropy(logits, y, ignore_index=VOID_LABEL, reduction="sum")
    return total / (y != VOID_LABEL).sum().clamp(min=1)


def train_step(net, X, y, loss_fn, optimizer, amp=FULL_PRECISION):
    """One step of minibatch gradient descent, the core of every training loop. In mixed
    precision (`amp`, see d2lseg.amp) the forward pass runs under autocast, and for fp16 the
    gradient scaler multiplies the loss so that small gradients do not round to zero (in full
    precision and bf16 `amp.scaler` is disabled: it passes everything through unchanged)."""
    with amp.autocast():
        logits = net(X)
        loss = loss_fn(logits, y)
    optimizer.zero_grad()
    amp.scaler.scale(loss).backward()
    amp.scaler.step(optimizer)
    amp.scaler.update()
    return logits, loss


def _batch_sums(logits, y, loss):
    """Loss x labelled pixels, correct pixels, labelled pixels and images of one batch.
    `max(dim=1).indices` is argmax (the first of equal maxima), but on NCHW logits on the CPU
    some 6 times faster than `argmax(dim=1)` (7 ms against 46 ms per batch of 16 128 x 128)."""
    mask = y != VOID_LABEL
    n = int(mask.sum())
    correct = int((logits.detach().max(dim=1).indices == y)[mask].sum())
    return torch.tensor([loss.item() * n, correct, n, y.shape[0]], dtype=torch.float64)


def _check_finite(loss, epoch, batch):
    """Stop at a loss that is NaN or infinite, before it reaches a checkpoint."""
    if not torch.isfinite(loss):
        raise FloatingPointError(
            f"epoch {epoch}, batch {batch}: the loss is {loss.item()}; training stopped, and "
            "no checkpoint holds this epoch; lower the learning rate, or check the data"
        )


def _crop_of(data_iter):
    """The crop (height, width) of a loader over a VOCSegDataset, else None."""
    return getattr(getattr(data_iter, "dataset", None), "crop_size", None)


def _check_fresh(optimizer, scheduler):
    """Refuse an optimizer or scheduler that has stepped already (say, in a run stopped with
    Ctrl-C): training would silently continue from their state, not start afresh."""
    if optimizer.state:
        raise ValueError(
            "the optimizer has taken steps already (an earlier, interrupted train_fcn?); "
            "build a new model, optimizer and scheduler, or resume from a checkpoint"
        )
    if scheduler is not None and scheduler.last_epoch > 0:
        raise ValueError(
            f"the scheduler has taken {scheduler.last_epoch} steps already; build a new "
            "optimizer and scheduler, or resume from a checkpoint"
        )


def _check_schedule(scheduler, steps_needed, checkpoint):
    """Refuse a scheduler that would run out of steps before the last epoch ends."""
    total = getattr(scheduler, "total_steps", None)
    if total is not None and scheduler.last_epoch + steps_needed > total:
        raise ValueError(
            f"the scheduler was built for {total} steps, but training needs "
            f"{scheduler.last_epoch + steps_needed}; build it with total_steps = epochs x "
            f"batches per epoch" + (f" (checkpoint {checkpoint})" if checkpoint else "")
        )


def train_fcn(
    net,
    train_iter,
    val_iter,
    num_epochs,
    optimizer,
    scheduler=None,
    device=None,
    checkpoint=None,
    seed=0,
    live_plot=None,
    amp=FULL_PRECISION,
    on_epoch=None,
):
    """Train `net` for `num_epochs` epochs and return the history, one dict per epoch:
    train loss and pixel accuracy, validation pixel accuracy and mIoU, images per second.

    The loss is `pixel_loss`. `scheduler`, if any, steps after every batch. `device`
    defaults to `try_all_devices()[0]`. With a `checkpoint` path, a checkpoint is written
    after each epoch and, if the file exists already, training resumes from it exactly where
    it stopped (it then ignores `seed`). `live_plot` (default: when run in a notebook) redraws
    the curves after each epoch; `on_epoch(history)`, if given, is called then too. `amp` is the
    precision (d2lseg.amp). Under torchrun (d2lseg.distributed) every process runs this loop
    on its share of the data, and all of them report the same scores."""
    device = device or try_all_devices()[0]
    if len(train_iter) == 0:
        raise ValueError("train_iter yields no batches; use fewer images per batch")
    net.to(device)  # before loading a checkpoint, so the optimizer state lands there too
    history = []
    if checkpoint is not None and Path(checkpoint).is_file():
        history = load_checkpoint(checkpoint, net, optimizer, scheduler, amp.scaler)
        if len(history) >= num_epochs:
            print(f"checkpoint {checkpoint} holds {len(history)} epochs already, "
                  f"so the {num_epochs} asked for need no training")  # fmt: skip
            return history
    else:
        _check_fresh(optimizer, scheduler)
        set_seed(seed)
    start = len(history)
    if scheduler is not None:
        _check_schedule(scheduler, (num_epochs - start) * len(train_iter), checkpoint)
    model = distributed.wrap(amp.prepare(net), device)
    plot = LivePlot() if (_in_notebook() if live_plot is None else live_plot) else None
    if plot is not None and history:
        plot.update(history)
    # Few refreshes: each one is a message to a notebook's frontend, and a flood of them
    # overflows the kernel's output queue when nobody reads it live (as under nbval).
    bar = tqdm(total=(num_epochs - start) * len(train_iter), desc="training", unit="batch",
               mininterval=2, disable=not distributed.is_main())  # fmt: skip
    for epoch in range(start + 1, num_epochs + 1):
        model.train()
        if hasattr(train_iter.sampler, "set_epoch"):  # DistributedSampler: shuffle anew
            train_iter.sampler.set_epoch(epoch)
        tic = time.perf_counter()
        sums = torch.zeros(4, dtype=torch.float64)
        for batch, (X, y) in enumerate(train_iter, 1):
            X, y = amp.layout(X.to(device)), y.to(device)
            logits, loss = train_step(model, X, y, pixel_loss, optimizer, amp)
            _check_finite(loss, epoch, batch)
            if scheduler is not None:
                scheduler.step()
            sums += _batch_sums(logits, y, loss)
            bar.update(1)
            bar.set_postfix(epoch=epoch, loss=f"{loss.item():.3f}", refresh=False)
        loss_sum, correct, labelled, images = distributed.sum_across_ranks(sums).tolist()
        seconds = time.perf_counter() - tic
        distributed.sync_buffers(net)
        confmat = distributed.sum_across_ranks(evaluate(net, val_iter, device, amp))
        scores = segmentation_scores(confmat)
        history.append(
            {
                "epoch": epoch,
                "train_loss": loss_sum / max(labelled, 1),
                "train_acc": correct / max(labelled, 1),
                "val_acc": scores["pixel_acc"],
                "val_miou": scores["miou"],
                "images_per_s": images / seconds,
            }
        )
        if checkpoint is not None:
            crop = _crop_of(train_iter)
            save_checkpoint(checkpoint, net, optimizer, scheduler, history, amp.scaler, crop)
        if plot is not None:
            plot.update(history)
        if on_epoch is not None:
            on_epoch(history)
    bar.close()
    return history


def fcn_settings(voc_dir, device):
    """Training settings for the FCN notebooks, by data and device: small crops and few
    epochs for the embedded sample on a CPU (minutes), larger ones on a GPU or real VOC."""
    sample = is_sample_voc(voc_dir)
    if device.type == "cpu":
        if sample:
            return {"crop_size": (128, 128), "batch_size": 16, "num_epochs": 20, "lr": 3e-3}
        return {"crop_size": (256, 256), "batch_size": 16, "num_epochs": 3, "lr": 1e-3}
    if sample:
        return {"crop_size": (256, 256), "batch_size": 32, "num_epochs": 40, "lr": 3e-3}
    return {"crop_size": (320, 480), "batch_size": 32, "num_epochs": 20, "lr": 1e-3}


def adamw_one_cycle(net, lr, num_epochs, steps_per_epoch, weight_decay=1e-4):
    """Our recipe: AdamW, with a learning rate that warms up for 20% of the steps to `lr`
    and then anneals to almost zero (one cycle); the scheduler steps after every batch."""
    optimizer = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=weight_decay)
    total_steps = num_epochs * steps_per_epoch
    # OneCycleLR divides by zero when the warm-up is exactly one step, as 20% of 5 steps is.
    pct_start = 0.2 if total_steps != 5 else 0.3
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=lr, total_steps=total_steps, pct_start=pct_start
    )
    return optimizer, scheduler


def fit_fcn(
    voc_dir, settings, checkpoint=None, pretrained="auto", seed=0, live_plot=None, variant="32s"
):
    """Data, model (FCN-`variant`), optimizer and training with `settings` (see
    `fcn_settings`), as the FCN notebooks do it; returns the trained net, its history and the
    validation iterator."""
    set_seed(seed)
    train_iter, val_iter = load_data_voc(settings["batch_size"], settings["crop_size"], voc_dir)
    net = fcn_resnet18(num_classes=len(VOC_CLASSES), pretrained=pretrained, variant=variant)
    optimizer, scheduler = adamw_one_cycle(
        net, settings["lr"], settings["num_epochs"], len(train_iter)
    )
    history = train_fcn(
        net,
        train_iter,
        val_iter,
        settings["num_epochs"],
        optimizer,
        scheduler,
        checkpoint=checkpoint,
        seed=seed,
        live_plot=live_plot,
    )
    return net, history, val_iter
