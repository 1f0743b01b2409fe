"""Device choice: the best hardware, unless D2LSEG_DEVICE names one (as `make test` does)."""

import pytest
import torch

import d2lseg


def test_devices_never_empty(monkeypatch):
    monkeypatch.delenv("D2LSEG_DEVICE", raising=False)
    devices = d2lseg.try_all_devices()
    assert devices and all(isinstance(d, torch.device) for d in devices)


def test_environment_forces_the_cpu(monkeypatch):
    monkeypatch.setenv("D2LSEG_DEVICE", "cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)  # even beside a GPU
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert d2lseg.try_all_devices() == [torch.device("cpu")]


def test_without_the_variable_a_gpu_is_preferred(monkeypatch):
    monkeypatch.delenv("D2LSEG_DEVICE", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert d2lseg.try_all_devices() == [torch.device("cuda:0"), torch.device("cuda:1")]


@pytest.mark.parametrize(
    ("value", "message"),
    [("gpu0", "is not a device"), ("mps", "names a device this machine does not have")],
)
def test_bad_or_missing_device_is_explained(monkeypatch, value, message):
    monkeypatch.setenv("D2LSEG_DEVICE", value)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    with pytest.raises(ValueError, match=f"D2LSEG_DEVICE={value!r} {message}"):
        d2lseg.try_all_devices()
