def trans_conv_as_conv(X, K, stride=1, padding=0):
    """Right: the full transposed convolution (pad k - 1), then p cropped from every side."""
    (ph, pw), (kh, kw) = as_pair(padding), K.shape[-2:]
    Z = F.pad(insert_zeros(X, stride), (kw - 1, kw - 1, kh - 1, kh - 1))
    full = F.conv2d(Z, K.transpose(0, 1).flip(2).flip(3))
    return full[:, :, ph : full.shape[2] - ph, pw : full.shape[3] - pw]
