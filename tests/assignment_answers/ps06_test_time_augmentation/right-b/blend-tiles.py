def blend_tiles(tiles, starts, size, window):
    """Right: each tile padded to the image with F.pad, then summed."""
    from torch.nn import functional as F

    (th, tw), (height, width) = window.shape, size
    total, weight = 0, 0
    for tile, (top, left) in zip(tiles, starts, strict=True):
        pad = (left, width - left - tw, top, height - top - th)
        total = total + F.pad(window * tile, pad)
        weight = weight + F.pad(window, pad)
    return total / weight
