def trans_conv_by_matrix(Y, K, input_shape, stride=1, padding=0):
    """Right: transpose by swapping the index rows, then multiply."""
    M = conv_matrix_coo(K, input_shape, stride, padding)
    MT = torch.sparse_coo_tensor(M.indices().flip(0), M.values(), (M.shape[1], M.shape[0]))
    height, width = as_pair(input_shape)
    return torch.sparse.mm(MT, Y.flatten()[:, None]).view(height, width)
