"""The tiles with which predict_whole_image covers an image."""

import pytest
import torch
from torch import nn

import d2lseg
from d2lseg.predict import tile_windows


def test_windows_worked_out_by_hand():
    # 375 x 500 with 320 x 480 tiles: rows start at 0 and 375 - 320 = 55, columns at 0 and 20.
    assert tile_windows(375, 500) == [
        (0, 0, 320, 480),
        (0, 20, 320, 480),
        (55, 0, 320, 480),
        (55, 20, 320, 480),
    ]
    # Smaller than a tile: one tile, cut down to the sides rounded up to multiples of 32.
    assert tile_windows(300, 300) == [(0, 0, 320, 320)]
    assert tile_windows(100, 33) == [(0, 0, 128, 64)]
    # Long side: 1000 = 0..480, 416..896, 520..1000 (steps of 480 - 64 = 416, then flush).
    assert [left for _, left, _, _ in tile_windows(320, 1000)] == [0, 416, 520]


@pytest.mark.parametrize("size", [(375, 500), (64, 96), (20, 33), (700, 1000), (321, 481)])
@pytest.mark.parametrize("overlap", [0, 64, 100])
def test_windows_cover_the_image_and_overlap_enough(size, overlap):
    height, width = size
    windows = tile_windows(height, width, tile=(320, 480), overlap=overlap)
    covered = torch.zeros(max(height, 320), max(width, 480), dtype=torch.int64)
    for top, left, tile_h, tile_w in windows:
        assert tile_h % 32 == 0 and tile_w % 32 == 0 and top >= 0 and left >= 0
        covered[top : top + tile_h, left : left + tile_w] += 1
    assert (covered[:height, :width] > 0).all()
    tops = sorted({top for top, _, _, _ in windows})
    lefts = sorted({left for _, left, _, _ in windows})
    tile_h, tile_w = windows[0][2:]
    assert tops[-1] + tile_h == max(height, tile_h) and lefts[-1] + tile_w == max(width, tile_w)
    assert all(b - a <= tile_h - overlap for a, b in zip(tops, tops[1:], strict=False))
    assert all(b - a <= tile_w - overlap for a, b in zip(lefts, lefts[1:], strict=False))


class _Spy(nn.Conv2d):
    """A per-pixel network that records the height and width of every input it sees."""

    def __init__(self):
        super().__init__(3, 21, kernel_size=1)
        self.seen = []

    def forward(self, X):
        self.seen.append(tuple(X.shape[-2:]))
        return super().forward(X)


def test_predict_whole_image_runs_the_network_once_per_window():
    spy = _Spy()
    img = torch.zeros(3, 375, 700, dtype=torch.uint8)
    d2lseg.predict_whole_image(spy, img, tile=(128, 160), overlap=32)
    windows = tile_windows(375, 700, tile=(128, 160), overlap=32)
    assert spy.seen == [(tile_h, tile_w) for _, _, tile_h, tile_w in windows]
    assert len(windows) == 4 * 6  # rows 0, 96, 192, 247; columns 0, 128, ..., 540


def test_arguments_checked():
    with pytest.raises(ValueError, match="tile sides must be positive multiples of 32"):
        tile_windows(64, 64, tile=(100, 160))
    with pytest.raises(ValueError, match="overlap must be in 0..127"):
        tile_windows(64, 64, tile=(128, 160), overlap=128)
