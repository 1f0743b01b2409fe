"""Which device to train and predict on: the best available, or the one `D2LSEG_DEVICE` names.

`make test` sets `D2LSEG_DEVICE=cpu`, so that the notebooks' committed outputs (made on a CPU)
are checked on the CPU even on a machine with a GPU; `make lab` leaves it unset.
"""

import os

import torch

DEVICE_ENV = "D2LSEG_DEVICE"


def _available(kind):
    if kind == "cuda":
        return torch.cuda.is_available()
    if kind == "mps":
        return torch.backends.mps.is_available()
    return kind == "cpu"


def try_all_devices():
    """Every CUDA GPU, else Apple's MPS, else the CPU: never an empty list. The environment
    variable D2LSEG_DEVICE (cpu, cuda, cuda:1, mps) chooses one device instead."""
    if wanted := os.environ.get(DEVICE_ENV):
        try:
            device = torch.device(wanted)
        except RuntimeError as err:
            raise ValueError(
                f"${DEVICE_ENV}={wanted!r} is not a device; use cpu, cuda, cuda:N or mps"
            ) from err
        if not _available(device.type):
            raise ValueError(f"${DEVICE_ENV}={wanted!r} names a device this machine does not have")
        return [device]
    if torch.cuda.is_available():
        return [torch.device(f"cuda:{i}") for i in range(torch.cuda.device_count())]
    if torch.backends.mps.is_available():
        return [torch.device("mps")]
    return [torch.device("cpu")]
