"""Mixed precision: which one a device runs well, and the pieces a training step needs.

`--amp auto` picks bf16 autocast on a CPU with native bf16 instructions (AVX512-BF16 or AMX),
bf16 on a CUDA GPU that supports it, else fp16 with a gradient scaler on CUDA, and full
precision everywhere else (older CPUs emulate bf16 slowly; MPS is left alone). Activations in
the channels-last memory layout come with autocast: PyTorch's channels-last tutorial
recommends them for mixed precision on tensor-core GPUs, and on a 2-core CPU they are a little
faster too (55 against 54 images/s in bf16: benchmarks/train_speed.py). On the CPU the
command line's precisions (`precision_for`) compute the FCN's x8 to x32 upsampling as a
sub-pixel convolution (`subpixel`): in bf16 because oneDNN's bf16 transposed-convolution
kernel for the 64 x 64 upsampling kernel is some 20 times slower than its float32 one (the
sub-pixel form's matrix product is not), and in full precision, with channels-last
activations, because it is faster there too; the small x2 transposed convolutions of
FCN-16s/8s stay transposed convolutions, in float32. `FULL_PRECISION`, the notebooks' default,
computes as they teach: transposed convolutions, NCHW.
"""

import sys
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from .subpixel import use_subpixel

AMP_MODES = ("auto", "off", "bf16", "fp16")
DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}
BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")


def cpu_has_fast_bf16(cpuinfo="/proc/cpuinfo"):
    """Whether the CPU computes bf16 natively (AVX512-BF16 or AMX-BF16), read from the Linux
    CPU flags; elsewhere (macOS, Windows) False, so `auto` stays in full precision."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        text = Path(cpuinfo).read_text()
    except OSError:
        return False
    flags = {f for line in text.splitlines() if line.startswith("flags") for f in line.split()}
    return any(flag in flags for flag in BF16_CPU_FLAGS)


def resolve_amp(mode, device):
    """The precision, "off", "bf16" or "fp16", that `mode` (one of AMP_MODES) means on
    `device`. Explicit modes the device cannot run are a ValueError."""
    if mode not in AMP_MODES:
        raise ValueError(f"amp must be one of {', '.join(AMP_MODES)}, got {mode!r}")
    kind = device.type
    if mode == "auto":
        if kind == "cuda":
            return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
        return "bf16" if kind == "cpu" and cpu_has_fast_bf16() else "off"
    if mode != "off" and not torch.amp.is_autocast_available(kind):
        raise ValueError(f"--amp {mode} is not available on {kind}; use --amp off")
    if mode == "bf16" and kind == "cuda" and not torch.cuda.is_bf16_supported():
        raise ValueError(f"this GPU ({torch.cuda.get_device_name(device)}) has no bf16; "
                         "use --amp fp16 or --amp auto")  # fmt: skip
    return mode


class Float32ConvTranspose2d(nn.ConvTranspose2d):
    """A transposed convolution that computes in float32 even under autocast (same weights,
    same state_dict keys), on contiguous (NCHW) tensors: oneDNN's float32 kernel for the FCN's
    upsampling takes 85 ms forward and backward that way against 120 ms in channels_last."""

    def forward(self, input, output_size=None):
        output_padding = self._output_padding(input, output_size, self.stride, self.padding,
                                              self.kernel_size, 2, self.dilation)  # fmt: skip
        with torch.autocast(input.device.type, enabled=False):
            return F.conv_transpose2d(input.float().contiguous(), self.weight.contiguous(),
                                      self.bias, self.stride, self.padding, output_padding,
                                      self.groups, self.dilation)  # fmt: skip


@dataclass
class Precision:
    """How a step computes: autocast dtype (None: full precision), a gradient scaler (on only
    for fp16, whose small gradients would otherwise underflow to zero), the memory layout, and
    whether the large upsampling layers compute as sub-pixel convolutions (on the CPU; always
    under autocast there)."""

    device_type: str = "cpu"
    dtype: torch.dtype | None = None
    channels_last: bool = False
    subpixel: bool = False
    scaler: torch.amp.GradScaler = field(init=False)

    def __post_init__(self):
        enabled = self.dtype == torch.float16
        self.scaler = torch.amp.GradScaler(self.device_type, enabled=enabled)

    def autocast(self):
        """A context in which eligible operations (convolutions, matrix products) run in
        `dtype`; precision-sensitive ones such as the loss stay in float32."""
        return torch.autocast(self.device_type, dtype=self.dtype, enabled=self.dtype is not None)

    def layout(self, x):
        """`x` (a batch or a model) in the memory layout the step computes in."""
        return x.to(memory_format=torch.channels_last) if self.channels_last else x

    def prepare(self, net):
        """`net`, in place, ready to train in this precision: in the memory layout; on the
        CPU with `subpixel` or under autocast, with its large upsampling layers computing as
        sub-pixel convolutions, and under autocast its other transposed convolutions in
        float32 (see the module's doc)."""
        if self.device_type == "cpu" and (self.subpixel or self.dtype is not None):
            use_subpixel(net)
        if self.dtype is not None and self.device_type == "cpu":
            for module in net.modules():
                if type(module) is nn.ConvTranspose2d:
                    module.__class__ = Float32ConvTranspose2d
        return self.layout(net)

    def __str__(self):
        name = {None: "fp32", torch.bfloat16: "bf16", torch.float16: "fp16"}[self.dtype]
        layout = ", channels_last" if self.channels_last else ""
        return name + layout + (", sub-pixel upsampling" if self.subpixel else "")


FULL_PRECISION = Precision()


def precision_for(mode, device):
    """The `Precision` for an --amp mode on `device`: on the CPU, full precision too computes
    with channels-last activations and sub-pixel upsampling (faster there:
    benchmarks/train_speed.py)."""
    resolved = resolve_amp(mode, device)
    cpu = device.type == "cpu"
    if resolved == "off":
        return Precision(device.type, channels_last=cpu, subpixel=cpu)
    layout = device.type in ("cpu", "cuda")
    return Precision(device.type, DTYPES[resolved], channels_last=layout, subpixel=cpu)
