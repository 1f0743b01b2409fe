"""Segmentation scores with the FCN paper's definitions, from a confusion matrix.

As in torchvision's references/segmentation, pixels labelled VOID_LABEL (255) are left out,
so VOC's object borders count neither as right nor as wrong.
"""

import torch

from .voc import VOID_LABEL


def confusion_matrix(pred, target, num_classes=21, ignore_index=VOID_LABEL):
    """Count pixels by (target class, predicted class): a num_classes x num_classes int64
    matrix, rows for the target. Add the matrices of several batches to accumulate."""
    for name, values in (("pred", pred), ("target", target)):
        if not torch.is_tensor(values):
            got = type(values).__name__
            raise TypeError(f"{name} must be a tensor of class indices, got {got}")
        if values.dtype.is_floating_point or values.dtype.is_complex:
            raise TypeError(
                f"{name} must hold class indices (an integer tensor), got {values.dtype}; "
                "for logits or scores take logits.argmax(dim=1)"
            )
    if pred.shape != target.shape:
        raise ValueError(
            f"pred has shape {tuple(pred.shape)} but target has {tuple(target.shape)}; "
            "they must match (pass class indices, e.g. logits.argmax(dim=1))"
        )
    keep = target != ignore_index
    target, pred = target[keep].long(), pred[keep].long()
    for name, values in (("target", target), ("pred", pred)):
        if values.numel() and (values.min() < 0 or values.max() >= num_classes):
            raise ValueError(
                f"{name} has class indices outside 0..{num_classes - 1} "
                f"(min {values.min().item()}, max {values.max().item()}), besides "
                f"ignore_index {ignore_index}"
            )
    counts = torch.bincount(target * num_classes + pred, minlength=num_classes**2)
    return counts.reshape(num_classes, num_classes).cpu()


def segmentation_scores(confmat):
    """Pixel accuracy, mean class accuracy, per-class IoU, mean IoU and frequency-weighted
    IoU (Long et al., 2015, section 5). Classes that appear neither in the target nor in the
    prediction have IoU NaN and are left out of mIoU, as in the FCN reference `score.py`."""
    cm = torch.as_tensor(confmat, dtype=torch.float64)
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1]:
        raise ValueError(f"confmat must be a square matrix, got shape {tuple(cm.shape)}")
    if not torch.isfinite(cm).all() or (cm < 0).any():
        raise ValueError(
            "confmat must hold pixel counts (finite, >= 0), got NaN, infinite or negative "
            "entries; build it with confusion_matrix"
        )
    total = cm.sum()
    if total == 0:
        raise ValueError("confmat is empty: no labelled pixels were counted")
    hits = cm.diag()
    per_target = cm.sum(dim=1)  # pixels of each class in the target
    per_pred = cm.sum(dim=0)  # pixels predicted as each class
    iou = hits / (per_target + per_pred - hits)  # 0/0 = NaN for classes seen nowhere
    freq = per_target / total
    present = per_target > 0
    return {
        "pixel_acc": (hits.sum() / total).item(),
        "mean_acc": (hits[present] / per_target[present]).mean().item(),
        "iou": iou,
        "miou": iou.nanmean().item(),
        "fwiou": (freq[present] * iou[present]).sum().item(),
    }
