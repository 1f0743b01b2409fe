# feedback: the result differs from F.interpolate on a
def bilinear_resize(x, size):
    """Wrong: the matrices of height and width are swapped (right for square inputs only)."""
    A_h = interpolation_matrix(x.shape[-1], size[0]).to(x.dtype)
    A_w = interpolation_matrix(x.shape[-2], size[1]).to(x.dtype)
    return torch.einsum("ih,nchw,jw->ncij", A_h, x, A_w)
