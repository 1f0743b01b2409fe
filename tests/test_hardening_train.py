"""Training stops at a non-finite loss, naming the epoch and the batch, and writes nothing."""

import pytest
import torch

import d2lseg


def test_a_nan_loss_stops_training_before_any_checkpoint(tmp_path):
    net = d2lseg.fcn_resnet18(num_classes=3, pretrained=False)
    good = (torch.zeros(1, 3, 64, 64), torch.zeros(1, 64, 64, dtype=torch.long))
    bad = (torch.full((1, 3, 64, 64), float("nan")), good[1])
    loader = torch.utils.data.DataLoader([(x[0], t[0]) for x, t in (good, bad)], batch_size=1)
    optimizer = torch.optim.SGD(net.parameters(), lr=0.01)
    checkpoint = tmp_path / "fcn.pt"
    with pytest.raises(FloatingPointError, match="epoch 1, batch 2: the loss is nan"):
        d2lseg.train_fcn(net, loader, loader, 1, optimizer, device=torch.device("cpu"),
                         checkpoint=checkpoint, live_plot=False)  # fmt: skip
    assert not checkpoint.exists()
