"""The book's FCN-32s (a ResNet-18 backbone, a 1x1 convolution, a 32x transposed convolution)
and the FCN paper's FCN-16s and FCN-8s, which add the scores of finer backbone stages."""

from pathlib import Path

import torch
import torchvision
from torch import nn
from torchvision.models import ResNet18_Weights

from .arguments import as_int
from .upsample import bilinear_kernel, bilinear_upsampler

WEIGHTS = ResNet18_Weights.IMAGENET1K_V1
VARIANTS = ("32s", "16s", "8s")


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


def fcn_resnet18(num_classes=21, pretrained="auto", variant="32s"):
    """FCN-32s as in the book: ResNet-18 without its pooling and classifier, `final_conv`
    (1x1, 512 -> num_classes channels, Xavier-initialised) and `transpose_conv` (kernel 64,
    padding 16, stride 32, initialised to bilinear upsampling), so H x W in gives H x W out
    for sides that are multiples of 32.

    variant: "32s" is that nn.Sequential (the book's model and state-dict keys); "16s" and
    "8s" wrap the same layers in a `SkipFCN` that also uses the stride-16 and stride-8
    features, as in the FCN paper.

    pretrained: True loads the ImageNet weights (error if unavailable), False starts from
    random weights, "auto" uses the weights when they are cached or downloadable and else
    says in one line that it starts from random weights."""
    if as_int(num_classes) is None or num_classes < 1:
        raise ValueError(f"num_classes must be a positive int, got {num_classes!r}")
    num_classes = as_int(num_classes)
    if pretrained not in (True, False, "auto"):
        raise ValueError(f'pretrained must be True, False or "auto", got {pretrained!r}')
    if variant not in VARIANTS:
        raise ValueError(
            f"variant must be one of {', '.join(map(repr, VARIANTS))}, got {variant!r}"
        )
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
    return net if variant == "32s" else SkipFCN(net, variant)


def num_classes_of(net):
    """How many classes an FCN built by `fcn_resnet18` predicts."""
    return net.final_conv.out_channels


def variant_of(net):
    """Which FCN variant ("32s", "16s" or "8s") a net built by `fcn_resnet18` is."""
    return net.variant if isinstance(net, SkipFCN) else "32s"


def _zero_conv1x1(in_channels, out_channels):
    """A 1x1 convolution that outputs zeros until trained: adding its scores to the coarser
    ones changes nothing at first, so training starts from the coarser net's predictions."""
    conv = nn.Conv2d(in_channels, out_channels, kernel_size=1)
    nn.init.zeros_(conv.weight)
    nn.init.zeros_(conv.bias)
    return conv


class SkipFCN(nn.Module):
    """FCN-16s or FCN-8s (Long et al., 2015, section 4.2) on the layers of an FCN-32s.

    The stride-32 scores (`final_conv` on layer4) are upsampled 2x by a learnable transposed
    convolution initialised bilinear (`up_to_16`) and added to the scores of a 1x1 convolution
    on layer3 (`score_16`, 256 channels, stride 16); FCN-8s repeats this once more with layer2
    (`up_to_8`, `score_8`, 128 channels, stride 8). The skip scores start at zero. The fused
    scores are upsampled 16x or 8x to the input size (`transpose_conv`, initialised bilinear).
    For sides that are multiples of 32 every stage has exactly half the size of the one before,
    so the sums line up pixel for pixel; other sizes are refused."""

    def __init__(self, fcn32s, variant):
        super().__init__()
        if variant not in ("16s", "8s"):
            raise ValueError(f'SkipFCN variant must be "16s" or "8s", got {variant!r}')
        self.variant = variant
        self.backbone = fcn32s[:8]  # ResNet-18's stem and layer1..layer4, shared with fcn32s
        self.final_conv = fcn32s.final_conv
        num_classes = self.final_conv.out_channels
        self.up_to_16 = bilinear_upsampler(num_classes, 2)
        self.score_16 = _zero_conv1x1(256, num_classes)
        if variant == "8s":
            self.up_to_8 = bilinear_upsampler(num_classes, 2)
            self.score_8 = _zero_conv1x1(128, num_classes)
        self.transpose_conv = bilinear_upsampler(num_classes, 16 if variant == "16s" else 8)

    def forward(self, X):
        height, width = X.shape[-2:]
        if height % 32 or width % 32:
            raise ValueError(
                f"FCN-{self.variant} needs input sides that are multiples of 32, got "
                f"{height}x{width}; crop or pad the input (predict_whole_image does it)"
            )
        features = {}
        for name, layer in self.backbone.named_children():
            X = layer(X)
            features[name] = X
        scores = self.up_to_16(self.final_conv(X)) + self.score_16(features["6"])  # layer3
        if self.variant == "8s":
            scores = self.up_to_8(scores) + self.score_8(features["5"])  # layer2
        return self.transpose_conv(scores)
