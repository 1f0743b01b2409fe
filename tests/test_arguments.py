"""One meaning of "an integer argument" across the package (d2lseg.arguments): Python and
NumPy integers and one-element integer tensors are taken, booleans and floats are refused."""

import numpy as np
import pytest
import torch

import d2lseg
from d2lseg import metrics, sample, transposed, upsample, voc
from d2lseg.arguments import as_int
from d2lseg.predict import tile_windows


@pytest.mark.parametrize(
    ("value", "expected"),
    [(3, 3), (np.int64(3), 3), (np.uint8(3), 3), (torch.tensor(3), 3), (-2, -2),
     (True, None), (np.bool_(True), None), (torch.tensor(True), None), (2.0, None),
     (np.float32(2), None), (torch.tensor(2.0), None), (torch.tensor([1, 2]), None),
     ("3", None), (None, None)],
)  # fmt: skip
def test_as_int(value, expected):
    result = as_int(value)
    assert result == expected and (result is None or type(result) is int)


# Each call gives the argument under test as `size`; the others are valid.
CALLS = {
    "fcn_resnet18 num_classes": lambda size: d2lseg.fcn_resnet18(size, pretrained=False),
    "bilinear_kernel kernel_size": lambda size: upsample.bilinear_kernel(1, 1, size),
    "trans_conv stride": lambda size: transposed.trans_conv(
        torch.ones(2, 2), torch.ones(2, 2), stride=size
    ),
    "boundary_counts width": lambda size: metrics.boundary_counts(
        torch.zeros(4, 4, dtype=torch.int64), torch.zeros(4, 4, dtype=torch.int64), 2, size
    ),
    "tile_windows overlap": lambda size: tile_windows(64, 64, tile=(32, 32), overlap=size),
    "voc crop_size": lambda size: voc._check_crop_size((size, 8)),
    "make_sample_voc seed": lambda size: sample._count("seed", size, 0),
}


@pytest.mark.parametrize("call", CALLS.values(), ids=CALLS.keys())
def test_every_integer_argument_takes_numpy_ints_and_refuses_booleans(call):
    call(np.int64(2))
    with pytest.raises((ValueError, TypeError)):
        call(True)
    with pytest.raises((ValueError, TypeError)):
        call(np.bool_(True))
    with pytest.raises((ValueError, TypeError)):
        call(2.0)
