"""A transposed convolution computed as an ordinary convolution plus a pixel shuffle.

With stride s and a kernel of at most T*s taps a side, output pixel s*q + r (before the
padding is cut off) receives input pixels q, q-1, ..., q-T+1 through kernel taps r, s+r, ...,
(T-1)*s+r. So the s*s output phases r are an ordinary T x T convolution over the coarse map
with C_out*s*s output channels, and `pixel_shuffle` interleaves them (Shi et al., CVPR 2016;
Shi et al. 2016, "Is the deconvolution layer the same as a convolutional layer?"). Same
weights, same result; one dense matrix product instead of a scatter, which bf16 runs at full
speed on the CPU: the FCN's 64 x 64, stride-32 upsampling is ~20x slower in oneDNN's bf16
transposed-convolution kernel than in float32.
"""

import torch
import torch.nn.functional as F
from torch import nn


def subpixel_weight(weight, stride):
    """The matrix (C_out*s*s, C_in*T*T) that maps a T x T patch of the coarse map to the s x s
    output pixels of its last coarse position, for a transposed convolution of `weight`
    (C_in, C_out, k, k) with stride s: tap t of phase r is kernel entry t*s + r, the taps taken
    in reverse order (a convolution slides the other way). Rows are ordered (C_out, r_h, r_w)
    and columns (C_in, t_h, t_w)."""
    c_in, c_out, k_h, k_w = weight.shape
    taps = -(-max(k_h, k_w) // stride)
    padded = F.pad(weight, (0, taps * stride - k_w, 0, taps * stride - k_h))
    phases = padded.reshape(c_in, c_out, taps, stride, taps, stride)  # ci co th rh tw rw
    phases = phases.flip(2, 4).permute(1, 3, 5, 0, 2, 4)  # co rh rw ci th tw
    return phases.reshape(c_out * stride * stride, c_in * taps * taps), taps


def _coarse_range(stride, padding, out_size):
    """First and last coarse position q whose phases cover output rows padding ..
    padding + out_size - 1 of the uncropped output."""
    return padding // stride, (padding + out_size - 1) // stride


def subpixel_conv_transpose2d(x, weight, bias, stride, padding, output_size):
    """`F.conv_transpose2d(x, weight, bias, stride, padding, output_padding)` (square stride,
    groups 1, dilation 1) with output sides `output_size`, by a convolution and a pixel shuffle.

    The convolution is computed as one matrix product of the T x T patches with
    `subpixel_weight`: oneDNN's convolution kernels handle a 2 x 2 kernel with 21504 output
    channels on a 5 x 5 map poorly (its backward especially), its matrix product well."""
    matrix, taps = subpixel_weight(weight, stride)
    (top, bottom), (left, right) = (_coarse_range(stride, padding, n) for n in output_size)
    # Coarse rows first - taps + 1 .. last are read; F.pad crops where its padding is negative.
    height, width = x.shape[-2:]
    x = F.pad(x, (taps - 1 - left, right - width + 1, taps - 1 - top, bottom - height + 1))
    rows, cols = bottom - top + 1, right - left + 1
    shifted = [x[..., i : i + rows, j : j + cols] for i in range(taps) for j in range(taps)]
    patches = torch.stack(shifted, dim=-1).permute(0, 2, 3, 1, 4)  # N rows cols C_in T*T
    patches = patches.reshape(x.shape[0], rows * cols, -1)
    phase_bias = None if bias is None else bias.repeat_interleave(stride * stride)
    phases = F.linear(patches, matrix, phase_bias)  # N, rows*cols, C_out*s*s
    c_out = matrix.shape[0] // (stride * stride)
    out = phases.reshape(-1, rows, cols, c_out, stride, stride).permute(0, 3, 1, 4, 2, 5)
    out = out.reshape(-1, c_out, rows * stride, cols * stride)
    row, col = padding - stride * top, padding - stride * left
    return out[..., row : row + output_size[0], col : col + output_size[1]]


# Measured on a 2-core AVX512-BF16 CPU shared with other jobs (forward and backward, batch 16,
# 21 classes): the sub-pixel form is faster for the FCN's x8, x16 and x32 upsampling (x32: some
# 1.8x in bf16 against the float32 transposed convolution it replaces), slower for x2.
MIN_STRIDE = 8


def _has_subpixel_form(layer):
    """Whether `layer`'s forward can be the sub-pixel convolution: square stride and padding,
    groups 1, dilation 1, zero padding."""
    (s_h, s_w), (p_h, p_w) = layer.stride, layer.padding
    return (s_h == s_w >= 2 and p_h == p_w and layer.groups == 1 and layer.dilation == (1, 1)
            and layer.padding_mode == "zeros")  # fmt: skip


class SubpixelConvTranspose2d(nn.ConvTranspose2d):
    """`nn.ConvTranspose2d` (same parameters, state-dict keys and results) whose forward is
    the sub-pixel convolution where the layer has that form, the ordinary one elsewhere."""

    def forward(self, input, output_size=None):
        if not _has_subpixel_form(self):
            return super().forward(input, output_size)
        output_padding = self._output_padding(input, output_size, self.stride, self.padding,
                                              self.kernel_size, 2, self.dilation)  # fmt: skip
        stride, padding = self.stride[0], self.padding[0]
        sides = [
            (input.shape[d] - 1) * stride - 2 * padding + self.kernel_size[i] + output_padding[i]
            for i, d in ((0, -2), (1, -1))
        ]
        return subpixel_conv_transpose2d(input, self.weight, self.bias, stride, padding, sides)


def use_subpixel(net, min_stride=MIN_STRIDE):
    """`net`, in place, with every `nn.ConvTranspose2d` of stride `min_stride` or more that has
    the sub-pixel form computing as a `SubpixelConvTranspose2d` (its class changed;
    parameters and state-dict keys unchanged)."""
    for module in net.modules():
        if (type(module) is nn.ConvTranspose2d and _has_subpixel_form(module)
                and module.stride[0] >= min_stride):  # fmt: skip
            module.__class__ = SubpixelConvTranspose2d
    return net
