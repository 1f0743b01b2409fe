"""Bilinear upsampling as a transposed convolution, the way an FCN initialises its last layer.

A transposed convolution with stride ``s`` scatters every input pixel onto the output through its
kernel. If the kernel is the bilinear "tent" filter, each output pixel receives exactly the
bilinear-interpolation weights of its nearest input pixels (D2L section 14.11, FCN paper's
``upsample_filt``).
"""

import torch
from torch import nn

from .arguments import as_int


def _check_positive_int(name, value):
    if as_int(value) is None or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")


def bilinear_kernel(in_channels, out_channels, kernel_size):
    """Transposed-convolution weight of shape (in, out, k, k) that upsamples bilinearly.

    The 2-D filter is the outer product of the tent ``1 - |i - center| / factor`` with
    ``factor = (kernel_size + 1) // 2`` and ``center`` the middle of the kernel: the values of
    the book and of the FCN paper, for odd and even sizes. It sits on the pairs (channel c ->
    channel c), so every channel is upsampled on its own. The book's code fails unless the two
    channel counts are equal, so unequal counts are refused.
    """
    _check_positive_int("in_channels", in_channels)
    _check_positive_int("out_channels", out_channels)
    _check_positive_int("kernel_size", kernel_size)
    if out_channels != in_channels:
        raise ValueError(
            f"out_channels must equal in_channels ({in_channels}) so that every channel is "
            f"upsampled on its own, got {out_channels}"
        )
    factor = (kernel_size + 1) // 2
    center = (kernel_size - 1) / 2  # the book's factor - 1 (odd size) or factor - 0.5 (even size)
    tent = 1 - torch.abs(torch.arange(kernel_size) - center) / factor
    weight = torch.zeros(in_channels, out_channels, kernel_size, kernel_size)
    channels = torch.arange(in_channels)
    weight[channels, channels] = torch.outer(tent, tent)
    return weight


def bilinear_upsampler(channels, factor):
    """A ``ConvTranspose2d`` that upsamples height and width ``factor`` times, bilinearly.

    Kernel ``2 * factor``, padding ``factor // 2``, stride ``factor`` (the book's rule). For an odd
    factor the padding ``factor / 2`` is not an integer, so the kernel shrinks to
    ``2 * factor - 1`` (as in the FCN paper's code); the output is still exactly ``factor`` times
    the input. There is no bias, and the weights stay trainable. The result equals
    ``F.interpolate(x, scale_factor=factor, mode="bilinear", align_corners=False)`` except in the
    ``factor // 2`` outermost rows and columns, where the convolution sees zeros beyond the edge
    while ``F.interpolate`` repeats the edge pixel.
    """
    _check_positive_int("channels", channels)
    _check_positive_int("factor", factor)
    kernel_size = 2 * factor - factor % 2
    layer = nn.ConvTranspose2d(
        channels, channels, kernel_size, stride=factor, padding=factor // 2, bias=False
    )
    with torch.no_grad():
        layer.weight.copy_(bilinear_kernel(channels, channels, kernel_size))
    return layer
