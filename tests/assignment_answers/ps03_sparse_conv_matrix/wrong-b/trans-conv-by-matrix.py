# feedback: the result has the wrong shape on a
def trans_conv_by_matrix(Y, K, input_shape, stride=1, padding=0):
    """Wrong: height and width swapped in the result (right for square inputs only)."""
    height, width = as_pair(input_shape)
    M = conv_matrix_coo(K, (height, width), stride, padding)
    return torch.sparse.mm(M.t(), Y.reshape(-1, 1)).reshape(width, height)
