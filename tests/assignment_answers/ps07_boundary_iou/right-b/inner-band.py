def inner_band(mask, width):
    """Right: width steps of 8-connected growth of the outside, one pixel at a time."""
    n, h, w = mask.shape
    outside = torch.ones(n, h + 2, w + 2, dtype=torch.bool)
    outside[:, 1:-1, 1:-1] = ~mask
    for _ in range(width):
        grown = outside.clone()
        for a in (-1, 0, 1):
            for b in (-1, 0, 1):
                grown[:, 1:-1, 1:-1] |= outside[:, 1 + a : 1 + a + h, 1 + b : 1 + b + w]
        outside = grown
    return mask & outside[:, 1:-1, 1:-1]
