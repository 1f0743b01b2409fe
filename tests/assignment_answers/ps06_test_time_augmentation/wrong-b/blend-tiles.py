# feedback: the result differs from a brute-force blend on a
def blend_tiles(tiles, starts, size, window):
    """Wrong: (top, left) read as (column, row) on the overlap: heights and widths swapped."""
    (th, tw), (height, width) = window.shape, size
    total = tiles.new_zeros(tiles.shape[1], height, width)
    weight = tiles.new_zeros(height, width)
    for tile, (left, top) in zip(tiles, starts, strict=True):
        top, left = min(top, height - th), min(left, width - tw)
        total[:, top : top + th, left : left + tw] += window * tile
        weight[top : top + th, left : left + tw] += window
    return total / weight
