# feedback: the result differs from F.conv_transpose2d on a
def trans_conv_as_conv(X, K, stride=1, padding=0):
    """Wrong: the kernel is not flipped (zeros inserted here, not by insert_zeros)."""
    (sh, sw), (ph, pw), (kh, kw) = as_pair(stride), as_pair(padding), K.shape[-2:]
    Z = X.new_zeros(*X.shape[:2], (X.shape[2] - 1) * sh + 1, (X.shape[3] - 1) * sw + 1)
    Z[:, :, ::sh, ::sw] = X
    Z = F.pad(Z, (kw - 1 - pw, kw - 1 - pw, kh - 1 - ph, kh - 1 - ph))
    return F.conv2d(Z, K.transpose(0, 1))
