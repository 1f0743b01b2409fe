def insert_zeros(X, stride):
    """Right: each value followed by sh - 1 zero rows and sw - 1 zero columns, the tail cut."""
    sh, sw = as_pair(stride)
    n, c, h, w = X.shape
    blocks = X.new_zeros(n, c, h, sh, w, sw)
    blocks[:, :, :, 0, :, 0] = X
    return blocks.reshape(n, c, h * sh, w * sw)[:, :, : (h - 1) * sh + 1, : (w - 1) * sw + 1]
