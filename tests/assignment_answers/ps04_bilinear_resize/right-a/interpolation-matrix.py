def interpolation_matrix(in_size, out_size):
    """Right: row by row, in Python floats."""
    A = torch.zeros(out_size, in_size)
    for i in range(out_size):
        s = max((i + 0.5) * in_size / out_size - 0.5, 0.0)
        i0 = min(int(s), in_size - 1)
        i1 = min(i0 + 1, in_size - 1)
        t = s - i0
        A[i, i0] += 1 - t
        A[i, i1] += t
    return A
