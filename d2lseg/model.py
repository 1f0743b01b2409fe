"""The book's FCN-32s: a ResNet-18 backbone, a 1x1 convolution, a 32x transposed convolution."""

import numbers
from pathlib import Path

import torch
import torchvision
from torch import nn
from torchvision.models import ResNet18_Weights

from .upsample import bilinear_kernel

WEIGHTS = ResNet18_Weights.IMAGENET1K_V1


def _pretrained_resnet18():
    """torchvision's ImageNet ResNet-18 from the torch hub cache, downloaded into it first
    if missing (to a temporary file, renamed when complete; torchvision checks its hash)."""
    cached = Path(torch.hub.get_dir()) / "checkpoints" / Path(WEIGHTS.url).name
    if not cached.is_file():
        cached.parent.mkdir(parents=True, exist_ok=True)
        torch.hub.download_url_to_file(WEIGHTS.url, str(cached))
    return torchvision.models.resnet18(weights=WEIGHTS)


def _weights_help():
    cache = f"{torch.hub.get_dir()}/checkpoints/"
    return f"download {WEIGHTS.url} on a machine with internet access and copy it into {cache}"


def fcn_resnet18(num_classes=21, pretrained="auto"):
    """FCN-32s as in the book: ResNet-18 without its pooling and classifier, `final_conv`
    (1x1, 512 -> num_classes channels, Xavier-initialised) and `transpose_conv` (kernel 64,
    padding 16, stride 32, initialised to bilinear upsampling), so H x W in gives H x W out
    for sides that are multiples of 32.

    pretrained: True loads the ImageNet weights (error if unavailable), False starts from
    random weights, "auto" uses the weights when they are cached or downloadable and else
    says in one line that it starts from random weights."""
    if isinstance(num_classes, bool) or not isinstance(num_classes, numbers.Integral):
        raise ValueError(f"num_classes must be a positive int, got {num_classes!r}")
    if num_classes < 1:
        raise ValueError(f"num_classes must be a positive int, got {num_classes!r}")
    num_classes = int(num_classes)
    if pretrained not in (True, False, "auto"):
        raise ValueError(f'pretrained must be True, False or "auto", got {pretrained!r}')
    if pretrained is False:
        backbone = torchvision.models.resnet18(weights=None)
    else:
        try:
            backbone = _pretrained_resnet18()
        except OSError as err:  # URLError and friends: offline, blocked, or no space
            if pretrained is True:
                raise RuntimeError(
                    f"ImageNet weights for ResNet-18 are not available ({err}); "
                    f"{_weights_help()}, or use pretrained=False"
                ) from err
            print(
                "fcn_resnet18: ImageNet weights are neither cached nor downloadable here, "
                "so the backbone starts from random weights"
            )
            backbone = torchvision.models.resnet18(weights=None)
    net = nn.Sequential(*list(backbone.children())[:-2])
    net.add_module("final_conv", nn.Conv2d(512, num_classes, kernel_size=1))
    net.add_module(
        "transpose_conv",
        nn.ConvTranspose2d(num_classes, num_classes, kernel_size=64, padding=16, stride=32),
    )
    nn.init.xavier_uniform_(net.final_conv.weight)
    nn.init.zeros_(net.final_conv.bias)
    with torch.no_grad():
        net.transpose_conv.weight.copy_(bilinear_kernel(num_classes, num_classes, 64))
        net.transpose_conv.bias.zero_()
    return net


def num_classes_of(net):
    """How many classes an FCN built by `fcn_resnet18` predicts."""
    return net.final_conv.out_channels
