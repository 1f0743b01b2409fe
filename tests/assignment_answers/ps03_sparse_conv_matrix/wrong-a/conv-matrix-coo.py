# feedback: the matrix differs on a
def conv_matrix_coo(K, input_shape, stride=1, padding=0):
    """Wrong: the padding is added to the input coordinate instead of subtracted."""
    (height, width), (sh, sw), (ph, pw) = as_pair(input_shape), as_pair(stride), as_pair(padding)
    kh, kw = K.shape
    out_h, out_w = (height + 2 * ph - kh) // sh + 1, (width + 2 * pw - kw) // sw + 1
    oi, oj, ki, kj = torch.meshgrid(
        torch.arange(out_h),
        torch.arange(out_w),
        torch.arange(kh),
        torch.arange(kw),
        indexing="ij",
    )
    row, col = oi * sh + ki + ph, oj * sw + kj + pw
    inside = (row >= 0) & (row < height) & (col >= 0) & (col < width)
    indices = torch.stack([(oi * out_w + oj)[inside], (row * width + col)[inside]])
    values = K.expand(out_h, out_w, kh, kw)[inside]
    return torch.sparse_coo_tensor(indices, values, (out_h * out_w, height * width)).coalesce()
