"""Mixed precision: what `auto` picks on each device, and every mode this CPU runs trains."""

import copy
import sys

import pytest
import torch

import d2lseg
from d2lseg import amp, train
from d2lseg.subpixel import SubpixelConvTranspose2d

CPU, MPS, CUDA = torch.device("cpu"), torch.device("mps"), torch.device("cuda", 0)


@pytest.mark.parametrize(
    ("flags", "expected"),
    [("fpu sse avx512f avx512_bf16 amx_tile", True), ("fpu amx_bf16", True),
     ("fpu sse avx512f avx512_vnni", False)],
)  # fmt: skip
def test_bf16_cpus_are_told_by_their_flags(tmp_path, monkeypatch, flags, expected):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(f"processor\t: 0\nflags\t\t: {flags}\n\nprocessor\t: 1\n")
    monkeypatch.setattr(sys, "platform", "linux")
    assert amp.cpu_has_fast_bf16(cpuinfo) is expected
    monkeypatch.setattr(amp, "cpu_has_fast_bf16", lambda: expected)
    assert amp.resolve_amp("auto", CPU) == ("bf16" if expected else "off")


def test_auto_on_gpus_and_mps(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: True)
    assert amp.resolve_amp("auto", CUDA) == "bf16"
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: False)
    assert amp.resolve_amp("auto", CUDA) == "fp16"
    assert amp.resolve_amp("auto", MPS) == "off"
    assert amp.resolve_amp("off", CUDA) == "off"


def test_fp16_alone_has_a_gradient_scaler_and_autocast_gives_its_dtype():
    for mode, dtype, scaled in (("off", torch.float32, False), ("bf16", torch.bfloat16, False),
                                ("fp16", torch.float16, True)):  # fmt: skip
        precision = amp.precision_for(mode, CPU)
        assert precision.scaler.is_enabled() is scaled
        with precision.autocast():
            assert (torch.ones(2, 2) @ torch.ones(2, 2)).dtype == dtype


def test_unknown_mode_is_refused():
    with pytest.raises(ValueError, match="amp must be one of auto, off, bf16, fp16, got 'fp8'"):
        amp.resolve_amp("fp8", CPU)


@pytest.mark.parametrize("mode", ["off", "bf16", "fp16", "auto"])
def test_every_mode_the_cpu_runs_lowers_the_loss(mode):
    """Steps on one batch with our step and optimizer: the loss falls, in every mode (fp16
    first skips the steps whose scaled gradients overflow, and lowers its scale)."""
    precision = amp.precision_for(mode, CPU)
    torch.manual_seed(0)
    net = precision.prepare(d2lseg.fcn_resnet18(num_classes=3, pretrained=False))
    X, y = torch.randn(2, 3, 64, 64), torch.randint(0, 3, (2, 64, 64))
    X = precision.layout(X)
    optimizer = torch.optim.AdamW(net.parameters(), lr=1e-4)
    losses = [train.train_step(net, X, y, train.pixel_loss, optimizer, precision)[1].item()
              for _ in range(8)]  # fmt: skip
    assert all(torch.isfinite(torch.tensor(losses)))
    assert losses[-1] < 0.85 * losses[0], losses
    if precision.dtype == torch.float16:
        assert precision.scaler.get_scale() < 2.0**16  # its initial scale


def test_on_the_cpu_the_x32_upsampling_is_subpixel_in_bf16_and_the_x2_ones_float32():
    """bf16 transposed convolutions are ~20x slower than float32 ones in oneDNN on the CPU;
    the sub-pixel form of the x32 upsampling is a matrix product that bf16 runs fast."""
    net = d2lseg.fcn_resnet18(num_classes=3, pretrained=False, variant="16s").eval()
    keys = list(net.state_dict())
    precision = amp.precision_for("bf16", CPU)
    precision.prepare(net)
    assert list(net.state_dict()) == keys
    assert type(net.up_to_16) is amp.Float32ConvTranspose2d
    with torch.no_grad(), precision.autocast():
        scores = net.final_conv(net.backbone(torch.randn(1, 3, 64, 64)))
        doubled = net.up_to_16(scores)
        out = net.transpose_conv(doubled)
    assert scores.dtype == torch.bfloat16 and doubled.dtype == torch.float32
    assert out.dtype == torch.bfloat16
    upsampling = net.transpose_conv
    expected = torch.nn.functional.conv_transpose2d(
        doubled, upsampling.weight, upsampling.bias, stride=16, padding=8
    )
    torch.testing.assert_close(out.float(), expected, rtol=0.02, atol=0.02)


