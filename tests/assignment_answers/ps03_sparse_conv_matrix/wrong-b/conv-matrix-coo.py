# feedback: the matrix has the wrong shape on a
def conv_matrix_coo(K, input_shape, stride=1, padding=0):
    """Wrong: the stride is ignored (stride 1 on both axes)."""
    (height, width), (ph, pw) = as_pair(input_shape), as_pair(padding)
    kh, kw = K.shape
    out_h, out_w = height + 2 * ph - kh + 1, width + 2 * pw - kw + 1
    oi, oj, ki, kj = torch.meshgrid(
        torch.arange(out_h),
        torch.arange(out_w),
        torch.arange(kh),
        torch.arange(kw),
        indexing="ij",
    )
    row, col = oi + ki - ph, oj + kj - pw
    inside = (row >= 0) & (row < height) & (col >= 0) & (col < width)
    indices = torch.stack([(oi * out_w + oj)[inside], (row * width + col)[inside]])
    values = K.expand(out_h, out_w, kh, kw)[inside]
    return torch.sparse_coo_tensor(indices, values, (out_h * out_w, height * width)).coalesce()
