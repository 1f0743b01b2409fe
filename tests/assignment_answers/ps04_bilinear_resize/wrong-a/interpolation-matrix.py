# feedback: the matrix differs from F.interpolate's weights on a case that
def interpolation_matrix(in_size, out_size):
    """Wrong: the coordinate is not clamped at 0, so the first rows lose weight (border)."""
    s = (torch.arange(out_size) + 0.5) * (in_size / out_size) - 0.5
    i0 = s.floor().long()
    t = s - i0
    A = torch.zeros(out_size, in_size)
    for i in range(out_size):
        if 0 <= i0[i] < in_size:
            A[i, i0[i]] += 1 - t[i]
        A[i, min(i0[i] + 1, in_size - 1)] += t[i]
    return A
