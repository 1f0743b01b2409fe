"""Files written whole or not at all, and the locks that keep a live run's files safe.

`write_atomically` writes into a temporary file beside the target, renamed over it only once
complete, so that a crash or Ctrl-C never leaves a half-written checkpoint, download or
history. While it (or the sample's or an extraction's temporary folder) writes, it holds a
shared `flock` on the folder's LOCK_NAME file; `remove_leftovers` deletes temporaries only
when it can lock that file exclusively, that is when no live process writes there (the kernel
releases the locks of a process that dies, whatever its pid namespace). Without
`fcntl` (Windows) nothing is locked and leftovers are never removed.
"""

import contextlib
import errno
import os
import re
import shutil
import stat
import tempfile
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None

LOCK_NAME = ".d2lseg.lock"
# The exact names of d2lseg's temporaries: ".<target>.pid<N>.<8 random>.tmp" (or ".part")
# by write_atomically, ".extract-pid<N>-<8 random>" and ".sample-pid<N>-<8 random>" folders.
_RANDOM = r"[a-z0-9_]{8}"
TEMPORARY = re.compile(rf"\.(.+\.pid\d+\.{_RANDOM}\.(tmp|part)|(extract|sample)-pid\d+-{_RANDOM})")
# What the disk or a limit refuses; the error then names the file.
NO_ROOM = (errno.ENOSPC, errno.EFBIG, getattr(errno, "EDQUOT", errno.ENOSPC))


def _lock(folder, operation):
    """An open file descriptor of folder/LOCK_NAME locked with `operation`, or None when
    the folder cannot hold one (missing, read-only) or, with LOCK_NB, when it is taken."""
    try:
        fd = os.open(Path(folder) / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError:
        return None
    try:
        fcntl.flock(fd, operation)
    except OSError:
        os.close(fd)
        return None
    return fd


@contextlib.contextmanager
def writing_in(folder):
    """Hold the shared lock of `folder` while writing temporaries in it."""
    fd = _lock(folder, fcntl.LOCK_SH) if fcntl is not None else None
    try:
        yield
    finally:
        if fd is not None:
            os.close(fd)


def remove_leftovers(*folders):
    """Delete d2lseg's temporaries (TEMPORARY, matched exactly) that killed runs left in
    `folders`, only when no live process writes in the folder (its lock is free)."""
    if fcntl is None:
        return
    for folder in map(Path, folders):
        if not folder.is_dir():
            continue
        fd = _lock(folder, fcntl.LOCK_EX | fcntl.LOCK_NB)
        if fd is None:  # a run is writing there, or the folder is read-only
            continue
        try:
            for path in folder.iterdir():
                if not TEMPORARY.fullmatch(path.name):
                    continue
                if path.is_dir() and not path.is_symlink():
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    path.unlink(missing_ok=True)
        finally:
            os.close(fd)


def _no_room(err):
    """The OSError of NO_ROOM behind `err` (torch.save raises a RuntimeError over it), or None."""
    while err is not None:
        if isinstance(err, OSError) and err.errno in NO_ROOM:
            return err
        err = err.__cause__ or err.__context__
    return None


def _mode_for(path):
    """An existing file's permission bits, else what the umask leaves of 0o666."""
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        umask = os.umask(0o077)
        os.umask(umask)
        return 0o666 & ~umask


def write_atomically(path, write, mode="wb", suffix=".tmp"):
    """Create or replace `path` with what `write(file)` writes to the open file (`mode` "wb"
    or "w"); if `write` raises, `path` is left as it was and the temporary file is removed.
    A symlink is written through (its target is replaced); the file keeps an existing file's
    permissions, else follows the umask. A full disk or a file-size limit is an OSError that
    names `path`."""
    path = Path(os.path.realpath(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    with writing_in(path.parent):
        prefix = f".{path.name}.pid{os.getpid()}."
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=prefix, suffix=suffix)
        try:
            with os.fdopen(fd, mode, **({} if "b" in mode else {"newline": ""})) as f:
                write(f)
            os.chmod(tmp, _mode_for(path))
            os.replace(tmp, path)
        except Exception as err:
            full = _no_room(err)
            if full is None:
                raise
            raise OSError(
                full.errno, f"cannot write {path}: {full.strerror}; the previous file is unchanged"
            ) from err
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)
    return path


def hold_lock(path, owner):
    """Lock the file `path` (created if missing) for this process alone and write `owner`
    in it; return its descriptor, to keep open while the lock is needed (the kernel releases
    it when the process ends). Another holder is a BlockingIOError naming what it wrote."""
    if fcntl is None:
        return None
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.read(fd, 1000).decode(errors="replace").strip() or "another process"
        os.close(fd)
        raise BlockingIOError(errno.EWOULDBLOCK, f"{path} is held by {holder}") from None
    os.ftruncate(fd, 0)
    os.write(fd, owner.encode())
    return fd
