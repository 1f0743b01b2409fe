# feedback: the result differs from F.interpolate on a
def bilinear_resize(x, size):
    """Wrong: float32 whatever x is (the weights not cast, x made float32 to match)."""
    A_h = interpolation_matrix(x.shape[-2], size[0])
    A_w = interpolation_matrix(x.shape[-1], size[1])
    return torch.einsum("ih,nchw,jw->ncij", A_h, x.float(), A_w)
