"""Files written whole or not at all: into a temporary file beside the target, renamed over it
only once complete, so that a crash or Ctrl-C never leaves a half-written checkpoint, download
or history. The process id in the temporary name lets `data.remove_leftovers` delete what a
killed process left at once."""

import os
import tempfile
from pathlib import Path


def write_atomically(path, write, mode="wb", suffix=".tmp"):
    """Create or replace `path` with what `write(file)` writes to the open file (`mode` "wb"
    or "w"); if `write` raises, `path` is left as it was and the temporary file is removed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    prefix = f".{path.name}.pid{os.getpid()}."
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=prefix, suffix=suffix)
    try:
        with os.fdopen(fd, mode, **({} if "b" in mode else {"newline": ""})) as f:
            write(f)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path
