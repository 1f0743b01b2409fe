"""FCN-16s and FCN-8s: shapes, initialisation, alignment, gradients, and FCN-32s unchanged."""

import pytest
import torch
import torch.nn.functional as F
import torchvision
from torch import nn

import d2lseg
from d2lseg.checkpoint import save_checkpoint
from d2lseg.model import SkipFCN, num_classes_of, variant_of

SIZES = [(64, 96), (128, 128), (224, 352), (320, 480)]


def fcn(variant, num_classes=5, seed=0):
    torch.manual_seed(seed)
    return d2lseg.fcn_resnet18(num_classes, pretrained=False, variant=variant)


@pytest.mark.parametrize("variant", ["32s", "16s", "8s"])
def test_output_has_the_input_size(variant):
    net = fcn(variant).eval()
    assert variant_of(net) == variant and num_classes_of(net) == 5
    with torch.no_grad():
        for height, width in SIZES:
            assert net(torch.rand(1, 3, height, width)).shape == (1, 5, height, width)


@pytest.mark.parametrize("variant", ["16s", "8s"])
@pytest.mark.parametrize("size", [(100, 128), (128, 80), (33, 33)])
def test_sides_not_multiples_of_32_are_refused(variant, size):
    net = fcn(variant)
    message = rf"FCN-{variant} needs input sides that are multiples of 32, got {size[0]}x{size[1]}"
    with pytest.raises(ValueError, match=message):
        net(torch.rand(1, 3, *size))


def test_unknown_variant_names_the_choices():
    with pytest.raises(ValueError, match=r"variant must be one of '32s', '16s', '8s', got '4s'"):
        d2lseg.fcn_resnet18(pretrained=False, variant="4s")


def test_32s_is_the_books_sequential_with_the_same_keys():
    net = fcn("32s")
    assert type(net) is nn.Sequential
    # torchvision's ResNet-18 without avgpool and fc, its children numbered 0..7 as in the book.
    children = {"conv1": "0", "bn1": "1", "layer1": "4", "layer2": "5", "layer3": "6"}
    children["layer4"] = "7"
    resnet = torchvision.models.resnet18(weights=None).state_dict()
    expected = [
        children[key.split(".")[0]] + key[key.index(".") :]
        for key in resnet
        if not key.startswith("fc.")
    ]
    expected += ["final_conv.weight", "final_conv.bias"]
    expected += ["transpose_conv.weight", "transpose_conv.bias"]
    assert list(net.state_dict()) == expected


