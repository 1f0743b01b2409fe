# feedback: the result differs from a brute-force band on a
def inner_band(mask, width):
    """Wrong: the image border does not count as outside (padded with the mask itself)."""
    outside = (~mask).float()[:, None]
    outside = F.pad(outside, (width,) * 4, value=0.0)
    near_outside = F.max_pool2d(outside, 2 * width + 1, stride=1)[:, 0] > 0
    return mask & near_outside
