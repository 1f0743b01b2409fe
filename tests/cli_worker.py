"""A torchrun worker for tests/test_train_cli.py: `python -m d2lseg.train` in-process, then
this rank's weights saved to DIR/rank<r>.pt; or, with `kill`, the whole run killed (SIGKILL)
right after the first checkpoint is written, as a crash or a cluster's preemption would.

    torchrun ... tests/cli_worker.py save DIR -- <options of python -m d2lseg.train>
    torchrun ... tests/cli_worker.py kill - -- <options>
"""

import os
import signal
import sys

import torch

import d2lseg.train
from d2lseg import cli, distributed

mode, folder, separator, *options = sys.argv[1:]
assert separator == "--", sys.argv
if mode == "kill":
    save = d2lseg.train.save_checkpoint

    def save_then_die(*args, **kwargs):
        save(*args, **kwargs)
        distributed.barrier()  # rank 0 has renamed the checkpoint into place
        os.kill(os.getpid(), signal.SIGKILL)

    d2lseg.train.save_checkpoint = save_then_die
rank = int(os.environ["RANK"])
net, history = cli.main(options)
torch.save(net.state_dict(), os.path.join(folder, f"rank{rank}.pt"))
