def conv_matrix_coo(K, input_shape, stride=1, padding=0):
    """Right: one kernel element at a time, vectorised over the outputs."""
    (height, width), (sh, sw), (ph, pw) = as_pair(input_shape), as_pair(stride), as_pair(padding)
    kh, kw = K.shape
    out_h, out_w = (height + 2 * ph - kh) // sh + 1, (width + 2 * pw - kw) // sw + 1
    out_rows = torch.arange(out_h)[:, None].expand(out_h, out_w)
    out_cols = torch.arange(out_w)[None, :].expand(out_h, out_w)
    rows, cols, values = [], [], []
    for ki in range(kh):
        for kj in range(kw):
            i, j = out_rows * sh + ki - ph, out_cols * sw + kj - pw
            keep = (i >= 0) & (i < height) & (j >= 0) & (j < width)
            rows.append((out_rows * out_w + out_cols)[keep])
            cols.append((i * width + j)[keep])
            values.append(K[ki, kj].expand(int(keep.sum())))
    indices = torch.stack([torch.cat(rows), torch.cat(cols)])
    M = torch.sparse_coo_tensor(indices, torch.cat(values), (out_h * out_w, height * width))
    return M.coalesce()
