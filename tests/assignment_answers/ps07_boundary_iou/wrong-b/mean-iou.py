# feedback: the result is float32 where float64 is expected
def mean_iou(C):
    """Wrong: computed and returned in float32."""
    C = C.float()
    hits = C.diag()
    union = C.sum(dim=0) + C.sum(dim=1) - hits
    seen = union > 0
    return (hits[seen] / union[seen]).mean()
