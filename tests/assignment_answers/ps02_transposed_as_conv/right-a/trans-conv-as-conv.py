def trans_conv_as_conv(X, K, stride=1, padding=0):
    """Right: the k - 1 - p padding given to F.conv2d, the kernel permuted and flipped."""
    ph, pw = as_pair(padding)
    kh, kw = K.shape[2], K.shape[3]
    weight = torch.flip(K, dims=(2, 3)).permute(1, 0, 2, 3)
    return F.conv2d(insert_zeros(X, stride), weight, padding=(kh - 1 - ph, kw - 1 - pw))
