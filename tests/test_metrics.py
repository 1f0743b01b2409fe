"""Metrics against hand-computed cases and torchmetrics as the oracle."""

import math

import pytest
import torch
from torchmetrics.classification import MulticlassAccuracy, MulticlassJaccardIndex

from d2lseg import VOID_LABEL, confusion_matrix, segmentation_scores


def test_hand_computed_case():
    target = torch.tensor([[0, 0, 1, 1], [2, 2, 255, 255]])
    pred = torch.tensor([[0, 1, 1, 1], [2, 0, 2, 0]])
    cm = confusion_matrix(pred, target, num_classes=4)
    assert cm.tolist() == [[1, 1, 0, 0], [0, 2, 0, 0], [1, 0, 1, 0], [0, 0, 0, 0]]
    s = segmentation_scores(cm)
    assert s["pixel_acc"] == pytest.approx(4 / 6)
    assert s["mean_acc"] == pytest.approx((1 / 2 + 1 + 1 / 2) / 3)  # class 3 is absent
    iou = [1 / 3, 2 / 3, 1 / 2]
    assert s["iou"][:3].tolist() == pytest.approx(iou)
    assert math.isnan(s["iou"][3])  # neither in target nor predicted
    assert s["miou"] == pytest.approx(sum(iou) / 3)
    assert s["fwiou"] == pytest.approx((2 * iou[0] + 2 * iou[1] + 2 * iou[2]) / 6)


def test_class_predicted_but_absent_from_target_counts_as_zero():
    target = torch.tensor([0, 0, 0, 0])
    pred = torch.tensor([0, 0, 0, 1])
    s = segmentation_scores(confusion_matrix(pred, target, num_classes=3))
    assert s["iou"][1] == 0 and math.isnan(s["iou"][2])
    assert s["miou"] == pytest.approx((3 / 4 + 0) / 2)
    assert s["mean_acc"] == pytest.approx(3 / 4)  # averaged over target classes only


def test_accumulates_by_addition():
    g = torch.Generator().manual_seed(0)
    pred = torch.randint(0, 5, (4, 8, 8), generator=g)
    target = torch.randint(0, 5, (4, 8, 8), generator=g)
    whole = confusion_matrix(pred, target, 5)
    parts = sum(confusion_matrix(p, t, 5) for p, t in zip(pred, target, strict=True))
    assert torch.equal(whole, parts)


@pytest.mark.parametrize("seed", range(5))
def test_agrees_with_torchmetrics(seed):
    num_classes = 21
    g = torch.Generator().manual_seed(seed)
    target = torch.randint(0, num_classes, (3, 24, 32), generator=g)
    target[:, :, :4] = VOID_LABEL
    target[target == 7] = 0  # a class absent from the target...
    pred = torch.where(torch.rand(target.shape, generator=g) < 0.6, target, 0)
    pred[target == VOID_LABEL] = torch.randint(0, num_classes, (1,), generator=g)
    pred[target == 5] = 7  # ...but predicted
    pred[pred == 9] = 0
    target[target == 9] = 0  # and a class that is nowhere
    s = segmentation_scores(confusion_matrix(pred, target, num_classes))
    kwargs = {"num_classes": num_classes, "ignore_index": VOID_LABEL}
    miou = MulticlassJaccardIndex(average="macro", **kwargs)(pred, target)
    per_class = MulticlassJaccardIndex(average="none", **kwargs)(pred, target)
    pixel_acc = MulticlassAccuracy(average="micro", **kwargs)(pred, target)
    assert s["miou"] == pytest.approx(miou.item(), abs=1e-6)
    present = ~torch.isnan(s["iou"])
    torch.testing.assert_close(s["iou"][present].float(), per_class[present])
    assert s["pixel_acc"] == pytest.approx(pixel_acc.item(), abs=1e-6)
    assert present.sum() == num_classes - 1


def test_bad_input():
    with pytest.raises(ValueError, match=r"pred has shape \(2, 3\) but target has \(2, 4\)"):
        confusion_matrix(torch.zeros(2, 3, dtype=torch.long), torch.zeros(2, 4, dtype=torch.long))
    with pytest.raises(ValueError, match=r"target has class indices outside 0..20"):
        confusion_matrix(torch.zeros(4, dtype=torch.long), torch.tensor([0, 1, 21, 255]))
    with pytest.raises(ValueError, match=r"pred has class indices outside 0..2"):
        confusion_matrix(torch.tensor([0, -1]), torch.tensor([0, 1]), num_classes=3)
    with pytest.raises(ValueError, match="confmat is empty"):
        segmentation_scores(torch.zeros(3, 3))
    with pytest.raises(ValueError, match="square"):
        segmentation_scores(torch.zeros(3, 4))


@pytest.mark.parametrize("name", ["pred", "target"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.complex64])
def test_floating_point_predictions_or_targets_point_to_argmax(name, dtype):
    tensors = {"pred": torch.tensor([0, 1]), "target": torch.tensor([0, 1])}
    tensors[name] = tensors[name].to(dtype)
    with pytest.raises(TypeError, match=rf"^{name} must hold class indices.*argmax"):
        confusion_matrix(**tensors)


def test_confusion_matrix_needs_tensors():
    with pytest.raises(TypeError, match="pred must be a tensor of class indices, got list"):
        confusion_matrix([0, 1], torch.tensor([0, 1]))


@pytest.mark.parametrize("bad", [math.nan, -1.0, math.inf])
def test_scores_refuse_counts_that_are_not_counts(bad):
    confmat = torch.tensor([[5.0, 1.0], [2.0, 4.0]])
    confmat[0, 1] = bad
    with pytest.raises(ValueError, match="confmat must hold pixel counts"):
        segmentation_scores(confmat)
