"""Data-parallel training over processes started by `torchrun`, one device each.

Every process holds the whole model and trains on its own share of each epoch's images;
DistributedDataParallel averages the gradients, so all processes keep identical weights. Outside
torchrun (no WORLD_SIZE in the environment) every function here is a no-op for one process, so
the same training loop serves a notebook and a cluster.
"""

import contextlib
import os
import sys
import threading
import time
from pathlib import Path

import torch
import torch.distributed as dist
from torch import nn


def is_distributed():
    """Whether this process is one of several in an initialised process group."""
    return dist.is_available() and dist.is_initialized()


def rank():
    return dist.get_rank() if is_distributed() else 0


def world_size():
    return dist.get_world_size() if is_distributed() else 1


def is_main():
    """Rank 0: the process that prints, draws the progress bar and writes files."""
    return rank() == 0


def launched_by_torchrun():
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def init(device=None):
    """Under torchrun, join the process group (NCCL on CUDA, gloo on CPU) and return this
    process's device: `cuda:LOCAL_RANK` on GPUs, else `device`. Outside torchrun: `device`."""
    if not launched_by_torchrun():
        return device
    exit_with_parent()
    local_rank = int(os.environ["LOCAL_RANK"])
    if device.type == "cuda":
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
    dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return device


# torchrun's agent, the parent of its workers, runs a program of this name, or these modules.
TORCHRUN_PROGRAM = b"torchrun"
TORCHRUN_MODULES = (b"torch.distributed.run", b"torch.distributed.launch")


def _is_torchrun(pid):
    """Whether process `pid` runs torchrun (True where /proc cannot tell)."""
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes()
    except FileNotFoundError:  # gone since, or no /proc (not Linux): the watchdog decides
        return not Path("/proc/self").exists()
    words = command.split(b"\0")
    return any(os.path.basename(w) == TORCHRUN_PROGRAM or w in TORCHRUN_MODULES for w in words)


def exit_with_parent(interval=1.0):
    """End this process when its parent (torchrun) goes, killed with its process group or
    not: a watchdog thread checks every `interval` seconds whether the parent changed.

    A worker whose torchrun died before this was called (while Python imported torch) has
    already been handed to another parent (init, or a container's reaper): under torchrun
    (TORCHELASTIC_RUN_ID set) a parent that is not torchrun means that, and the process ends
    at once."""
    parent = os.getppid()
    if "TORCHELASTIC_RUN_ID" in os.environ and not _is_torchrun(parent):
        print(f"d2lseg: torchrun, which started this worker, is gone (parent {parent} is not "
              "torchrun): stopping", file=sys.stderr, flush=True)  # fmt: skip
        os._exit(1)

    def watch():
        while os.getppid() == parent:
            time.sleep(interval)
        os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def shutdown():
    if is_distributed():
        dist.destroy_process_group()


def barrier():
    if is_distributed():
        dist.barrier()


@contextlib.contextmanager
def local_main_first():
    """Let local rank 0 do some work first (generate the sample data, download weights), then
    the other processes on its node, which then find it done."""
    first = int(os.environ.get("LOCAL_RANK", "0")) == 0
    if not first:
        barrier()
    yield
    if first:
        barrier()


def wrap(net, device):
    """`net` in DistributedDataParallel when there are several processes, else `net`."""
    if not is_distributed():
        return net
    return nn.parallel.DistributedDataParallel(
        net, device_ids=[device] if device.type == "cuda" else None
    )


def sum_across_ranks(tensor):
    """The element-wise sum of `tensor` over all processes (a copy on its original device)."""
    if not is_distributed():
        return tensor
    on_gpu = dist.get_backend() == "nccl"  # NCCL reduces CUDA tensors only
    total = tensor.to(torch.cuda.current_device() if on_gpu else "cpu", copy=True)
    dist.all_reduce(total)
    return total.to(tensor.device)


def sync_buffers(net):
    """Copy rank 0's buffers (BatchNorm running statistics) to every process. DDP sends them
    before each forward pass, but each process then updates them with its own batch; this makes
    all processes evaluate, and rank 0 save, one and the same model."""
    if is_distributed():
        for buffer in net.buffers():
            dist.broadcast(buffer.data, src=0)


def gather(obj):
    """The list of `obj` from every process, by rank (every process gets it)."""
    if not is_distributed():
        return [obj]
    gathered = [None] * world_size()
    dist.all_gather_object(gathered, obj)
    return gathered


class ShardSampler(torch.utils.data.Sampler):
    """Indices rank, rank + world_size, ...: each validation image is scored by exactly one
    process. (DistributedSampler pads shards to equal length by repeating images, which would
    count them twice.)"""

    def __init__(self, dataset):
        self.indices = range(rank(), len(dataset), world_size())

    def __iter__(self):
        return iter(self.indices)

    def __len__(self):
        return len(self.indices)