@pytest.mark.parametrize("variant", ["16s", "8s"])
def test_skips_start_at_zero_and_upsamplers_bilinear(variant):
    net = fcn(variant, num_classes=3)
    skips = [net.score_16] + ([net.score_8] if variant == "8s" else [])
    for conv in skips:
        assert not conv.weight.any() and not conv.bias.any()
    assert torch.equal(net.up_to_16.weight, d2lseg.bilinear_kernel(3, 3, 4))
    factor = 16 if variant == "16s" else 8
    up = net.transpose_conv
    assert (up.stride, up.padding) == ((factor, factor), (factor // 2, factor // 2))
    assert torch.equal(up.weight, d2lseg.bilinear_kernel(3, 3, 2 * factor))
    assert not hasattr(net, "score_8") or variant == "8s"
    # The same seed gives the same backbone and final_conv as the FCN-32s.
    same = fcn("32s", num_classes=3).state_dict()
    for key, value in net.state_dict().items():
        if key.startswith("backbone.") or key.startswith("final_conv."):
            assert torch.equal(value, same[key.removeprefix("backbone.")]), key


def _features(net, X):
    """layer2 (stride 8), layer3 (stride 16) and the stride-32 scores, by torchvision's
    names: an independent walk through the backbone."""
    backbone = net.backbone
    x = backbone[:5](X)
    layer2 = backbone[5](x)
    layer3 = backbone[6](layer2)
    return layer2, layer3, net.final_conv(backbone[7](layer3))


@pytest.mark.parametrize("size", SIZES[:3])
def test_fcn_8s_fuses_aligned_stages(size):
    """With skip weights set, each stage's contribution equals F.interpolate of its scores
    (bilinear, half-pixel centres) away from the border, where the transposed convolutions
    see zeros beyond the edge: the stages line up pixel for pixel."""
    net = fcn("8s", num_classes=2).eval()
    torch.manual_seed(1)
    with torch.no_grad():
        for conv in (net.score_8, net.score_16):
            conv.weight.normal_()
        X = torch.rand(1, 3, *size)
        layer2, layer3, scores32 = _features(net, X)

        def up(x, factor):
            return F.interpolate(x, scale_factor=factor, mode="bilinear", align_corners=False)

        expected = (
            up(net.score_8(layer2), 8)
            + up(up(net.score_16(layer3), 2), 8)
            + up(up(up(scores32, 2), 2), 8)
        )
        out = net(X)
    # The zero padding reaches stride-16 row 0, hence stride-8 rows 0..2, hence output rows
    # up to 27 (row y interpolates stride-8 rows (y + 0.5) / 8 - 0.5 and the next).
    margin = 28
    inner = (..., slice(margin, -margin), slice(margin, -margin))
    assert out[inner].numel() > 0
    assert torch.allclose(out[inner], expected[inner], atol=1e-4)
    shifted = torch.roll(expected, shifts=4, dims=-1)  # half a stride-8 pixel off
    assert not torch.allclose(out[inner], shifted[inner], atol=1e-2)


@pytest.mark.parametrize("variant", ["16s", "8s"])
def test_every_parameter_gets_a_gradient(variant):
    net = fcn(variant, num_classes=4)
    X, y = torch.rand(2, 3, 64, 64), torch.randint(0, 4, (2, 64, 64))
    F.cross_entropy(net(X), y).backward()
    for name, param in net.named_parameters():
        assert param.grad is not None and param.grad.abs().sum() > 0, name


def test_predict_and_whole_image_with_fcn_8s():
    net = fcn("8s", num_classes=21)
    img = torch.randint(0, 256, (3, 64, 96), dtype=torch.uint8)
    assert d2lseg.predict(net, img).shape == (64, 96)
    odd = torch.randint(0, 256, (3, 75, 130), dtype=torch.uint8)
    assert d2lseg.predict_whole_image(net, odd, tile=(64, 96), overlap=32).shape == (75, 130)


def test_train_fcn_trains_fcn_8s(voc_dir):
    torch.manual_seed(0)
    train_iter, val_iter = d2lseg.load_data_voc(8, (64, 64), voc_dir=voc_dir, num_workers=0)
    net = d2lseg.fcn_resnet18(pretrained=False, variant="8s")
    before = {k: v.clone() for k, v in net.named_parameters()}
    optimizer = torch.optim.AdamW(net.parameters(), lr=1e-3)
    history = d2lseg.train_fcn(net, train_iter, val_iter, 1, optimizer)
    assert isinstance(net, SkipFCN) and len(history) == 1
    assert not torch.equal(net.score_8.weight, before["score_8.weight"])


def test_checkpoint_of_another_variant_is_refused(tmp_path):
    checkpoint = tmp_path / "fcn8s.pt"
    save_checkpoint(checkpoint, fcn("8s", num_classes=21), None, None, [])
    message = r"holds an FCN-8s but the model is an FCN-32s; .*fcn_resnet18\(num_classes=21, vari"
    with pytest.raises(ValueError, match=message + r'ant="8s"\)'):
        d2lseg.load_checkpoint(checkpoint, fcn("32s", num_classes=21))
    with pytest.raises(ValueError, match=r"holds an FCN-8s but the model is an FCN-16s"):
        d2lseg.load_checkpoint(checkpoint, fcn("16s", num_classes=21))
    net = fcn("8s", num_classes=21, seed=1)
    d2lseg.load_checkpoint(checkpoint, net)
    expected = fcn("8s", num_classes=21).state_dict()
    assert all(torch.equal(v, expected[k]) for k, v in net.state_dict().items())


def test_checkpoint_without_variant_is_an_fcn_32s(tmp_path):
    checkpoint = tmp_path / "old.pt"
    save_checkpoint(checkpoint, fcn("32s", num_classes=3), None, None, [])
    state = torch.load(checkpoint, weights_only=True)
    del state["variant"]  # as written before FCN-16s/8s existed
    torch.save(state, checkpoint)
    d2lseg.load_checkpoint(checkpoint, fcn("32s", num_classes=3))
    with pytest.raises(ValueError, match=r"holds an FCN-32s but the model is an FCN-8s; build it "):
        d2lseg.load_checkpoint(checkpoint, fcn("8s", num_classes=3))