def test_full_precision_on_the_cpu_upsamples_by_subpixel_but_not_in_the_notebooks():
    """`--amp off` on the CPU: the x32 upsampling is a sub-pixel convolution in float32, with
    channels-last activations, and computes what the transposed convolution computes;
    FULL_PRECISION (the notebooks' default) leaves the network as the notebooks teach it."""
    torch.manual_seed(0)
    plain = d2lseg.fcn_resnet18(num_classes=3, pretrained=False).eval()
    off = amp.precision_for("off", CPU)
    assert off.dtype is None and off.channels_last and off.subpixel
    fast = off.prepare(copy.deepcopy(plain))
    assert type(fast.transpose_conv) is SubpixelConvTranspose2d
    X = torch.randn(2, 3, 64, 96)
    with torch.no_grad():
        torch.testing.assert_close(fast(off.layout(X)), plain(X), rtol=1e-4, atol=1e-4)
    kept = amp.FULL_PRECISION.prepare(copy.deepcopy(plain))
    assert type(kept.transpose_conv) is torch.nn.ConvTranspose2d
    assert [str(amp.FULL_PRECISION), str(off)] == [
        "fp32", "fp32, channels_last, sub-pixel upsampling"]  # fmt: skip


@pytest.mark.parametrize("output_size", [None, (11, 12)])
def test_float32_upsampling_equals_conv_transpose2d_in_any_layout(output_size):
    """The float32 transposed convolution computes on NCHW copies of channels-last inputs and
    weights (oneDNN's float32 kernel is faster so): values, gradients and `output_size` are
    those of `F.conv_transpose2d`."""
    torch.manual_seed(0)
    layer = amp.Float32ConvTranspose2d(4, 3, kernel_size=4, stride=2, padding=1)
    layer.to(memory_format=torch.channels_last)
    X = torch.randn(2, 4, 5, 6).to(memory_format=torch.channels_last).requires_grad_()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = layer(X, output_size=output_size)
    weight = layer.weight.detach().clone().requires_grad_()
    X_ref = X.detach().clone().requires_grad_()
    padding = (1, 0) if output_size else (0, 0)
    expected = torch.nn.functional.conv_transpose2d(
        X_ref, weight, layer.bias, stride=2, padding=1, output_padding=padding
    )
    assert out.dtype == torch.float32 and out.shape == expected.shape
    torch.testing.assert_close(out, expected)
    grad = torch.randn_like(expected)
    out.backward(grad)
    expected.backward(grad)
    torch.testing.assert_close(X.grad, X_ref.grad)
    torch.testing.assert_close(layer.weight.grad, weight.grad)


def test_batch_sums_count_argmax_hits_ties_included():
    """`_batch_sums` takes `max(dim=1).indices` for speed: the same pixels as argmax, even
    where classes tie (integer logits, many ties), void pixels left out."""
    torch.manual_seed(0)
    logits = torch.randint(0, 3, (4, 5, 16, 16)).float()
    y = torch.randint(0, 5, (4, 16, 16))
    y[0, :4] = d2lseg.VOID_LABEL
    loss = torch.tensor(0.5)
    mask = y != d2lseg.VOID_LABEL
    correct = (logits.argmax(dim=1) == y)[mask].sum().item()
    sums = train._batch_sums(logits, y, loss)
    assert sums.tolist() == [0.5 * mask.sum().item(), correct, mask.sum().item(), 4]
