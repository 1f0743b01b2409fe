def conv_matrix_coo(K, input_shape, stride=1, padding=0):
    """Right: F.unfold of a map of pixel indices (-1 in the padding) gives each window's pixels."""
    (height, width), (ph, pw) = as_pair(input_shape), as_pair(padding)
    pixel = torch.arange(height * width, dtype=torch.float64).reshape(1, 1, height, width)
    pixel = F.pad(pixel, (pw, pw, ph, ph), value=-1)
    windows = F.unfold(pixel, K.shape, stride=as_pair(stride))[0].long()  # (kh * kw, outputs)
    element, output = torch.nonzero(windows >= 0, as_tuple=True)
    indices = torch.stack([output, windows[element, output]])
    shape = (windows.shape[1], height * width)
    return torch.sparse_coo_tensor(indices, K.reshape(-1)[element], shape).coalesce()
