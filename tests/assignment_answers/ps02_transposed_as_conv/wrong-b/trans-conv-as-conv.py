# feedback: the result has the wrong shape on a
def trans_conv_as_conv(X, K, stride=1, padding=0):
    """Wrong: off-by-one padding, k - p instead of k - 1 - p (zeros inserted here)."""
    (sh, sw), (ph, pw), (kh, kw) = as_pair(stride), as_pair(padding), K.shape[-2:]
    Z = X.new_zeros(*X.shape[:2], (X.shape[2] - 1) * sh + 1, (X.shape[3] - 1) * sw + 1)
    Z[:, :, ::sh, ::sw] = X
    Z = F.pad(Z, (kw - pw, kw - pw, kh - ph, kh - ph))
    return F.conv2d(Z, K.flip(-2, -1).transpose(0, 1))
