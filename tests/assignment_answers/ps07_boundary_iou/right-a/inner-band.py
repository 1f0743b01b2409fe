def inner_band(mask, width):
    """Right: the erosion by min-pooling (max-pooling the negated mask), padded with False."""
    padded = F.pad(mask.float()[:, None], (width,) * 4, value=0.0)
    eroded = -F.max_pool2d(-padded, 2 * width + 1, stride=1)[:, 0]
    return mask & (eroded < 1)
