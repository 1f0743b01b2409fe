"""Transposed convolution from scratch, and convolution as a matrix (D2L 14.10), in general form.

Every function follows PyTorch's conventions (cross-correlation, `nn.ConvTranspose2d`'s weight
layout), so that each result can be checked against `F.conv2d` and `F.conv_transpose2d`.
"""

import torch

from .arguments import as_int

MAX_MATRIX_BYTES = 1 << 30  # kernel2matrix refuses to allocate more than 1 GiB


def _check_tensor(name, value, dims):
    """Raise ValueError unless `value` is a non-empty tensor with `dims` dimensions, and
    TypeError if it holds booleans."""
    if not torch.is_tensor(value) or value.dim() != dims or value.numel() == 0:
        got = tuple(value.shape) if torch.is_tensor(value) else type(value).__name__
        raise ValueError(f"{name} must be a non-empty {dims}-D tensor, got {got}")
    if value.dtype == torch.bool:
        raise TypeError(f"{name} must hold numbers, got a tensor of {value.dtype}")


def _result_dtype(X, K):
    """The dtype of a sum of products of X and K: their common dtype, with integers widened
    to int64 as `torch.sum` does, so that uint8 or int16 inputs cannot overflow."""
    dtype = torch.result_type(X, K)
    return torch.int64 if not (dtype.is_floating_point or dtype.is_complex) else dtype


def _pair(name, value, minimum):
    """Return `value` (an int or a pair of ints) as a (height, width) pair, each >= `minimum`."""
    single = as_int(value)
    if single is not None:
        pair = (single, single)
    elif isinstance(value, tuple | list) or getattr(value, "ndim", None) == 1:
        pair = tuple(as_int(v) for v in value) if len(value) == 2 else (None,)
    else:
        pair = (None,)
    if None in pair or min(pair) < minimum:
        raise ValueError(f"{name} must be an int or a pair of ints >= {minimum}, got {value}")
    return pair


def corr2d(X, K):
    """2-D cross-correlation of X with K, as in the book: what deep learning calls convolution."""
    _check_tensor("X", X, 2)
    _check_tensor("K", K, 2)
    h, w = K.shape
    if h > X.shape[0] or w > X.shape[1]:
        raise ValueError(f"K of shape {tuple(K.shape)} is larger than X of shape {tuple(X.shape)}")
    dtype = _result_dtype(X, K)
    X, K = X.to(dtype), K.to(dtype)
    Y = X.new_zeros((X.shape[0] - h + 1, X.shape[1] - w + 1))
    for i in range(Y.shape[0]):
        for j in range(Y.shape[1]):
            Y[i, j] = (X[i : i + h, j : j + w] * K).sum()
    return Y


def trans_conv(X, K, stride=1, padding=0):
    """Transposed convolution of X with K, the book's broadcast-and-add definition generalised.

    Each element X[i, j] scales K into a tile; tiles start `stride` apart and are summed, then
    `padding` rows and columns are removed from each border of the result.
    """
    _check_tensor("X", X, 2)
    _check_tensor("K", K, 2)
    (sh, sw), (ph, pw) = _pair("stride", stride, 1), _pair("padding", padding, 0)
    h, w = K.shape
    full_h, full_w = (X.shape[0] - 1) * sh + h, (X.shape[1] - 1) * sw + w
    if full_h <= 2 * ph or full_w <= 2 * pw:
        raise ValueError(f"padding {padding} leaves an empty output from ({full_h}, {full_w})")
    dtype = _result_dtype(X, K)
    X, K = X.to(dtype), K.to(dtype)
    Y = X.new_zeros((full_h, full_w))
    for i in range(X.shape[0]):
        for j in range(X.shape[1]):
            Y[i * sh : i * sh + h, j * sw : j * sw + w] += X[i, j] * K
    return Y[ph : full_h - ph, pw : full_w - pw]


def trans_conv_multi(X, K, stride=1, padding=0):
    """Multi-channel transposed convolution with the weight layout of `nn.ConvTranspose2d`.

    X is (C_in, H, W) and K is (C_in, C_out, kh, kw): output channel o is the sum over input
    channels i of trans_conv(X[i], K[i, o]).
    """
    _check_tensor("X", X, 3)
    _check_tensor("K", K, 4)
    if K.shape[0] != X.shape[0]:
        raise ValueError(f"K must have X's {X.shape[0]} input channels first, got {K.shape[0]}")
    return torch.stack(
        [
            sum(trans_conv(x, k, stride, padding) for x, k in zip(X, K[:, o], strict=True))
            for o in range(K.shape[1])
        ]
    )


def kernel2matrix(K, input_shape, stride=1, padding=0):
    """Dense matrix W of the convolution (cross-correlation, as `F.conv2d`) of an input of
    `input_shape` with K, so that `W @ X.reshape(-1)` is the convolution and
    `W.T @ Y.reshape(-1)` the transposed convolution.

    Row r of W is K placed at output r's window in the padded input, with the padding cut away.
    """
    _check_tensor("K", K, 2)
    (height, width), (sh, sw) = _pair("input_shape", input_shape, 1), _pair("stride", stride, 1)
    ph, pw = _pair("padding", padding, 0)
    h, w = K.shape
    if h > height + 2 * ph or w > width + 2 * pw:
        raise ValueError(
            f"K of shape {(h, w)} is larger than the padded input "
            f"({height + 2 * ph}, {width + 2 * pw})"
        )
    out_h, out_w = (height + 2 * ph - h) // sh + 1, (width + 2 * pw - w) // sw + 1
    # The padded windows, then the matrix cut from them.
    size = out_h * out_w * ((height + 2 * ph) * (width + 2 * pw) + height * width)
    size *= K.element_size()
    if size > MAX_MATRIX_BYTES:
        raise ValueError(
            f"input_shape {(height, width)} needs a {out_h * out_w} x {height * width} matrix, "
            f"{size / 2**30:.1f} GiB with the padded windows it is cut from, more than the "
            f"{MAX_MATRIX_BYTES / 2**30:.0f} GiB allowed; use a smaller input_shape"
        )
    windows = K.new_zeros((out_h, out_w, height + 2 * ph, width + 2 * pw))
    for i in range(out_h):
        for j in range(out_w):
            windows[i, j, i * sh : i * sh + h, j * sw : j * sw + w] = K
    return windows[:, :, ph : ph + height, pw : pw + width].reshape(out_h * out_w, -1)
