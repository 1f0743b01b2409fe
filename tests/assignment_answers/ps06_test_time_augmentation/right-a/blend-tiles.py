def blend_tiles(tiles, starts, size, window):
    """Right: pixel sums accumulated with index_put_ over all tiles at once."""
    (num, c, th, tw), (height, width) = tiles.shape, size
    top = torch.tensor([s[0] for s in starts])[:, None, None] + torch.arange(th)[:, None]
    left = torch.tensor([s[1] for s in starts])[:, None, None] + torch.arange(tw)
    top, left = top.expand(num, th, tw), left.expand(num, th, tw)
    total = torch.zeros(c, height, width, dtype=tiles.dtype)
    weight = torch.zeros(height, width, dtype=tiles.dtype)
    weighted = (tiles * window).permute(1, 0, 2, 3)  # (C, T, th, tw)
    total.index_put_((torch.arange(c)[:, None, None, None], top, left), weighted, accumulate=True)
    weight.index_put_((top, left), window.expand(num, th, tw), accumulate=True)
    return total / weight
