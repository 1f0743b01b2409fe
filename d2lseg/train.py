"""One training loop for the CPU, one or several CUDA GPUs and Apple's MPS.

Compared with the book's `train_ch13`: it runs where `try_all_gpus()` is empty, ignores VOC's
void pixels in the loss, reports validation mIoU, survives epochs of fewer than 5 batches,
seeds everything, and writes checkpoints from which training resumes exactly.
"""

import os
import random
import tempfile
import time
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.ticker import MaxNLocator
from torch import nn
from tqdm.auto import tqdm

from .metrics import confusion_matrix, segmentation_scores
from .model import fcn_resnet18, num_classes_of
from .sample import is_sample_voc
from .voc import VOC_CLASSES, VOID_LABEL, load_data_voc


def try_all_devices():
    """Every CUDA GPU, else Apple's MPS, else the CPU: never an empty list."""
    if torch.cuda.is_available():
        return [torch.device(f"cuda:{i}") for i in range(torch.cuda.device_count())]
    if torch.backends.mps.is_available():
        return [torch.device("mps")]
    return [torch.device("cpu")]


def set_seed(seed):
    """Seed Python's, NumPy's and PyTorch's generators (all devices)."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _rng_state():
    state = {
        "python": random.getstate(),
        "numpy": np.random.get_state(),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    if torch.backends.mps.is_available():
        state["mps"] = torch.mps.get_rng_state()
    return state


def _set_rng_state(state):
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    if "mps" in state and torch.backends.mps.is_available():
        torch.mps.set_rng_state(state["mps"])


def save_checkpoint(path, net, optimizer, scheduler, history):
    """Write everything needed to resume (weights, optimizer, scheduler, history, random
    states) to a temporary file, then rename it: a crash never leaves half a checkpoint."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {
        "model": net.state_dict(),
        "num_classes": num_classes_of(net),
        "optimizer": optimizer.state_dict() if optimizer is not None else None,
        "scheduler": scheduler.state_dict() if scheduler is not None else None,
        "history": history,
        "rng": _rng_state(),
    }
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        torch.save(state, tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def load_checkpoint(path, net, optimizer=None, scheduler=None):
    """Load a checkpoint written by `save_checkpoint` into `net` (and the optimizer and
    scheduler if given); return its history. Refuses a model with another number of classes."""
    state = torch.load(path, map_location="cpu", weights_only=False)
    expected = num_classes_of(net)
    if state["num_classes"] != expected:
        raise ValueError(
            f"checkpoint {path} was trained for {state['num_classes']} classes but the model "
            f"predicts {expected}; build it with fcn_resnet18(num_classes={state['num_classes']})"
        )
    net.load_state_dict(state["model"])
    if optimizer is not None:
        optimizer.load_state_dict(state["optimizer"])
    if scheduler is not None:
        scheduler.load_state_dict(state["scheduler"])
    _set_rng_state(state["rng"])
    return state["history"]


def evaluate(net, data_iter, device=None):
    """Confusion matrix of `net` (or its DataParallel wrapper) over a data iterator, void
    pixels left out."""
    device = device or next(net.parameters()).device
    num_classes = num_classes_of(net.module if isinstance(net, nn.DataParallel) else net)
    confmat = torch.zeros(num_classes, num_classes, dtype=torch.int64)
    net.eval()
    with torch.no_grad():
        for X, y in data_iter:
            pred = net(X.to(device)).argmax(dim=1)
            confmat += confusion_matrix(pred, y.to(device), num_classes)
    return confmat


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
        epochs = [h["epoch"] for h in history]
        self.ax_loss.clear()
        self.ax_loss.plot(epochs, [h["train_loss"] for h in history], "o-", label="train loss")
        self.ax_acc.clear()
        curves = (
            ("train_acc", "train pixel acc"),
            ("val_acc", "val pixel acc"),
            ("val_miou", "val mIoU"),
        )
        for key, label in curves:
            self.ax_acc.plot(epochs, [h[key] for h in history], "o-", label=label)
        self.ax_acc.set_ylim(0, 1)
        for ax in (self.ax_loss, self.ax_acc):
            ax.set_xlabel("epoch")
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.grid(True, alpha=0.3)
            ax.legend(loc="best")
        self.handle.update(self.fig)


def _in_notebook():
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    return type(get_ipython()).__name__ == "ZMQInteractiveShell"


def train_fcn(
    net,
    train_iter,
    val_iter,
    num_epochs,
    optimizer,
    scheduler=None,
    devices=None,
    checkpoint=None,
    seed=0,
    live_plot=None,
):
    """Train `net` for `num_epochs` epochs and return the history, one dict per epoch:
    train loss and pixel accuracy, validation pixel accuracy and mIoU, images per second.

    Cross-entropy ignores VOID_LABEL pixels. `scheduler`, if any, steps after every batch.
    `devices` defaults to `try_all_devices()`; several GPUs train with DataParallel. With a
    `checkpoint` path, a checkpoint is written after each epoch and, if the file exists
    already, training resumes from it exactly where it stopped (it then ignores `seed`).
    `live_plot` (default: when run in a notebook) redraws the curves after each epoch."""
    devices = devices or try_all_devices()
    if len(train_iter) == 0:
        raise ValueError("train_iter yields no batches; use fewer images per batch")
    net.to(devices[0])  # before loading a checkpoint, so the optimizer state lands there too
    history = []
    if checkpoint is not None and Path(checkpoint).is_file():
        history = load_checkpoint(checkpoint, net, optimizer, scheduler)
    else:
        set_seed(seed)
    model = nn.DataParallel(net, device_ids=devices) if len(devices) > 1 else net
    loss_fn = nn.CrossEntropyLoss(ignore_index=VOID_LABEL, reduction="sum")
    plot = LivePlot() if (_in_notebook() if live_plot is None else live_plot) else None
    if plot is not None and history:
        plot.update(history)
    start = len(history)
    # Few refreshes: each one is a message to a notebook's frontend, and a flood of them
    # overflows the kernel's output queue when nobody reads it live (as under nbval).
    bar = tqdm(
        total=(num_epochs - start) * len(train_iter), desc="training", unit="batch", mininterval=2
    )
    for epoch in range(start + 1, num_epochs + 1):
        model.train()
        tic = time.perf_counter()
        loss_sum, correct, labelled, images = 0.0, 0, 0, 0
        for X, y in train_iter:
            X, y = X.to(devices[0]), y.to(devices[0])
            logits = model(X)
            mask = y != VOID_LABEL
            n = int(mask.sum())
            # The mean over labelled pixels; 0, not NaN, for a batch with none of them.
            loss = loss_fn(logits, y) / max(n, 1)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
            loss_sum += loss.item() * n
            correct += int((logits.argmax(dim=1) == y)[mask].sum())
            labelled += n
            images += X.shape[0]
            bar.update(1)
            bar.set_postfix(epoch=epoch, loss=f"{loss.item():.3f}", refresh=False)
        seconds = time.perf_counter() - tic
        scores = segmentation_scores(evaluate(model, val_iter, devices[0]))
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
            save_checkpoint(checkpoint, net, optimizer, scheduler, history)
        if plot is not None:
            plot.update(history)
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
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=lr, total_steps=num_epochs * steps_per_epoch, pct_start=0.2
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
