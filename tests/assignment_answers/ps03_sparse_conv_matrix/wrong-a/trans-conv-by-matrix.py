# feedback: the result differs from F.conv_transpose2d on a
def trans_conv_by_matrix(Y, K, input_shape, stride=1, padding=0):
    """Wrong: the padding is ignored."""
    M = conv_matrix_coo(K, input_shape, stride)
    return torch.sparse.mm(M.t(), Y.reshape(-1, 1)).reshape(as_pair(input_shape))
