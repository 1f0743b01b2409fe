# feedback: the result has the wrong shape on a
def insert_zeros(X, stride):
    """Wrong: zeros after the last row and column too (shape H * sh, W * sw)."""
    sh, sw = as_pair(stride)
    n, c, h, w = X.shape
    Z = X.new_zeros(n, c, h * sh, w * sw)
    Z[:, :, ::sh, ::sw] = X
    return Z
