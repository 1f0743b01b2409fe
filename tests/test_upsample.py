"""Bilinear upsampling by transposed convolution, checked against independent oracles.

Oracles: the book's ``bilinear_kernel`` (D2L 14.11, PyTorch tab; the ``d2l`` package does not ship
it, as the book does not mark it ``#@save``, so it is reproduced here as printed), the FCN paper's
``upsample_filt`` in NumPy, hand-computed values, and ``F.interpolate``.
"""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from d2lseg import bilinear_kernel, bilinear_upsampler


def book_bilinear_kernel(in_channels, out_channels, kernel_size):
    """D2L 14.11's code, as printed in the book."""
    factor = (kernel_size + 1) // 2
    if kernel_size % 2 == 1:
        center = factor - 1
    else:
        center = factor - 0.5
    og = (torch.arange(kernel_size).reshape(-1, 1), torch.arange(kernel_size).reshape(1, -1))
    filt = (1 - torch.abs(og[0] - center) / factor) * (1 - torch.abs(og[1] - center) / factor)
    weight = torch.zeros((in_channels, out_channels, kernel_size, kernel_size))
    weight[range(in_channels), range(out_channels), :, :] = filt
    return weight


def fcn_upsample_filt(size):
    """The FCN paper's ``surgery.upsample_filt``: a 2-D bilinear kernel for upsampling."""
    factor = (size + 1) // 2
    center = factor - 1 if size % 2 == 1 else factor - 0.5
    og = np.ogrid[:size, :size]
    return (1 - abs(og[0] - center) / factor) * (1 - abs(og[1] - center) / factor)


KERNEL_SIZES = [1, 2, 3, 4, 5, 7, 8, 16, 64]


@pytest.mark.parametrize("kernel_size", KERNEL_SIZES)
@pytest.mark.parametrize("channels", [1, 3, 21])
def test_kernel_equals_the_books(channels, kernel_size):
    torch.testing.assert_close(
        bilinear_kernel(channels, channels, kernel_size),
        book_bilinear_kernel(channels, channels, kernel_size),
        rtol=0,
        atol=0,
    )


@pytest.mark.parametrize("kernel_size", KERNEL_SIZES)
def test_kernel_is_fcn_filter_on_matching_channel_pairs(kernel_size):
    channels = 4
    weight = bilinear_kernel(channels, channels, kernel_size).double().numpy()
    filt = fcn_upsample_filt(kernel_size)
    for i in range(channels):
        for o in range(channels):
            expected = filt if i == o else np.zeros_like(filt)
            np.testing.assert_allclose(weight[i, o], expected, rtol=1e-6, atol=1e-7)


def test_kernel_hand_computed_values():
    tent4 = torch.tensor([0.25, 0.75, 0.75, 0.25])
    tent3 = torch.tensor([0.5, 1.0, 0.5])
    torch.testing.assert_close(bilinear_kernel(1, 1, 4)[0, 0], torch.outer(tent4, tent4))
    torch.testing.assert_close(bilinear_kernel(1, 1, 3)[0, 0], torch.outer(tent3, tent3))


def upsample_both_ways(factor, channels, height, width, seed=0):
    """Random image upsampled by ``bilinear_upsampler`` and by ``F.interpolate``, in float64."""
    generator = torch.Generator().manual_seed(seed)
    # Strictly positive pixels, so that every border pixel visibly differs (zeros would not).
    x = 0.1 + torch.rand(2, channels, height, width, generator=generator, dtype=torch.float64)
    layer = bilinear_upsampler(channels, factor).double()
    with torch.no_grad():
        by_conv = layer(x)
    by_interp = F.interpolate(x, scale_factor=factor, mode="bilinear", align_corners=False)
    return x, layer, by_conv, by_interp


# Odd factors have kernel values such as 1/3 that float32 weights only approximate.
TOLERANCE = 1e-6

SHAPES = [(1, 1, 1), (3, 2, 3), (1, 7, 5), (21, 10, 15)]
FACTORS = [1, 2, 3, 4, 5, 8, 32]


@pytest.mark.parametrize("channels,height,width", SHAPES)
@pytest.mark.parametrize("factor", FACTORS)
def test_equals_interpolate_exactly_away_from_border(factor, channels, height, width):
    _, _, by_conv, by_interp = upsample_both_ways(factor, channels, height, width)
    assert by_conv.shape == by_interp.shape == (2, channels, factor * height, factor * width)
    differs = ((by_conv - by_interp).abs() > TOLERANCE).any(dim=0).any(dim=0)
    border = torch.ones(factor * height, factor * width, dtype=torch.bool)
    margin = factor // 2
    border[margin : factor * height - margin, margin : factor * width - margin] = False
    assert torch.equal(differs, border)


@pytest.mark.parametrize("channels,height,width", SHAPES)
@pytest.mark.parametrize("factor", FACTORS)
def test_border_is_interpolation_of_zero_padded_image(factor, channels, height, width):
    # Beyond the edge the convolution sees zeros where F.interpolate repeats the edge pixel, so
    # it equals interpolation times the upsampled all-ones image (1 inside, < 1 at the border).
    x, layer, by_conv, by_interp = upsample_both_ways(factor, channels, height, width)
    with torch.no_grad():
        coverage = layer(torch.ones_like(x))
    torch.testing.assert_close(by_conv, by_interp * coverage, rtol=0, atol=TOLERANCE)


def test_fcn_layer_shape_and_weights():
    layer = bilinear_upsampler(21, 32)
    assert layer.kernel_size == (64, 64)
    assert layer.padding == (16, 16)
    assert layer.stride == (32, 32)
    assert layer.bias is None
    assert layer.weight.requires_grad
    torch.testing.assert_close(layer.weight.data, book_bilinear_kernel(21, 21, 64), rtol=0, atol=0)


@pytest.mark.parametrize("factor,kernel_size,padding", [(1, 1, 0), (2, 4, 1), (3, 5, 1), (5, 9, 2)])
def test_upsampler_geometry(factor, kernel_size, padding):
    layer = bilinear_upsampler(3, factor)
    assert layer.kernel_size == (kernel_size, kernel_size)
    assert layer.padding == (padding, padding)
    assert layer.stride == (factor, factor)


BAD_VALUES = [0, -2, 2.0, "4", True, None]


@pytest.mark.parametrize("value", BAD_VALUES)
@pytest.mark.parametrize("argument", ["in_channels", "out_channels", "kernel_size"])
def test_kernel_rejects_bad_arguments(argument, value):
    arguments = {"in_channels": 3, "out_channels": 3, "kernel_size": 4, argument: value}
    with pytest.raises(ValueError, match=f"^{argument} must be a positive integer, got"):
        bilinear_kernel(**arguments)


def test_kernel_rejects_unequal_channel_counts():
    with pytest.raises(ValueError, match="^out_channels must equal in_channels \\(3\\).*got 5$"):
        bilinear_kernel(3, 5, 4)


@pytest.mark.parametrize("value", BAD_VALUES)
@pytest.mark.parametrize("argument", ["channels", "factor"])
def test_upsampler_rejects_bad_arguments(argument, value):
    arguments = {"channels": 3, "factor": 2, argument: value}
    with pytest.raises(ValueError, match=f"^{argument} must be a positive integer, got"):
        bilinear_upsampler(**arguments)
