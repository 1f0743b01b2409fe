# feedback: the result is float32 where float64 is expected
def insert_zeros(X, stride):
    """Wrong: torch.zeros without dtype: float32 whatever X's dtype."""
    sh, sw = as_pair(stride)
    n, c, h, w = X.shape
    Z = torch.zeros(n, c, (h - 1) * sh + 1, (w - 1) * sw + 1)
    Z[:, :, ::sh, ::sw] = X
    return Z
