"""The bubblewrap sandbox one submission runs in.

Namespaces of its own (no network, its own process ids, so that every process it starts dies
with it), an unprivileged user id (65534, also outside the sandbox when the grader runs as
root), a private /tmp, the Python environment and the system read-only, and of the course only
the scratch folder of this one notebook: `in/` (the notebook, the hidden inputs, the plan)
read-only, `out/` writable. Limits: processes, file size, open files, address space; the wall
time of each cell and of the notebook are kept by the runner, and the whole sandbox is killed at
the notebook's limit plus a margin.
"""

import importlib.util
import os
import shutil
import signal
import subprocess
import sys

UID = 65534
LIMITS = ["--nproc=64", "--fsize=268435456", "--nofile=512", "--core=0", "--as=12884901888"]
RUNNER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "runner.py")
REFUSAL = (
    "make grade needs the bubblewrap sandbox (apt-get install bubblewrap, Linux only); "
    "UNSAFE_GRADING=1 runs submissions unsandboxed, as the instructor (see assignments/README.md)"
)


class SandboxUnavailable(RuntimeError):
    pass


def unsafe_requested():
    return os.environ.get("UNSAFE_GRADING") == "1"


def _read_only_paths():
    """The system, the Python installation and the environment, and the d2lseg package the
    notebooks import (an editable install points into the repository)."""
    paths = ["/usr", "/etc", sys.base_prefix, sys.prefix]
    spec = importlib.util.find_spec("d2lseg")
    if spec and spec.submodule_search_locations:
        paths += list(spec.submodule_search_locations)
    kept = []
    for path in sorted({os.path.realpath(p) for p in paths}):
        if not any(path.startswith(k + os.sep) or path == k for k in kept):
            kept.append(path)
    return kept


def command(scratch):
    """The bwrap command that runs the runner on `scratch`."""
    root = os.geteuid() == 0
    args = ["bwrap", "--die-with-parent", "--new-session", "--unshare-all"]
    if root:
        # bwrap runs privileged: no user namespace (--unshare-all would try one), then setpriv
        # drops to the unprivileged uid for real, so that the process limit counts.
        args = ["bwrap", "--die-with-parent", "--new-session", "--unshare-ipc", "--unshare-pid"]
        args += ["--unshare-net", "--unshare-uts", "--unshare-cgroup-try"]
    else:
        args += ["--unshare-user", "--uid", str(UID), "--gid", str(UID)]
    # The private /tmp first: a bind below /tmp (a course cloned there) is then made inside it,
    # not hidden by it.
    args += ["--proc", "/proc", "--dev", "/dev", "--perms", "1777", "--size", str(512 * 2**20)]
    args += ["--tmpfs", "/tmp"]
    made = set()
    for path in _read_only_paths() + ["/grading"]:
        parts = path.strip("/").split("/")
        for depth in range(1, len(parts)):
            parent = "/" + "/".join(parts[:depth])
            if parent not in made:
                made.add(parent)
                args += ["--perms", "0755", "--dir", parent]
    for path in _read_only_paths():
        args += ["--ro-bind", path, path]
    for name in ("lib", "lib64", "bin", "sbin", "lib32"):
        if os.path.islink(f"/{name}"):
            args += ["--symlink", os.readlink(f"/{name}"), f"/{name}"]
        elif os.path.isdir(f"/{name}"):
            args += ["--ro-bind", f"/{name}", f"/{name}"]
    args += ["--perms", "0755", "--dir", "/grading"]
    args += ["--ro-bind", os.path.join(scratch, "in"), "/grading/in"]
    args += ["--bind", os.path.join(scratch, "out"), "/grading/out"]
    args += ["--ro-bind", RUNNER, "/grading/runner.py", "--chdir", "/tmp", "--clearenv"]
    env = {
        "PATH": f"{os.path.dirname(sys.executable)}:/usr/bin:/bin",
        "HOME": "/tmp",
        "IPYTHONDIR": "/tmp/.ipython",
        "JUPYTER_RUNTIME_DIR": "/tmp/.jupyter",
        "MPLCONFIGDIR": "/tmp/.matplotlib",
        "OMP_NUM_THREADS": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    for key, value in env.items():
        args += ["--setenv", key, value]
    if root:
        args += ["setpriv", f"--reuid={UID}", f"--regid={UID}", "--clear-groups"]
        args += ["--inh-caps=-all", "--bounding-set=-all", "--no-new-privs"]
    return args + ["prlimit", *LIMITS, sys.executable, "/grading/runner.py"]


_checked = None


def check():
    """Raise SandboxUnavailable unless bwrap runs here (checked once per process)."""
    global _checked
    if _checked is None:
        _checked = ""
        if shutil.which("bwrap") is None:
            _checked = "bwrap is not installed"
        else:
            probe = ["bwrap", "--ro-bind", "/", "/", "--unshare-net", "--unshare-pid"]
            if os.geteuid() != 0:
                probe += ["--unshare-user"]
            result = subprocess.run([*probe, "true"], capture_output=True, text=True)
            if result.returncode != 0:
                _checked = result.stderr.strip().splitlines()[-1:] or ["bwrap fails"]
                _checked = _checked[0]
    if _checked:
        raise SandboxUnavailable(f"{REFUSAL} ({_checked})")


def run_in_sandbox(scratch, wall_seconds, unsafe=False):
    """Run the runner on `scratch`; the last line it wrote on stderr if it failed (a hint when
    the notebook did not start), else ''. Every process of the sandbox is gone on return."""
    if unsafe:
        os.makedirs(os.path.join(scratch, "work"), exist_ok=True)
        env = dict(os.environ, GRADING_DIR=scratch, GRADING_WORK=os.path.join(scratch, "work"))
        args = [sys.executable, RUNNER]
    else:
        check()
        if os.geteuid() == 0:
            os.chown(os.path.join(scratch, "out"), UID, UID)
        env, args = None, command(scratch)
    proc = subprocess.Popen(
        args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True
    )
    try:
        _, stderr = proc.communicate(timeout=wall_seconds)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        _, stderr = proc.communicate()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    lines = stderr.decode(errors="replace").strip().splitlines()
    if proc.returncode and lines:
        return "".join(c for c in lines[-1] if c.isprintable())[:200]
    return ""
