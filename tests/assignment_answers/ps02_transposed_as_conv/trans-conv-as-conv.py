def trans_conv_as_conv(X, K, stride=1, padding=0):
    """Wrong: the kernel is not flipped."""
    (ph, pw), (kh, kw) = as_pair(padding), K.shape[-2:]
    Z = insert_zeros(X, stride)
    Z = F.pad(Z, (kw - 1 - pw, kw - 1 - pw, kh - 1 - ph, kh - 1 - ph))
    return F.conv2d(Z, K.transpose(0, 1))
