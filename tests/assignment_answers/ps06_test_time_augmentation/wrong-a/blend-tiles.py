# feedback: the result is float32 where float64 is expected
def blend_tiles(tiles, starts, size, window):
    """Wrong: torch.zeros without dtype: float32 whatever the tiles' dtype."""
    (th, tw), (height, width) = window.shape, size
    total = torch.zeros(tiles.shape[1], height, width)
    weight = torch.zeros(height, width)
    for tile, (top, left) in zip(tiles, starts, strict=True):
        total[:, top : top + th, left : left + tw] += window * tile
        weight[top : top + th, left : left + tw] += window
    return total / weight
