"""The FCN: model, training loop, checkpoints and prediction."""

import urllib.error

import pytest
import torch
from torch import nn

import d2lseg
from d2lseg import checkpoint as ckpt
from d2lseg import train
from d2lseg.files import LOCK_NAME
from d2lseg.voc import IMAGENET_MEAN, IMAGENET_STD, VOID_COLOR


@pytest.fixture
def offline(tmp_path, monkeypatch):
    """No cached weights, and every download fails as it does without a network."""
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))

    def refuse(url, dst, *args, **kwargs):
        raise urllib.error.URLError("no network in tests")

    monkeypatch.setattr(torch.hub, "download_url_to_file", refuse)


def test_shapes_and_layers():
    net = d2lseg.fcn_resnet18(num_classes=5, pretrained=False)
    names = [name for name, _ in net.named_children()]
    assert names == [str(i) for i in range(8)] + ["final_conv", "transpose_conv"]
    X = torch.rand(2, 3, 320, 480)
    assert net[:-2](X).shape == (2, 512, 10, 15)  # the book's 320x480 -> 10x15
    assert net(X).shape == (2, 5, 320, 480)
    tconv = net.transpose_conv
    assert (tconv.kernel_size, tconv.padding, tconv.stride) == ((64, 64), (16, 16), (32, 32))


def test_initialisation():
    torch.manual_seed(0)
    net = d2lseg.fcn_resnet18(pretrained=False)
    assert torch.equal(net.transpose_conv.weight, d2lseg.bilinear_kernel(21, 21, 64))
    assert (net.transpose_conv.bias == 0).all() and (net.final_conv.bias == 0).all()
    bound = (6 / (512 + 21)) ** 0.5  # Xavier-uniform for a 1x1 conv, 512 -> 21 channels
    weight = net.final_conv.weight
    assert weight.abs().max() <= bound and weight.abs().max() > 0.9 * bound
    # On a constant map, the bilinear transposed convolution is upsampling: constant inside.
    with torch.no_grad():
        up = net.transpose_conv(torch.ones(1, 21, 4, 4))
    assert torch.allclose(up[0, :, 16:-16, 16:-16], torch.ones(21, 96, 96))


def test_pretrained_auto_offline_says_so_in_one_line(offline, capsys):
    net = d2lseg.fcn_resnet18(pretrained="auto")
    out = capsys.readouterr()
    assert out.out.count("\n") == 1 and "starts from random weights" in out.out
    assert out.err == ""
    assert isinstance(net, nn.Sequential)


def test_pretrained_true_offline_explains_what_to_do(offline):
    with pytest.raises(RuntimeError, match=r"resnet18-f37072fd\.pth.*hub.*pretrained=False"):
        d2lseg.fcn_resnet18(pretrained=True)


def test_pretrained_argument_checked():
    with pytest.raises(ValueError, match='pretrained must be True, False or "auto"'):
        d2lseg.fcn_resnet18(pretrained="yes")


def _loaders(voc_dir, batch_size=8, crop=(64, 64)):
    return d2lseg.load_data_voc(batch_size, crop, voc_dir=voc_dir, num_workers=0)


def _fresh(voc_dir, epochs, lr=2e-3):
    """Loaders, a net and our optimizer, all from seed 0."""
    d2lseg.set_seed(0)
    train_iter, val_iter = _loaders(voc_dir)
    net = d2lseg.fcn_resnet18(pretrained=False)
    optimizer, scheduler = train.adamw_one_cycle(net, lr, epochs, len(train_iter))
    return net, train_iter, val_iter, optimizer, scheduler


def test_short_training_lowers_the_loss_with_few_batches(voc_dir):
    net, train_iter, val_iter, optimizer, scheduler = _fresh(voc_dir, epochs=4)
    assert len(train_iter) == 2  # fewer than the 5 batches the book's loop needs
    history = d2lseg.train_fcn(net, train_iter, val_iter, 4, optimizer, scheduler)
    assert [h["epoch"] for h in history] == [1, 2, 3, 4]
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    for h in history:
        assert 0 <= h["train_acc"] <= 1 and 0 <= h["val_acc"] <= 1 and 0 <= h["val_miou"] <= 1


