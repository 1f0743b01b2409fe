def mean_iou(C):
    """Right: a loop over the classes, NaN for unseen ones, then nanmean."""
    ious = []
    for c in range(len(C)):
        union = C[c, :].sum() + C[:, c].sum() - C[c, c]
        ious.append(C[c, c] / union if union > 0 else float("nan"))
    return torch.tensor(ious, dtype=torch.float64).nanmean()
