# feedback: the result differs from a brute-force band on a case with
def inner_band(mask, width):
    """Wrong: off by one, a (2 width - 1)-square: the band is width - 1 pixels wide."""
    outside = (~mask).float()[:, None]
    outside = F.pad(outside, (width - 1,) * 4, value=1.0)
    near_outside = F.max_pool2d(outside, 2 * width - 1, stride=1)[:, 0] > 0
    return mask & near_outside
