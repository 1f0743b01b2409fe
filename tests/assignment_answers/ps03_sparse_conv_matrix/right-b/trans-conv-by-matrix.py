def trans_conv_by_matrix(Y, K, input_shape, stride=1, padding=0):
    """Right: (Y^T M)^T, with the dense row vector on the left."""
    M = conv_matrix_coo(K, input_shape, stride, padding)
    row = torch.sparse.mm(M.t(), Y.reshape(-1, 1)).t()
    return row.reshape(as_pair(input_shape))
