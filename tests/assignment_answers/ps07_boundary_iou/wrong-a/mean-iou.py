# feedback: the result differs from torchmetrics on a
def mean_iou(C):
    """Wrong: classes seen nowhere count as IoU 0 in the mean."""
    C = C.double()
    hits = C.diag()
    union = C.sum(dim=0) + C.sum(dim=1) - hits
    return (hits / union.clamp(min=1)).mean()
