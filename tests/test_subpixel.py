"""The sub-pixel form of a transposed convolution: the values and gradients of
`F.conv_transpose2d`, in every FCN variant, with the same parameters and state-dict keys."""

import copy

import pytest
import torch
import torch.nn.functional as F

import d2lseg
from d2lseg import amp
from d2lseg.subpixel import SubpixelConvTranspose2d, use_subpixel

# (in, out, kernel, stride, padding, output_padding, input height, width): the FCN's x32, x16,
# x8 and x2 (as `bilinear_upsampler` and `fcn_resnet18` build them), an odd factor, kernels
# shorter than the stride, no padding, padding beyond a stride, output_padding.
CASES = [
    (3, 3, 64, 32, 16, 0, 2, 3),
    (4, 4, 32, 16, 8, 0, 3, 2),
    (2, 3, 16, 8, 4, 0, 4, 5),
    (3, 2, 4, 2, 1, 0, 5, 7),
    (2, 2, 5, 3, 1, 1, 4, 3),
    (2, 3, 2, 3, 0, 2, 3, 4),
    (3, 2, 6, 2, 0, 1, 1, 6),
    (1, 2, 9, 2, 5, 1, 6, 5),
]


def _compare(layer, X, output_size=None):
    """The layer's output and gradients (input, weight, bias) against `F.conv_transpose2d`."""
    X_ref = X.detach().clone().requires_grad_()
    weight = layer.weight.detach().clone().requires_grad_()
    bias = None if layer.bias is None else layer.bias.detach().clone().requires_grad_()
    out = layer(X, output_size=output_size)
    output_padding = layer._output_padding(X, output_size, layer.stride, layer.padding,
                                           layer.kernel_size, 2, layer.dilation)  # fmt: skip
    expected = F.conv_transpose2d(X_ref, weight, bias, layer.stride, layer.padding,
                                  output_padding, layer.groups, layer.dilation)  # fmt: skip
    assert out.shape == expected.shape
    torch.testing.assert_close(out, expected, rtol=1e-12, atol=1e-12)
    grad = torch.randn_like(expected)
    out.backward(grad)
    expected.backward(grad)
    torch.testing.assert_close(X.grad, X_ref.grad, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(layer.weight.grad, weight.grad, rtol=1e-12, atol=1e-12)
    if bias is not None:
        torch.testing.assert_close(layer.bias.grad, bias.grad, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("channels_last", [False, True])
def test_values_and_gradients_are_those_of_conv_transpose2d(case, channels_last):
    c_in, c_out, kernel, stride, padding, output_padding, height, width = case
    torch.manual_seed(sum(case))
    layer = SubpixelConvTranspose2d(c_in, c_out, kernel, stride, padding, output_padding,
                                    bias=bool(stride % 2), dtype=torch.float64)  # fmt: skip
    X = torch.randn(2, c_in, height, width, dtype=torch.float64)
    if channels_last:
        layer.to(memory_format=torch.channels_last)
        X = X.to(memory_format=torch.channels_last)
    _compare(layer, X.requires_grad_())


@pytest.mark.parametrize("extra", [(0, 0), (1, 0), (0, 3), (7, 5)])
def test_output_size(extra):
    """`output_size` picks the output padding (up to stride - 1 extra rows and columns)."""
    torch.manual_seed(0)
    layer = SubpixelConvTranspose2d(3, 2, 16, stride=8, padding=4, dtype=torch.float64)
    X = torch.randn(1, 3, 3, 4, dtype=torch.float64, requires_grad=True)
    size = (3 * 8 + extra[0], 4 * 8 + extra[1])
    _compare(layer, X, output_size=size)
    assert layer(X, output_size=size).shape[-2:] == size


def test_layers_without_the_form_compute_as_transposed_convolutions():
    torch.manual_seed(0)
    for options in ({"groups": 2}, {"dilation": 2}, {"stride": (2, 3)}, {"padding": (1, 2)}):
        layer = SubpixelConvTranspose2d(4, 4, 4, **{"stride": 2, **options}, dtype=torch.float64)
        _compare(layer, torch.randn(1, 4, 5, 5, dtype=torch.float64, requires_grad=True))


@pytest.mark.parametrize("variant", d2lseg.model.VARIANTS)
def test_every_variant_computes_the_same_with_the_same_state_dict(variant):
    """`use_subpixel` swaps the x8..x32 upsampling of every variant (not the x2 layers) and
    keeps parameters and keys: outputs and every parameter's gradient equal the
    transposed-convolution net's, in float64."""
    torch.manual_seed(0)
    net = d2lseg.fcn_resnet18(num_classes=3, pretrained=False, variant=variant).double()
    for name, param in net.named_parameters():  # random, and nonzero skip scores
        if "transpose_conv" in name or "up_to" in name or "score" in name:
            param.data.normal_()
    fast = use_subpixel(copy.deepcopy(net))
    assert type(fast.transpose_conv) is SubpixelConvTranspose2d
    assert all(type(getattr(fast, n)) is torch.nn.ConvTranspose2d
               for n in ("up_to_16", "up_to_8") if hasattr(fast, n))  # fmt: skip
    assert list(fast.state_dict()) == list(net.state_dict())
    X = torch.randn(2, 3, 64, 96, dtype=torch.float64)
    out, expected = fast(X), net(X)
    torch.testing.assert_close(out, expected, rtol=1e-10, atol=1e-10)
    grad = torch.randn_like(out)
    out.backward(grad)
    expected.backward(grad)
    for (name, p), q in zip(fast.named_parameters(), net.parameters(), strict=True):
        torch.testing.assert_close(p.grad, q.grad, rtol=1e-9, atol=1e-9, msg=name)


def test_checkpoints_load_both_ways(tmp_path):
    """A state dict saved from the book's layers loads into a prepared net, and back."""
    torch.manual_seed(0)
    plain = d2lseg.fcn_resnet18(num_classes=3, pretrained=False, variant="8s")
    torch.save(plain.state_dict(), tmp_path / "plain.pt")
    prepared = amp.precision_for("bf16", torch.device("cpu")).prepare(
        d2lseg.fcn_resnet18(num_classes=3, pretrained=False, variant="8s")
    )
    prepared.load_state_dict(torch.load(tmp_path / "plain.pt", weights_only=True))
    torch.testing.assert_close(prepared.transpose_conv.weight, plain.transpose_conv.weight)
    again = d2lseg.fcn_resnet18(num_classes=3, pretrained=False, variant="8s")
    again.load_state_dict(prepared.state_dict())
