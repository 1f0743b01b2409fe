"""Boundary IoU against hand-computed cases, SciPy's binary erosion and the plain IoU."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import ndimage
from torchmetrics.classification import MulticlassJaccardIndex

from d2lseg import VOID_LABEL, boundary_iou
from d2lseg.metrics import boundary_counts, boundary_iou_from_counts, evaluate_boundary, inner_band


def square(size, top, left, side):
    """A size x size map of class 0 with a side x side square of class 1."""
    labels = torch.zeros(size, size, dtype=torch.long)
    labels[top : top + side, left : left + side] = 1
    return labels


@settings(max_examples=50, deadline=None)
@given(
    st.integers(1, 3),
    st.lists(st.booleans(), min_size=12 * 15, max_size=12 * 15),
)
def test_band_is_the_mask_minus_its_erosion(width, bits):
    """The reference mask_to_boundary: erode with a 3x3 square `width` times, zeros beyond the
    image border, and keep what the erosion removed."""
    mask = np.array(bits).reshape(12, 15)
    eroded = ndimage.binary_erosion(mask, np.ones((3, 3)), iterations=width, border_value=0)
    expected = mask & ~eroded
    assert inner_band(torch.from_numpy(mask), width).numpy().tolist() == expected.tolist()


def test_perfect_prediction_scores_one_whatever_it_says_on_void():
    target = square(32, 8, 8, 12)
    target[6:22, 6:8] = VOID_LABEL  # a void strip along the square's left side
    pred = target.clone()
    pred[target == VOID_LABEL] = 1  # not judged there
    assert boundary_iou(pred, target, num_classes=2, width=2) == 1.0


def test_shifted_square_by_hand():
    # 16 x 16, an 8 x 8 square at rows 4..11, cols 4..11; predicted 2 columns to the right.
    # width 1: a band is the mask's pixels with a non-mask 8-neighbour or on the image border.
    # Class 1: each band is the square's 1-pixel ring, 28 pixels; they share rows 4 and 11 in
    #   columns 6..11, 12 pixels; union 28 + 28 - 12 = 44; IoU 12/44 = 3/11.
    # Class 0: each band is the image's frame (60 pixels) plus the ring just outside the square
    #   (10 x 10 ring, 36 pixels) = 96; they share the frame and rows 3 and 12 in columns
    #   5..12 (16 pixels) = 76; union 96 + 96 - 76 = 116; IoU 76/116 = 19/29.
    target, pred = square(16, 4, 4, 8), square(16, 4, 6, 8)
    assert boundary_counts(pred, target, 2, width=1).tolist() == [[76, 12], [116, 44]]
    assert boundary_iou(pred, target, num_classes=2, width=1) == pytest.approx(
        (3 / 11 + 19 / 29) / 2
    )


def test_a_shift_hurts_boundary_iou_more_than_iou():
    target, pred = square(96, 20, 20, 48), square(96, 20, 24, 48)
    miou = MulticlassJaccardIndex(num_classes=2, average="macro")(pred, target).item()
    biou = boundary_iou(pred, target, num_classes=2)
    assert miou > 0.85 and biou < miou - 0.2


def test_accumulates_over_images_as_counts():
    g = torch.Generator().manual_seed(0)
    pred = torch.randint(0, 3, (4, 20, 24), generator=g)
    target = torch.randint(0, 3, (4, 20, 24), generator=g)
    target[:, :3] = VOID_LABEL
    per_image = sum(boundary_counts(p, t, 3) for p, t in zip(pred, target, strict=True))
    assert torch.equal(boundary_counts(pred, target, 3), per_image)
    assert boundary_iou(pred, target, 3) == pytest.approx(boundary_iou_from_counts(per_image))
    # Counts, not a mean of per-image scores:
    per_image_mean = np.mean([boundary_iou(p, t, 3) for p, t in zip(pred, target, strict=True)])
    assert boundary_iou(pred, target, 3) != pytest.approx(per_image_mean)


def test_classes_seen_nowhere_are_left_out():
    target, pred = square(16, 4, 4, 8), square(16, 4, 4, 8)
    assert boundary_iou(pred, target, num_classes=21) == 1.0
    with pytest.raises(ValueError, match="no class has a boundary band"):
        boundary_iou(pred, torch.full_like(target, VOID_LABEL), num_classes=2)


def test_evaluate_boundary_sums_the_batches():
    torch.manual_seed(0)
    net = torch.nn.Conv2d(3, 4, kernel_size=3, padding=1)
    batches = [(torch.rand(2, 3, 16, 16), torch.randint(0, 4, (2, 16, 16))) for _ in range(3)]
    with torch.no_grad():
        expected = sum(boundary_counts(net(X).argmax(dim=1), y, 4) for X, y in batches)
    assert torch.equal(evaluate_boundary(net, batches), expected)


def test_bad_input_is_refused():
    target = square(16, 4, 4, 8)
    with pytest.raises(ValueError, match=r"pred and target must both be .*\(16, 15\)"):
        boundary_iou(target[:, :15], target, 2)
    with pytest.raises(ValueError, match="width must be a positive number of pixels, got 0"):
        boundary_iou(target, target, 2, width=0)
    with pytest.raises(ValueError, match=r"pred has class indices outside 0\.\.1"):
        boundary_iou(target + 1, target, 2)
