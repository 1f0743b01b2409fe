"""Segmentation scores with the FCN paper's definitions, from a confusion matrix.

As in torchvision's references/segmentation, pixels labelled VOID_LABEL (255) are left out,
so VOC's object borders count neither as right nor as wrong.
"""

import torch
import torch.nn.functional as F

from .arguments import as_int
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


BOUNDARY_WIDTH = 5  # pixels; see boundary_iou


def inner_band(masks, width=BOUNDARY_WIDTH):
    """The pixels of boolean masks (... x H x W) within `width` pixels (8-connected steps) of
    the mask's contour: the mask minus its erosion by a (2 width + 1)-square, as in the
    reference `mask_to_boundary` of Boundary IoU. The image border counts as contour."""
    outside = (~masks).float().reshape(-1, 1, *masks.shape[-2:])
    outside = F.pad(outside, (width,) * 4, value=1.0)
    near_outside = F.max_pool2d(outside, 2 * width + 1, stride=1) > 0
    return masks & near_outside.reshape(masks.shape)


def boundary_counts(pred, target, num_classes=21, width=BOUNDARY_WIDTH, ignore_index=VOID_LABEL):
    """Per class, the pixels in both boundary bands and in either (a 2 x num_classes int64
    tensor: intersections, unions) for one H x W map or a batch N x H x W. Add the counts of
    several batches, then pass the sum to `boundary_iou_from_counts`.

    A class's band is `inner_band` of its mask, in the prediction and in the target. Pixels
    labelled `ignore_index` belong to no class in either, so VOC's void band along every
    object is where contours run, and a prediction is not judged inside it."""
    if pred.shape != target.shape or pred.ndim not in (2, 3):
        raise ValueError(
            f"pred and target must both be H x W or N x H x W, got {tuple(pred.shape)} and "
            f"{tuple(target.shape)}"
        )
    if as_int(width) is None or width < 1:
        raise ValueError(f"width must be a positive number of pixels, got {width!r}")
    labelled = target != ignore_index
    for name, values in (("pred", pred), ("target", target[labelled])):
        if values.numel() and (values.min() < 0 or values.max() >= num_classes):
            raise ValueError(
                f"{name} has class indices outside 0..{num_classes - 1} (min "
                f"{values.min().item()}, max {values.max().item()}), besides ignore_index"
            )
    counts = torch.zeros(2, num_classes, dtype=torch.int64)
    for c in range(num_classes):
        pred_band = inner_band((pred == c) & labelled, width)
        target_band = inner_band((target == c) & labelled, width)
        counts[0, c] = (pred_band & target_band).sum()
        counts[1, c] = (pred_band | target_band).sum()
    return counts


def boundary_iou_from_counts(counts):
    """The mean Boundary IoU over the classes with a boundary band in the prediction or the
    target (as mIoU leaves out classes seen nowhere), from summed `boundary_counts`."""
    intersection, union = torch.as_tensor(counts, dtype=torch.float64)
    seen = union > 0
    if not seen.any():
        raise ValueError("counts are empty: no class has a boundary band in any image")
    return (intersection[seen] / union[seen]).mean().item()


def boundary_iou(pred, target, num_classes=21, width=BOUNDARY_WIDTH, ignore_index=VOID_LABEL):
    """Boundary IoU (Cheng et al., CVPR 2021) of class maps, H x W or N x H x W: per class,
    the IoU of the bands within `width` pixels inside the contours of the predicted and the
    target masks, counted over all images, then averaged over classes. Unlike IoU, which
    large interiors dominate, it measures how well the contours match. For a data set, add
    `boundary_counts` over the batches and call `boundary_iou_from_counts`.

    `width` defaults to 5 pixels: the paper's 2% of the image diagonal would be 3.6 pixels on
    this course's 128 x 128 CPU crops and 11.5 on the book's 320 x 480 ones; 5 lies between and
    is the width of VOC's void band."""
    counts = boundary_counts(pred, target, num_classes, width, ignore_index)
    return boundary_iou_from_counts(counts)


def evaluate_boundary(net, data_iter, device=None, width=BOUNDARY_WIDTH):
    """Summed `boundary_counts` of `net`'s predictions over a data iterator (as `evaluate`
    sums confusion matrices); pass them to `boundary_iou_from_counts`."""
    device = device or next(net.parameters()).device
    counts = None
    net.eval()
    with torch.no_grad():
        for X, y in data_iter:
            logits = net(X.to(device))
            batch = boundary_counts(logits.argmax(dim=1).cpu(), y, logits.shape[1], width)
            counts = batch if counts is None else counts + batch
    return counts
