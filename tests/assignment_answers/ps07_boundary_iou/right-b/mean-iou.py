def mean_iou(C):
    """Right: intersections and unions summed with a mask, in float64."""
    hits = torch.diagonal(C).to(torch.float64)
    union = C.sum(0).to(torch.float64) + C.sum(1) - hits
    seen = union > 0
    return (hits / union.clamp(min=1))[seen].sum() / seen.sum()
