"""Whole-image prediction in bounded memory, with the same labels as summing the logits of
the whole image; images of more than 8 bits scaled, or refused naming their mode."""

import importlib
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

import d2lseg
from d2lseg import voc

predict = importlib.import_module("d2lseg.predict")  # d2lseg.predict is the function


def _whole_image_logits(net, img, tile, overlap):
    """predict_whole_image as it was: the logits of the whole image, summed, then averaged."""
    X = predict._normalize(img)
    height, width = X.shape[1:]
    windows = predict.tile_windows(height, width, tile, overlap)
    _, _, tile_h, tile_w = windows[0]
    X = nn.functional.pad(X, (0, max(tile_w - width, 0), 0, max(tile_h - height, 0)))
    logits, counts = None, torch.zeros(X.shape[1:])
    with torch.no_grad():
        for top, left, _, _ in windows:
            out = net(X[None, :, top : top + tile_h, left : left + tile_w])[0]
            if logits is None:
                logits = torch.zeros(out.shape[0], *X.shape[1:])
            logits[:, top : top + tile_h, left : left + tile_w] += out
            counts[top : top + tile_h, left : left + tile_w] += 1
    return (logits / counts).argmax(dim=0)[:height, :width]


@pytest.mark.parametrize(
    ("shape", "tile", "overlap"),
    [((3, 200, 300), (64, 96), 16), ((3, 600, 50), (320, 480), 64), ((3, 31, 700), (32, 64), 0),
     ((3, 97, 97), (32, 32), 24)],
)  # fmt: skip
def test_the_labels_are_those_of_the_whole_image_logits(shape, tile, overlap):
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 8, 5, padding=2), nn.ReLU(), nn.Conv2d(8, 21, 3, padding=1))
    img = torch.randint(0, 256, shape, dtype=torch.uint8)
    got = d2lseg.predict_whole_image(net, img, tile, overlap)
    assert got.dtype == torch.uint8
    assert torch.equal(got.long(), _whole_image_logits(net, img, tile, overlap))


PEAK = """
import resource, sys, torch
from torch import nn
import d2lseg
net = nn.Conv2d(3, 21, kernel_size=1)
img = torch.randint(0, 256, (3, 4000, 1000), dtype=torch.uint8)
peak = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
before = peak()
d2lseg.predict_whole_image(net, img[:, :1000])
one_thousand_rows = peak()
d2lseg.predict_whole_image(net, img)
print(one_thousand_rows - before, peak() - one_thousand_rows)
"""


def test_memory_is_the_labels_and_a_tile_not_the_whole_image():
    """4000 x 1000 pixels: the whole image's logits are 336 MB, twice that with the average.
    The peak grows by less than that with the first 1000 rows (a tile's buffers and the
    labels), and by less than 2 bytes a pixel for the other 3000 (the uint8 labels: 1 byte)."""
    first, more = map(
        int, subprocess.check_output([sys.executable, "-c", PEAK], timeout=300).split()
    )
    whole_logits = 21 * 4000 * 1000 * 4
    assert first < whole_logits / 2, f"peak memory grew by {first / 1e6:.0f} MB"
    assert more < 2 * 3000 * 1000, f"3000 more rows took {more / 1e6:.0f} MB"


def test_images_above_the_limits_are_refused_in_one_line():
    net = nn.Conv2d(3, 21, kernel_size=1)
    tall = torch.zeros(3, predict.MAX_SIDE + 1, 1, dtype=torch.uint8)
    with pytest.raises(ValueError, match=r"img is 20001 x 1: .* at most 100,000,000 pixels"):
        d2lseg.predict_whole_image(net, tall)


def _sixteen_bit(path):
    grey = (np.arange(256 * 4, dtype=np.uint32).reshape(16, 64) * 64).astype(np.uint16)
    Image.fromarray(grey).save(path)
    return ((grey.astype(np.float64) / 257).round()).astype(np.uint8)


def test_sixteen_bit_images_are_scaled_in_the_dataset_and_in_prediction(tmp_path):
    path = tmp_path / "deep.png"
    expected = _sixteen_bit(path)
    read = voc._read_rgb(path)
    assert read.dtype == torch.uint8 and all(
        torch.equal(c, torch.from_numpy(expected)) for c in read
    )
    with Image.open(path) as img:
        assert img.mode == "I;16" and torch.equal(predict._as_rgb(img), read)


@pytest.mark.parametrize(("dtype", "mode"), [(np.int32, "I"), (np.float32, "F")])
def test_images_without_a_defined_range_are_refused_naming_the_mode(tmp_path, dtype, mode):
    path = tmp_path / "odd.tif"
    Image.fromarray(np.full((8, 8), 1000, dtype=dtype)).save(path)
    with pytest.raises(
        ValueError, match=rf"cannot decode .*odd\.tif as an image: PIL mode {mode} "
    ):
        voc._read_rgb(path)
    with Image.open(path) as img, pytest.raises(ValueError, match=f"PIL mode {mode} "):
        d2lseg.predict_whole_image(nn.Conv2d(3, 21, 1), img)