def test_resume_gives_the_same_result_as_uninterrupted_training(voc_dir, tmp_path):
    net, train_iter, val_iter, optimizer, scheduler = _fresh(voc_dir, epochs=2)
    straight = d2lseg.train_fcn(net, train_iter, val_iter, 2, optimizer, scheduler)
    expected = {k: v.clone() for k, v in net.state_dict().items()}

    checkpoint = tmp_path / "fcn.pt"
    net, train_iter, val_iter, optimizer, scheduler = _fresh(voc_dir, epochs=2)
    d2lseg.train_fcn(net, train_iter, val_iter, 1, optimizer, scheduler, checkpoint=checkpoint)
    # A new process would start from scratch: new weights, optimizer and random state.
    torch.manual_seed(123)
    net = d2lseg.fcn_resnet18(pretrained=False)
    optimizer, scheduler = train.adamw_one_cycle(net, 2e-3, 2, len(train_iter))
    resumed = d2lseg.train_fcn(
        net, train_iter, val_iter, 2, optimizer, scheduler, checkpoint=checkpoint
    )
    for key, value in net.state_dict().items():
        assert torch.equal(value, expected[key]), key
    volatile = "images_per_s"
    assert [{k: v for k, v in h.items() if k != volatile} for h in resumed] == [
        {k: v for k, v in h.items() if k != volatile} for h in straight
    ]


def test_checkpoint_write_is_atomic(voc_dir, tmp_path, monkeypatch):
    checkpoint = tmp_path / "fcn.pt"
    checkpoint.write_bytes(b"previous checkpoint")
    net = d2lseg.fcn_resnet18(num_classes=3, pretrained=False)

    def crash(obj, file):  # torch.save writes to the open temporary file
        file.write(b"half a checkpoint")
        raise OSError("disk full")

    monkeypatch.setattr(ckpt.torch, "save", crash)
    with pytest.raises(OSError, match="disk full"):
        ckpt.save_checkpoint(checkpoint, net, None, None, [])
    assert checkpoint.read_bytes() == b"previous checkpoint"
    assert sorted(p.name for p in tmp_path.iterdir()) == [LOCK_NAME, "fcn.pt"]


def test_checkpoint_for_other_classes_is_refused(tmp_path):
    checkpoint = tmp_path / "fcn.pt"
    ckpt.save_checkpoint(checkpoint, d2lseg.fcn_resnet18(5, pretrained=False), None, None, [])
    with pytest.raises(ValueError, match=r"trained for 5 classes but the model predicts 21"):
        d2lseg.load_checkpoint(checkpoint, d2lseg.fcn_resnet18(21, pretrained=False))


def test_settings_are_small_for_the_sample_on_a_cpu(voc_dir, tmp_path):
    cpu = torch.device("cpu")
    small = train.fcn_settings(voc_dir, cpu)
    real = train.fcn_settings(tmp_path, cpu)  # no sample marker: treated as the real VOC
    gpu = train.fcn_settings(tmp_path, torch.device("cuda"))
    assert small["crop_size"][0] * small["crop_size"][1] < real["crop_size"][0] ** 2
    assert gpu["crop_size"] == (320, 480)


@pytest.fixture(scope="module")
def small_net():
    torch.manual_seed(0)
    return d2lseg.fcn_resnet18(num_classes=21, pretrained=False).eval()


def test_predict_crop(small_net):
    img = torch.randint(0, 256, (3, 64, 96), dtype=torch.uint8)
    pred = d2lseg.predict(small_net, img)
    assert pred.shape == (64, 96) and pred.dtype == torch.int64
    with torch.no_grad():  # the same as the book's predict: normalise, forward, argmax
        X = (img.float() / 255 - torch.tensor(IMAGENET_MEAN)[:, None, None]) / torch.tensor(
            IMAGENET_STD
        )[:, None, None]
        assert torch.equal(pred, small_net(X.unsqueeze(0)).argmax(dim=1)[0])


