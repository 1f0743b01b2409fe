"""What prediction and the model accept: PIL images, and clear errors for everything else."""

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

import d2lseg


@pytest.fixture(scope="module")
def pixelwise():
    """A per-pixel network: fast, and its prediction is defined for every image size."""
    torch.manual_seed(0)
    return nn.Conv2d(3, 21, kernel_size=1)


IMG = torch.randint(
    0, 256, (3, 64, 96), dtype=torch.uint8, generator=torch.Generator().manual_seed(0)
)


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "L"])
def test_pil_images_are_accepted(pixelwise, mode):
    pil = Image.fromarray(IMG.permute(1, 2, 0).numpy()).convert(mode)
    tensor = torch.from_numpy(np.array(pil.convert("RGB"))).permute(2, 0, 1)
    assert torch.equal(d2lseg.predict(pixelwise, pil), d2lseg.predict(pixelwise, tensor))
    assert torch.equal(
        d2lseg.predict_whole_image(pixelwise, pil, tile=(32, 64), overlap=16),
        d2lseg.predict_whole_image(pixelwise, tensor, tile=(32, 64), overlap=16),
    )


@pytest.mark.parametrize("predict", [d2lseg.predict, d2lseg.predict_whole_image])
def test_height_width_channels_tensors_are_refused_saying_what_to_pass(pixelwise, predict):
    with pytest.raises(ValueError, match=r"got shape \(64, 96, 3\).*img.permute\(2, 0, 1\)"):
        predict(pixelwise, IMG.permute(1, 2, 0))


@pytest.mark.parametrize("predict", [d2lseg.predict, d2lseg.predict_whole_image])
@pytest.mark.parametrize("shape", [(3, 0, 64), (3, 64, 0), (0, 0)])
def test_empty_images_are_refused(pixelwise, predict, shape):
    with pytest.raises(ValueError, match="img is empty"):
        predict(pixelwise, torch.zeros(shape, dtype=torch.uint8))


@pytest.mark.parametrize("predict", [d2lseg.predict, d2lseg.predict_whole_image])
def test_other_types_are_refused_saying_what_to_pass(pixelwise, predict):
    with pytest.raises(TypeError, match="uint8 tensor .* or a PIL image, got ndarray"):
        predict(pixelwise, IMG.numpy())


@pytest.mark.parametrize("tile", [(128.0, 160), (128,), 128, "ab", (True, 160), (0, 160), None])
def test_tile_types_checked(pixelwise, tile):
    with pytest.raises(ValueError, match="tile sides must be positive multiples of 32"):
        d2lseg.predict_whole_image(pixelwise, IMG, tile=tile)


@pytest.mark.parametrize("overlap", [32.0, True, "32", None, -1])
def test_overlap_types_checked(pixelwise, overlap):
    with pytest.raises(ValueError, match=r"overlap must be in 0\.\.127 \(an int\)"):
        d2lseg.predict_whole_image(pixelwise, IMG, tile=(128, 160), overlap=overlap)


def test_numpy_tile_and_overlap(pixelwise):
    expected = d2lseg.predict_whole_image(pixelwise, IMG, tile=(32, 64), overlap=16)
    got = d2lseg.predict_whole_image(
        pixelwise, IMG, tile=(np.int64(32), np.int32(64)), overlap=np.int64(16)
    )
    assert torch.equal(got, expected)


@pytest.mark.parametrize("num_classes", [0, -3, 2.5, True, "21", None])
def test_fcn_num_classes_checked(num_classes):
    with pytest.raises(ValueError, match="num_classes must be a positive int"):
        d2lseg.fcn_resnet18(num_classes=num_classes, pretrained=False)


def test_fcn_num_classes_of_numpy():
    net = d2lseg.fcn_resnet18(num_classes=np.int64(5), pretrained=False)
    assert net.final_conv.out_channels == 5 and type(net.final_conv.out_channels) is int
