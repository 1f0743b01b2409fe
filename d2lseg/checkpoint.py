"""Checkpoints from which training resumes exactly, and which are safe to load from anyone.

A checkpoint holds only tensors and plain Python values (the random states included), so it is
read with `torch.load(weights_only=True)`: a crafted file cannot run code when it is loaded, as
an arbitrary pickle would. It is written to a temporary file and renamed, so a crash never
leaves half a checkpoint.
"""

import pickle
import random
import re
import zipfile
from pathlib import Path

import numpy as np
import torch

from . import distributed
from .files import write_atomically
from .model import num_classes_of, variant_of

FORMAT_VERSION = 1
FORMAT = f"d2lseg-checkpoint-v{FORMAT_VERSION}"
REQUIRED_KEYS = ("model", "num_classes", "history", "rng")
# Every field this version reads and writes back; a file with others is refused, as training
# would rewrite it without them.
KNOWN_KEYS = (*REQUIRED_KEYS, "format", "variant", "optimizer", "scheduler", "rng_by_rank",
              "scaler", "crop")  # fmt: skip


def _rng_state():
    """The random states of Python, NumPy and PyTorch as tensors and plain values."""
    version, mt, gauss = random.getstate()
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    state = {
        "python": {"version": version, "mt": torch.tensor(mt, dtype=torch.int64), "gauss": gauss},
        "numpy": {
            "kind": kind,
            "keys": torch.from_numpy(keys.astype(np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached": float(cached),
        },
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    if torch.backends.mps.is_available():
        state["mps"] = torch.mps.get_rng_state()
    return state


def _set_rng_state(state):
    py, npy = state["python"], state["numpy"]
    random.setstate((py["version"], tuple(py["mt"].tolist()), py["gauss"]))
    np.random.set_state(
        (npy["kind"], npy["keys"].numpy().astype(np.uint32), npy["pos"], npy["has_gauss"],
         npy["cached"])
    )  # fmt: skip
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    if "mps" in state and torch.backends.mps.is_available():
        torch.mps.set_rng_state(state["mps"])


def save_checkpoint(path, net, optimizer, scheduler, history, scaler=None, crop=None):
    """Write everything needed to resume (weights, optimizer, scheduler, gradient scaler,
    history, random states, training `crop`) to a temporary file, then rename it: a crash
    never leaves half a checkpoint. Under torchrun every process calls it and rank 0 writes,
    with the random states of every rank, so that each of them resumes its own random crops.
    Weights that are not finite are a FloatingPointError, and the previous file is kept."""
    if not all(torch.isfinite(v).all() for v in net.state_dict().values() if v.is_floating_point()):
        raise FloatingPointError(
            f"the weights are not finite after epoch {len(history)}, so {path} was not written "
            "(the previous checkpoint, if any, is kept); lower the learning rate"
        )
    rng_by_rank = distributed.gather(_rng_state())
    if not distributed.is_main():
        return
    state = {
        "format": FORMAT,
        "model": net.state_dict(),
        "num_classes": num_classes_of(net),
        "variant": variant_of(net),
        "optimizer": optimizer.state_dict() if optimizer is not None else None,
        "scheduler": scheduler.state_dict() if scheduler is not None else None,
        "history": history,
        "rng": rng_by_rank[0],
        "rng_by_rank": rng_by_rank,
        "scaler": scaler.state_dict() if scaler is not None and scaler.is_enabled() else None,
        "crop": None if crop is None else [int(side) for side in crop],
    }
    write_state(path, state)


def write_state(path, state):
    """torch.save `state` to `path`, atomically (d2lseg.files)."""
    write_atomically(path, lambda f: torch.save(state, f))


def read_checkpoint(path):
    """The contents of a d2lseg checkpoint, read without unpickling arbitrary objects.

    Anything else (text, an image, an empty or truncated file, a bare state_dict, a whole
    pickled model, a crafted pickle) is a ValueError that names the file and what is wrong."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist")
    if path.stat().st_size == 0:
        raise ValueError(f"{path} is empty, not a d2lseg checkpoint")
    if not zipfile.is_zipfile(path):  # what torch.save writes; a raw pickle is never read
        raise ValueError(
            f"{path} is not a readable PyTorch file (torch.save writes a zip archive; this is "
            "text, an image, a raw pickle or a truncated file)"
        )
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        raise ValueError(
            f"{path} was refused: it holds Python objects other than tensors and plain values "
            "(a whole pickled model, or a crafted file), which are never unpickled here; a "
            "d2lseg checkpoint is written by d2lseg.train_fcn(..., checkpoint=path)"
        ) from err
    except (RuntimeError, EOFError, OSError, zipfile.BadZipFile) as err:
        raise ValueError(
            f"{path} is not a readable PyTorch file (truncated, or not a checkpoint at all): {err}"
        ) from err
    if isinstance(state, dict) and state and all(torch.is_tensor(v) for v in state.values()):
        raise ValueError(
            f"{path} is a bare state_dict, not a d2lseg checkpoint; load it with "
            f"net.load_state_dict(torch.load(path, weights_only=True))"
        )
    missing = [k for k in REQUIRED_KEYS if not isinstance(state, dict) or k not in state]
    if missing:
        raise ValueError(f"{path} is not a d2lseg checkpoint: it lacks {', '.join(missing)}")
    _check_format(path, state)
    return state


def _check_format(path, state):
    """Refuse a checkpoint of another format (one without is from before formats, v1) or
    with fields this version does not know, which a resumed run would drop."""
    version = re.fullmatch(r"d2lseg-checkpoint-v(\d+)", str(state.get("format", FORMAT)))
    if version is None or int(version[1]) != FORMAT_VERSION:
        newer = version is not None and int(version[1]) > FORMAT_VERSION
        raise ValueError(
            f"{path} has checkpoint format {state['format']!r}"
            + (", written by a newer d2lseg; upgrade d2lseg to read it" if newer else "")
            + f" (this version reads {FORMAT!r})"
        )
    unknown = sorted(str(k) for k in state if k not in KNOWN_KEYS)
    if unknown:
        raise ValueError(
            f"{path} holds fields this version of d2lseg does not know ({', '.join(unknown)}), "
            "which resuming would drop; upgrade d2lseg to use it"
        )


def training_settings(state):
    """The peak learning rate, weight decay and crop a checkpoint was trained with (the
    optimizer's first parameter group; crop None in checkpoints from before it was kept)."""
    group = state["optimizer"]["param_groups"][0]
    lr = group.get("max_lr", group.get("initial_lr", group["lr"]))
    crop = state.get("crop")
    return {"lr": lr, "weight_decay": group["weight_decay"], "crop": crop and tuple(crop)}


def _total_steps(scheduler_state):
    """The number of steps a scheduler was built for, when it has one (OneCycleLR, cosine)."""
    for key in ("total_steps", "T_max"):
        if key in scheduler_state:
            return scheduler_state[key]
    return None


def _how_to_build(state):
    """The call that builds the model a checkpoint was saved from."""
    variant = state.get("variant", "32s")
    extra = f', variant="{variant}"' if variant != "32s" else ""
    return f"fcn_resnet18(num_classes={state['num_classes']}{extra})"


def load_checkpoint(path, net, optimizer=None, scheduler=None, scaler=None):
    """Load a checkpoint written by `save_checkpoint` into `net` (and the optimizer,
    scheduler and gradient scaler if given), restore this rank's random states, and return the
    history. Refuses a model with another number of classes or another variant (a checkpoint
    without one is from an FCN-32s), a scheduler built for another number of steps, and
    resuming with another number of processes."""
    state = read_checkpoint(path)
    rng_by_rank = state.get("rng_by_rank") or [state["rng"]]
    if optimizer is not None and len(rng_by_rank) != distributed.world_size():
        raise ValueError(
            f"checkpoint {path} was trained by {len(rng_by_rank)} process(es), so it resumes "
            f"exactly only with as many (torchrun --nproc_per_node), not {distributed.world_size()}"
        )
    expected = num_classes_of(net)
    if state["num_classes"] != expected:
        raise ValueError(
            f"checkpoint {path} was trained for {state['num_classes']} classes but the model "
            f"predicts {expected}; build it with {_how_to_build(state)}"
        )
    saved_variant = state.get("variant", "32s")  # checkpoints from before FCN-16s/8s
    if saved_variant != variant_of(net):
        raise ValueError(
            f"checkpoint {path} holds an FCN-{saved_variant} but the model is an "
            f"FCN-{variant_of(net)}; build it with {_how_to_build(state)}"
        )
    for name, obj in (("optimizer", optimizer), ("scheduler", scheduler)):
        if obj is not None and state.get(name) is None:
            raise ValueError(
                f"checkpoint {path} was saved without {name} state, so training cannot resume "
                f"from it; pass {name}=None to load only the weights"
            )
    if scheduler is not None:
        saved, built = _total_steps(state["scheduler"]), _total_steps(scheduler.state_dict())
        if saved != built:
            raise ValueError(
                f"checkpoint {path} was trained with a scheduler of {saved} steps, but the "
                f"scheduler given has {built}; rebuild it with the checkpoint's number of epochs "
                "and batches per epoch (or start a new checkpoint)"
            )
    try:
        net.load_state_dict(state["model"])
    except RuntimeError as err:  # missing, unexpected or misshapen weights
        raise ValueError(
            f"checkpoint {path} does not fit the model: {' '.join(str(err).split())}"
        ) from None
    if optimizer is not None:
        optimizer.load_state_dict(state["optimizer"])
    if scheduler is not None:
        scheduler.load_state_dict(state["scheduler"])
    if scaler is not None and state.get("scaler") is not None:
        scaler.load_state_dict(state["scaler"])
    _set_rng_state(rng_by_rank[distributed.rank() % len(rng_by_rank)])
    return state["history"]