def test_predict_refuses_other_sizes(small_net):
    with pytest.raises(ValueError, match="multiples of 32, got 375x500.*predict_whole_image"):
        d2lseg.predict(small_net, torch.zeros(3, 375, 500, dtype=torch.uint8))


def test_predict_converts_grey_and_rgba(small_net):
    rgb = torch.randint(0, 256, (3, 64, 64), dtype=torch.uint8)
    rgba = torch.cat([rgb, torch.full((1, 64, 64), 128, dtype=torch.uint8)])
    assert torch.equal(d2lseg.predict(small_net, rgba), d2lseg.predict(small_net, rgb))
    grey = rgb[:1]
    assert torch.equal(
        d2lseg.predict(small_net, grey), d2lseg.predict(small_net, grey.expand(3, -1, -1))
    )
    with pytest.raises(TypeError, match="uint8"):
        d2lseg.predict(small_net, rgb.float())
    with pytest.raises(ValueError, match="1, 3 or 4 channels"):
        d2lseg.predict(small_net, torch.zeros(2, 64, 64, dtype=torch.uint8))


@pytest.mark.parametrize("size", [(375, 500), (64, 96), (20, 33), (500, 333)])
def test_whole_image_matches_a_pixelwise_oracle(size):
    """With a per-pixel network (1x1 conv), tiling and averaging must not change any logit,
    so the tiled prediction equals running the network on the whole image at once."""
    torch.manual_seed(0)
    pixelwise = nn.Conv2d(3, 21, kernel_size=1)
    img = torch.randint(0, 256, (3, *size), dtype=torch.uint8)
    pred = d2lseg.predict_whole_image(pixelwise, img, tile=(128, 160), overlap=32)
    X = (img.float() / 255 - torch.tensor(IMAGENET_MEAN)[:, None, None]) / torch.tensor(
        IMAGENET_STD
    )[:, None, None]
    with torch.no_grad():
        expected = pixelwise(X.unsqueeze(0))[0].argmax(dim=0)
    assert pred.shape == size
    assert (pred == expected).float().mean() > 0.999  # ties may break differently


def test_whole_image_with_the_fcn_gives_one_label_per_pixel(small_net):
    img = torch.randint(0, 256, (375, 500), dtype=torch.uint8)  # grey, VOC-sized
    pred = d2lseg.predict_whole_image(small_net, img)
    assert pred.shape == (375, 500) and 0 <= pred.min() and pred.max() < 21


def test_whole_image_arguments(small_net):
    img = torch.zeros(3, 64, 64, dtype=torch.uint8)
    with pytest.raises(ValueError, match="tile sides must be positive multiples of 32"):
        d2lseg.predict_whole_image(small_net, img, tile=(100, 160))
    with pytest.raises(ValueError, match="overlap must be in 0..127"):
        d2lseg.predict_whole_image(small_net, img, tile=(128, 160), overlap=128)


def test_label2image_and_overlay():
    pred = torch.tensor([[0, 1, 20], [255, 15, 0]])
    colours = d2lseg.label2image(pred)
    assert colours.shape == (2, 3, 3) and colours.dtype == torch.uint8
    assert colours[0].tolist() == [d2lseg.VOC_COLORMAP[i] for i in (0, 1, 20)]
    assert colours[1].tolist() == [list(VOID_COLOR), d2lseg.VOC_COLORMAP[15], [0, 0, 0]]
    img = torch.full((3, 2, 3), 100, dtype=torch.uint8)
    mixed = d2lseg.overlay(img, pred, alpha=0.5)
    assert mixed[0, 0].tolist() == [100, 100, 100]  # background untouched
    assert mixed[0, 1].tolist() == [114, 50, 50]  # halfway to aeroplane red (128, 0, 0)
