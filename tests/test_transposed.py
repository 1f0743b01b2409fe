"""Transposed convolution and convolution as a matrix, checked against PyTorch and the book."""

import time

import d2l.torch as d2l
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from d2lseg import corr2d, kernel2matrix, trans_conv, trans_conv_multi

SETTINGS = settings(max_examples=100, deadline=None)

BOOK_X = torch.tensor([[0.0, 1.0], [2.0, 3.0]])
BOOK_K = torch.tensor([[0.0, 1.0], [2.0, 3.0]])


def randn(seed, *shape):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def pairs(low, high):
    return st.tuples(st.integers(low, high), st.integers(low, high))


@st.composite
def convolutions(draw):
    """Input shape, kernel shape, stride and padding of a valid convolution (F.conv2d)."""
    padding, stride = draw(pairs(0, 2)), draw(pairs(1, 3))
    input_shape = draw(pairs(1, 7))
    kernel_shape = tuple(
        draw(st.integers(1, size + 2 * pad)) for size, pad in zip(input_shape, padding, strict=True)
    )
    return input_shape, kernel_shape, stride, padding


@st.composite
def transposed_convolutions(draw):
    """Input shape, kernel shape, stride and padding of a non-empty transposed convolution."""
    input_shape, kernel_shape, stride = draw(pairs(1, 5)), draw(pairs(1, 4)), draw(pairs(1, 3))
    full = [(n - 1) * s + k for n, s, k in zip(input_shape, stride, kernel_shape, strict=True)]
    padding = tuple(draw(st.integers(0, (size - 1) // 2)) for size in full)
    return input_shape, kernel_shape, stride, padding


def conv_output_shape(input_shape, kernel_shape, stride, padding):
    return tuple(
        (n + 2 * p - k) // s + 1
        for n, k, s, p in zip(input_shape, kernel_shape, stride, padding, strict=True)
    )


def lost_rows(input_shape, kernel_shape, stride, padding):
    """Rows and columns the convolution's floor division drops: the `output_padding` to restore."""
    return tuple(
        (n + 2 * p - k) % s
        for n, k, s, p in zip(input_shape, kernel_shape, stride, padding, strict=True)
    )


def test_book_examples():
    torch.testing.assert_close(
        trans_conv(BOOK_X, BOOK_K), torch.tensor([[0.0, 0, 1], [0, 4, 6], [4, 12, 9]])
    )
    torch.testing.assert_close(trans_conv(BOOK_X, BOOK_K, padding=1), torch.tensor([[4.0]]))
    torch.testing.assert_close(
        trans_conv(BOOK_X, BOOK_K, stride=2),
        torch.tensor([[0.0, 0, 0, 1], [0, 0, 2, 3], [0, 2, 0, 3], [4, 6, 6, 9]]),
    )
    W = kernel2matrix(torch.tensor([[1.0, 2.0], [3.0, 4.0]]), (3, 3))
    expected = torch.tensor(
        [
            [1.0, 2, 0, 3, 4, 0, 0, 0, 0],
            [0, 1, 2, 0, 3, 4, 0, 0, 0],
            [0, 0, 0, 1, 2, 0, 3, 4, 0],
            [0, 0, 0, 0, 1, 2, 0, 3, 4],
        ]
    )
    torch.testing.assert_close(W, expected)


@SETTINGS
@given(convolutions(), st.integers(0, 2**31))
def test_corr2d_matches_d2l_and_conv2d(case, seed):
    input_shape, kernel_shape, _, _ = case
    X, K = randn(seed, *input_shape), randn(seed + 1, *kernel_shape)
    if kernel_shape[0] > input_shape[0] or kernel_shape[1] > input_shape[1]:
        with pytest.raises(ValueError, match="K"):
            corr2d(X, K)
        return
    torch.testing.assert_close(corr2d(X, K), d2l.corr2d(X, K).double())
    torch.testing.assert_close(corr2d(X, K), F.conv2d(X[None, None], K[None, None])[0, 0])


@SETTINGS
@given(transposed_convolutions(), st.integers(0, 2**31))
def test_trans_conv_matches_conv_transpose2d(case, seed):
    input_shape, kernel_shape, stride, padding = case
    X, K = randn(seed, *input_shape), randn(seed + 1, *kernel_shape)
    expected = F.conv_transpose2d(X[None, None], K[None, None], stride=stride, padding=padding)
    torch.testing.assert_close(trans_conv(X, K, stride, padding), expected[0, 0])
    sizes = zip(input_shape, kernel_shape, stride, padding, strict=True)
    assert trans_conv(X, K, stride, padding).shape == tuple(
        (n - 1) * s - 2 * p + k for n, k, s, p in sizes
    )


@SETTINGS
@given(transposed_convolutions(), st.integers(0, 2**31))
def test_trans_conv_keeps_integer_dtype(case, seed):
    input_shape, kernel_shape, stride, padding = case
    X = torch.randint(-9, 10, input_shape, generator=torch.Generator().manual_seed(seed))
    K = torch.randint(-9, 10, kernel_shape, generator=torch.Generator().manual_seed(seed + 1))
    Y = trans_conv(X, K, stride, padding)
    expected = F.conv_transpose2d(
        X.double()[None, None], K.double()[None, None], stride=stride, padding=padding
    )
    assert Y.dtype == torch.int64
    assert torch.equal(Y, expected[0, 0].round().long())


@SETTINGS
@given(transposed_convolutions(), st.integers(1, 3), st.integers(1, 3), st.integers(0, 2**31))
def test_trans_conv_multi_matches_conv_transpose2d(case, c_in, c_out, seed):
    input_shape, kernel_shape, stride, padding = case
    X, K = randn(seed, c_in, *input_shape), randn(seed + 1, c_in, c_out, *kernel_shape)
    expected = F.conv_transpose2d(X[None], K, stride=stride, padding=padding)[0]
    torch.testing.assert_close(trans_conv_multi(X, K, stride, padding), expected)


@SETTINGS
@given(convolutions(), st.integers(0, 2**31))
def test_kernel2matrix_is_conv2d(case, seed):
    input_shape, kernel_shape, stride, padding = case
    X, K = randn(seed, *input_shape), randn(seed + 1, *kernel_shape)
    W = kernel2matrix(K, input_shape, stride, padding)
    output_shape = conv_output_shape(*case)
    assert W.shape == (output_shape[0] * output_shape[1], input_shape[0] * input_shape[1])
    expected = F.conv2d(X[None, None], K[None, None], stride=stride, padding=padding)[0, 0]
    torch.testing.assert_close((W @ X.reshape(-1)).reshape(output_shape), expected)


@SETTINGS
@given(convolutions(), st.integers(0, 2**31))
def test_kernel2matrix_transpose_is_conv_transpose2d(case, seed):
    input_shape, kernel_shape, stride, padding = case
    Y, K = randn(seed, *conv_output_shape(*case)), randn(seed + 1, *kernel_shape)
    W = kernel2matrix(K, input_shape, stride, padding)
    lost = lost_rows(*case)
    expected = F.conv_transpose2d(
        Y[None, None], K[None, None], stride=stride, padding=padding, output_padding=lost
    )[0, 0]
    torch.testing.assert_close((W.T @ Y.reshape(-1)).reshape(input_shape), expected)
    # Without output_padding, the transposed convolution misses the last rows the floor lost.
    short_shape = (input_shape[0] - lost[0], input_shape[1] - lost[1])
    if min(short_shape) < 1:  # the lost elements were padding: nothing is left to return
        with pytest.raises(ValueError, match="^padding"):
            trans_conv(Y, K, stride, padding)
        return
    torch.testing.assert_close(
        trans_conv(Y, K, stride, padding), expected[: short_shape[0], : short_shape[1]]
    )


@SETTINGS
@given(convolutions(), st.integers(0, 2**31))
def test_input_gradient_of_conv2d_is_multiplication_by_transpose(case, seed):
    input_shape, kernel_shape, stride, padding = case
    X, K = randn(seed, *input_shape).requires_grad_(), randn(seed + 1, *kernel_shape)
    G = randn(seed + 2, *conv_output_shape(*case))
    (
        F.conv2d(X[None, None], K[None, None], stride=stride, padding=padding)[0, 0] * G
    ).sum().backward()
    W = kernel2matrix(K, input_shape, stride, padding)
    torch.testing.assert_close(X.grad, (W.T @ G.reshape(-1)).reshape(input_shape))


def test_book_shape_round_trip():
    torch.manual_seed(0)
    X = torch.rand(1, 10, 16, 16, dtype=torch.float64)
    conv = torch.nn.Conv2d(10, 20, kernel_size=5, padding=2, stride=3).double()
    tconv = torch.nn.ConvTranspose2d(
        20, 10, kernel_size=5, padding=2, stride=3, bias=False
    ).double()
    Y = conv(X)
    Z = trans_conv_multi(Y[0], tconv.weight, stride=3, padding=2)
    assert Z.shape == X.shape[1:]
    torch.testing.assert_close(Z, tconv(Y)[0])


GOOD = torch.ones(3, 3)


@pytest.mark.parametrize(
    ("call", "argument"),
    [
        (lambda: trans_conv(torch.ones(3), GOOD), "X"),
        (lambda: trans_conv(GOOD, torch.ones(1, 2, 2)), "K"),
        (lambda: trans_conv([[1.0]], GOOD), "X"),
        (lambda: trans_conv(torch.ones(0, 3), GOOD), "X"),
        (lambda: trans_conv(GOOD, GOOD, stride=0), "stride"),
        (lambda: trans_conv(GOOD, GOOD, stride=(1, 0)), "stride"),
        (lambda: trans_conv(GOOD, GOOD, stride=1.5), "stride"),
        (lambda: trans_conv(GOOD, GOOD, padding=-1), "padding"),
        (lambda: trans_conv(GOOD, GOOD, padding=(1, 2, 3)), "padding"),
        (lambda: trans_conv(GOOD, GOOD, padding=3), "padding"),
        (lambda: corr2d(torch.ones(2, 2), GOOD), "K"),
        (lambda: corr2d(torch.ones(1, 2, 2), GOOD), "X"),
        (lambda: trans_conv_multi(GOOD, torch.ones(3, 1, 2, 2)), "X"),
        (lambda: trans_conv_multi(torch.ones(2, 3, 3), GOOD), "K"),
        (lambda: trans_conv_multi(torch.ones(2, 3, 3), torch.ones(3, 1, 2, 2)), "K"),
        (lambda: trans_conv_multi(torch.ones(2, 3, 3), torch.ones(2, 1, 2, 2), stride=0), "stride"),
        (lambda: kernel2matrix(torch.ones(3), (3, 3)), "K"),
        (lambda: kernel2matrix(GOOD, (2, 2)), "K"),
        (lambda: kernel2matrix(GOOD, (1, 1), padding=(1, 0)), "K"),
        (lambda: kernel2matrix(GOOD, (3, 0)), "input_shape"),
        (lambda: kernel2matrix(GOOD, (3, 3, 3)), "input_shape"),
        (lambda: kernel2matrix(GOOD, (3, 3), stride=0), "stride"),
        (lambda: kernel2matrix(GOOD, (3, 3), padding=-1), "padding"),
    ],
)
def test_bad_arguments_raise_value_error_naming_the_argument(call, argument):
    with pytest.raises(ValueError, match=rf"^{argument}\b"):
        call()


def test_error_message_says_what_was_expected():
    with pytest.raises(ValueError, match="stride must be an int or a pair of ints >= 1, got 0"):
        trans_conv(GOOD, GOOD, stride=0)


BOOL = torch.ones(2, 2, dtype=torch.bool)


@pytest.mark.parametrize(
    ("call", "argument"),
    [
        (lambda: corr2d(GOOD, BOOL), "K"),
        (lambda: trans_conv(BOOL, GOOD), "X"),
        (lambda: trans_conv_multi(BOOL[None], GOOD[None, None]), "X"),
        (lambda: kernel2matrix(BOOL, (3, 3)), "K"),
    ],
)
def test_boolean_tensors_are_refused(call, argument):
    with pytest.raises(TypeError, match=rf"^{argument} must hold numbers, got .*torch.bool"):
        call()


@pytest.mark.parametrize("dtype", [torch.uint8, torch.int8, torch.int16, torch.int32])
def test_narrow_integers_are_widened_not_overflowed(dtype):
    high = min(torch.iinfo(dtype).max, 2**20)  # products stay exact in float64, the oracle
    X = torch.full((3, 3), high, dtype=dtype)
    K = torch.full((2, 2), high, dtype=dtype)
    expected = F.conv_transpose2d(X.double()[None, None], K.double()[None, None], stride=2)[0, 0]
    Y = trans_conv(X, K, stride=2)
    assert Y.dtype == torch.int64 and torch.equal(Y, expected.long())
    expected = F.conv2d(X.double()[None, None], K.double()[None, None])[0, 0]
    Y = corr2d(X, K)
    assert Y.dtype == torch.int64 and torch.equal(Y, expected.long())


@pytest.mark.parametrize(
    ("stride", "padding"),
    [
        (np.int64(2), np.int32(1)),
        (torch.tensor(2), torch.tensor(1)),
        ((np.int8(2), torch.tensor(2)), [1, np.int64(1)]),
        (np.array([2, 2]), torch.tensor([1, 1])),
    ],
)
def test_strides_and_paddings_of_numpy_and_torch_integers(stride, padding):
    X, K = randn(0, 4, 5), randn(1, 3, 3)
    torch.testing.assert_close(trans_conv(X, K, stride, padding), trans_conv(X, K, 2, 1))
    torch.testing.assert_close(
        kernel2matrix(K, (4, 5), stride, padding), kernel2matrix(K, (4, 5), 2, 1)
    )


@pytest.mark.parametrize(
    "stride", [True, np.bool_(True), torch.tensor(True), torch.tensor(2.0), np.float64(2), "2"]
)
def test_strides_that_are_not_integers_are_refused(stride):
    with pytest.raises(ValueError, match="^stride must be an int or a pair of ints >= 1"):
        trans_conv(GOOD, GOOD, stride=stride)


def test_kernel2matrix_refuses_more_than_a_gibibyte_before_allocating():
    start = time.monotonic()
    with pytest.raises(ValueError, match=r"^input_shape \(200, 200\) .* 11\.7 GiB .* 1 GiB"):
        kernel2matrix(GOOD, (200, 200))
    assert time.monotonic() - start < 1
    assert kernel2matrix(GOOD, (60, 60)).shape == (58 * 58, 60 * 60)  # 0.1 GiB: fine
