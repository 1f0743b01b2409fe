# feedback: the matrix differs from F.interpolate's weights on a case that
def interpolation_matrix(in_size, out_size):
    """Wrong: align_corners=True's coordinate s = i * (in_size - 1) / (out_size - 1)."""
    scale = (in_size - 1) / (out_size - 1) if out_size > 1 else 0.0
    s = torch.arange(out_size) * scale
    i0 = s.floor().long().clamp(max=in_size - 1)
    i1 = (i0 + 1).clamp(max=in_size - 1)
    t = s - i0
    A = torch.zeros(out_size, in_size)
    rows = torch.arange(out_size)
    A.index_put_((rows, i0), 1 - t, accumulate=True)
    A.index_put_((rows, i1), t, accumulate=True)
    return A
