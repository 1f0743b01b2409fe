"""Checkpoints: only d2lseg checkpoints load, nothing in a file runs, and resuming is checked."""

import pickle
import random

import numpy as np
import pytest
import torch

import d2lseg
from d2lseg import checkpoint as ckpt
from d2lseg import train


class _RunsCode:
    """Unpickling this object creates a file: what a crafted checkpoint could do instead."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.fixture(scope="module")
def tiny_net():
    return d2lseg.fcn_resnet18(num_classes=3, pretrained=False)


def test_crafted_pickle_is_refused_without_running_it(tmp_path):
    marker, path = tmp_path / "ran", tmp_path / "evil.pt"
    torch.save({"model": _RunsCode(marker), "num_classes": 3, "history": [], "rng": {}}, path)
    with pytest.raises(ValueError, match=r"evil\.pt was refused.*never unpickled"):
        ckpt.read_checkpoint(path)
    assert not marker.exists()


def test_a_plain_pickle_is_refused_too(tmp_path):
    marker, path = tmp_path / "ran", tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps(_RunsCode(marker)))
    with pytest.raises(ValueError, match=r"evil\.pkl is not a readable PyTorch file"):
        ckpt.read_checkpoint(path)
    assert not marker.exists()


def _truncated(tmp_path, net):
    whole = tmp_path / "whole.pt"
    ckpt.save_checkpoint(whole, net, None, None, [])
    data = whole.read_bytes()
    return data[: len(data) // 2]


@pytest.mark.parametrize(
    ("name", "make", "message"),
    [
        ("notes.txt", lambda tmp, net: b"these are my notes\n", "not a readable PyTorch file"),
        ("empty.pt", lambda tmp, net: b"", "is empty"),
        ("cut.pt", _truncated, "not a readable PyTorch file"),
        ("image.png", lambda tmp, net: bytes.fromhex("89504e470d0a1a0a") + b"\0" * 64,
         "not a readable PyTorch file"),
    ],
)  # fmt: skip
def test_files_that_are_not_checkpoints(tmp_path, tiny_net, name, make, message):
    path = tmp_path / name
    path.write_bytes(make(tmp_path, tiny_net))
    with pytest.raises(ValueError, match=message) as info:
        d2lseg.load_checkpoint(path, tiny_net)
    assert str(path) in str(info.value)


def test_bare_state_dict_and_whole_model_are_explained(tmp_path, tiny_net):
    bare, whole = tmp_path / "bare.pt", tmp_path / "model.pt"
    torch.save(tiny_net.state_dict(), bare)
    torch.save(tiny_net, whole)
    with pytest.raises(ValueError, match=r"bare\.pt is a bare state_dict.*load_state_dict"):
        d2lseg.load_checkpoint(bare, tiny_net)
    with pytest.raises(ValueError, match=r"model\.pt was refused"):
        d2lseg.load_checkpoint(whole, tiny_net)
    other = tmp_path / "other.pt"
    torch.save({"epoch": 3, "weights": [1, 2]}, other)
    with pytest.raises(ValueError, match=r"other\.pt is not a d2lseg checkpoint: it lacks model"):
        d2lseg.load_checkpoint(other, tiny_net)


def test_missing_file_is_named(tmp_path, tiny_net):
    with pytest.raises(FileNotFoundError, match=r"nothere\.pt"):
        d2lseg.load_checkpoint(tmp_path / "nothere.pt", tiny_net)


def test_random_states_round_trip(tmp_path, tiny_net):
    path = tmp_path / "fcn.pt"
    random.seed(1), np.random.seed(2), torch.manual_seed(3)
    ckpt.save_checkpoint(path, tiny_net, None, None, [{"epoch": 1}])
    expected = (random.random(), np.random.rand(), torch.rand(1))
    random.seed(9), np.random.seed(9), torch.manual_seed(9)
    assert d2lseg.load_checkpoint(path, tiny_net) == [{"epoch": 1}]
    assert (random.random(), np.random.rand(), torch.rand(1)) == expected


def test_weights_only_checkpoint_into_an_optimizer_says_so(tmp_path, tiny_net):
    path = tmp_path / "fcn.pt"
    ckpt.save_checkpoint(path, tiny_net, None, None, [])
    optimizer, scheduler = train.adamw_one_cycle(tiny_net, 1e-3, 1, 4)
    with pytest.raises(ValueError, match="saved without optimizer state.*optimizer=None"):
        d2lseg.load_checkpoint(path, tiny_net, optimizer)
    d2lseg.load_checkpoint(path, tiny_net)  # the weights alone load


def _loaders(voc_dir):
    return d2lseg.load_data_voc(8, (64, 64), voc_dir=voc_dir, num_workers=0)


def test_resuming_with_another_schedule_is_refused(voc_dir, tmp_path):
    train_iter, val_iter = _loaders(voc_dir)
    path = tmp_path / "fcn.pt"
    net = d2lseg.fcn_resnet18(pretrained=False)
    optimizer, scheduler = train.adamw_one_cycle(net, 1e-3, 2, len(train_iter))
    d2lseg.train_fcn(net, train_iter, val_iter, 1, optimizer, scheduler, checkpoint=path)
    net = d2lseg.fcn_resnet18(pretrained=False)
    optimizer, scheduler = train.adamw_one_cycle(net, 1e-3, 5, len(train_iter))
    with pytest.raises(ValueError, match=r"scheduler of 4 steps.*has 10; rebuild it"):
        d2lseg.train_fcn(net, train_iter, val_iter, 5, optimizer, scheduler, checkpoint=path)


def test_more_epochs_than_the_schedule_is_refused_before_training(voc_dir):
    train_iter, val_iter = _loaders(voc_dir)
    net = d2lseg.fcn_resnet18(pretrained=False)
    optimizer, scheduler = train.adamw_one_cycle(net, 1e-3, 1, len(train_iter))
    with pytest.raises(ValueError, match="built for 2 steps, but training needs 6"):
        d2lseg.train_fcn(net, train_iter, val_iter, 3, optimizer, scheduler)
    assert not optimizer.state  # refused before any step


def test_a_stepped_optimizer_or_scheduler_is_refused(voc_dir):
    train_iter, val_iter = _loaders(voc_dir)
    net = d2lseg.fcn_resnet18(pretrained=False)
    optimizer, scheduler = train.adamw_one_cycle(net, 1e-3, 2, len(train_iter))
    X, y = next(iter(train_iter))
    train.train_step(net, X, y, train.pixel_loss, optimizer)  # as if stopped by Ctrl-C
    with pytest.raises(ValueError, match="optimizer has taken steps already"):
        d2lseg.train_fcn(net, train_iter, val_iter, 2, optimizer, scheduler)
    net = d2lseg.fcn_resnet18(pretrained=False)
    optimizer, scheduler = train.adamw_one_cycle(net, 1e-3, 2, len(train_iter))
    optimizer.step()  # no gradients yet: the optimizer keeps no state
    scheduler.step()
    with pytest.raises(ValueError, match="scheduler has taken 1 steps already"):
        d2lseg.train_fcn(net, train_iter, val_iter, 2, optimizer, scheduler)


def test_fewer_epochs_than_the_checkpoint_holds(voc_dir, tmp_path, capsys):
    train_iter, val_iter = _loaders(voc_dir)
    path = tmp_path / "fcn.pt"
    net = d2lseg.fcn_resnet18(pretrained=False)
    optimizer, scheduler = train.adamw_one_cycle(net, 1e-3, 2, len(train_iter))
    history = d2lseg.train_fcn(net, train_iter, val_iter, 2, optimizer, scheduler, checkpoint=path)
    capsys.readouterr()
    net = d2lseg.fcn_resnet18(pretrained=False)
    optimizer, scheduler = train.adamw_one_cycle(net, 1e-3, 2, len(train_iter))
    again = d2lseg.train_fcn(net, train_iter, val_iter, 1, optimizer, scheduler, checkpoint=path)
    out = capsys.readouterr().out
    assert again == history
    assert out.count("\n") == 1 and "holds 2 epochs already" in out


def test_pixel_loss_matches_the_mean_over_labelled_pixels():
    torch.manual_seed(0)
    logits = torch.randn(2, 4, 5, 6)
    y = torch.randint(0, 4, (2, 5, 6))
    y[0, :2] = d2lseg.VOID_LABEL
    expected = torch.nn.functional.cross_entropy(logits, y, ignore_index=d2lseg.VOID_LABEL)
    torch.testing.assert_close(train.pixel_loss(logits, y), expected)
    all_void = torch.full_like(y, d2lseg.VOID_LABEL)
    assert train.pixel_loss(logits, all_void).item() == 0


def _saved_then(tmp_path, net, change):
    path = tmp_path / "fcn.pt"
    ckpt.save_checkpoint(path, net, None, None, [])
    state = torch.load(path, weights_only=True)
    change(state)
    torch.save(state, path)
    return path


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda s: s.update(format="d2lseg-checkpoint-v2"),
         "format 'd2lseg-checkpoint-v2', written by a newer d2lseg; upgrade"),
        (lambda s: s.update(format="someone-else"), "format 'someone-else' .this version reads"),
        (lambda s: s.update(ema_model={}), r"not know \(ema_model\), which resuming would drop"),
    ],
)  # fmt: skip
def test_other_formats_and_unknown_fields_are_refused(tmp_path, tiny_net, change, message):
    path = _saved_then(tmp_path, tiny_net, change)
    with pytest.raises(ValueError, match=message):
        d2lseg.load_checkpoint(path, tiny_net)


def test_a_checkpoint_from_before_formats_still_loads(tmp_path, tiny_net):
    path = _saved_then(tmp_path, tiny_net, lambda s: s.pop("format"))
    assert d2lseg.load_checkpoint(path, tiny_net) == []


def test_a_state_dict_with_an_extra_key_is_one_line(tmp_path, tiny_net):
    path = _saved_then(tmp_path, tiny_net, lambda s: s["model"].update(extra=torch.zeros(1)))
    with pytest.raises(
        ValueError, match=r"does not fit the model: .*Unexpected key.*extra"
    ) as info:
        d2lseg.load_checkpoint(path, tiny_net)
    assert "\n" not in str(info.value)


def test_the_settings_are_recorded(tmp_path, tiny_net):
    optimizer, scheduler = train.adamw_one_cycle(tiny_net, 0.02, 2, 3, weight_decay=0.5)
    path = tmp_path / "fcn.pt"
    ckpt.save_checkpoint(path, tiny_net, optimizer, scheduler, [], crop=(64, 96))
    settings = ckpt.training_settings(ckpt.read_checkpoint(path))
    assert settings == {"lr": 0.02, "weight_decay": 0.5, "crop": (64, 96)}


def test_weights_that_are_not_finite_are_never_written(tmp_path):
    net = d2lseg.fcn_resnet18(num_classes=3, pretrained=False)
    path = tmp_path / "fcn.pt"
    ckpt.save_checkpoint(path, net, None, None, [])
    before = path.read_bytes()
    with torch.no_grad():
        net.final_conv.weight[0, 0] = float("nan")
    with pytest.raises(FloatingPointError, match=r"not finite after epoch 0, so .*fcn\.pt was not"):
        ckpt.save_checkpoint(path, net, None, None, [])
    unchanged = path.read_bytes() == before  # not a pytest diff of megabytes
    assert unchanged, f"{path} was changed"
