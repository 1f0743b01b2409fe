def interpolation_matrix(in_size, out_size):
    """Right: the tent function max(0, 1 - |s - j|) of the clamped coordinate, edge folded in."""
    s = (torch.arange(out_size, dtype=torch.float64) + 0.5) * in_size / out_size - 0.5
    s = s.clamp(0, in_size - 1)[:, None]
    j = torch.arange(in_size, dtype=torch.float64)[None, :]
    return (1 - (s - j).abs()).clamp(min=0).float()
