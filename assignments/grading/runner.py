"""Runs one notebook inside the sandbox (started by `sandbox.py`, never by the instructor).

Reads /grading/in/plan.json and /grading/in/notebook.ipynb, runs every code cell in a fresh
python3 kernel, and writes /grading/out/executed.json after each cell. Before each graded test
cell it asks the kernel, in a separate request, to call the student's function on that
problem's hidden cases (/grading/in/<test_id>.pt) and to save what it returns in
/grading/out/<test_id>.pt: returned values only, scored later outside the sandbox. A cell that
runs past the time limit, or a kernel that dies, costs that cell: the kernel is restarted, the
cells before it are run again silently, and the notebook goes on.

Only the standard library, jupyter_client and nbformat are used here; this file is bound
read-only into the sandbox, so the student's code cannot change it before it runs.
"""

import json
import os
import queue
import sys
import time

import nbformat
from jupyter_client.manager import KernelManager

BASE = os.environ.get("GRADING_DIR", "/grading")  # another folder only with UNSAFE_GRADING=1
IN, OUT, WORK = f"{BASE}/in", f"{BASE}/out", os.environ.get("GRADING_WORK", "/tmp/work")
MAX_TEXT = 20_000  # characters of output kept per cell; the feedback shows fewer

RECORD = r"""
def __grading_record(test_id, call, base):
    import torch
    from torch.utils._python_dispatch import TorchDispatchMode

    ops = set()

    class Ops(TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            name = "aten." + func.overloadpacket.__name__
            if name == "aten.convolution" and len(args) > 6 and args[6]:
                name = "aten.convolution(transposed)"
            ops.add(name)
            return func(*args, **(kwargs or {}))

    def plain(x, depth=0):
        if isinstance(x, torch.Tensor):
            x = x.detach()
            if x.layout == torch.sparse_coo:
                return {"layout": "sparse_coo", "indices": x._indices().clone(),
                        "values": x._values().clone(), "size": list(x.shape)}
            if x.layout != torch.strided:
                return f"unsupported layout {x.layout}"
            return x.as_subclass(torch.Tensor).clone()
        if isinstance(x, (bool, int, float, str)) or x is None:
            return x
        if isinstance(x, (list, tuple)) and depth < 3 and len(x) < 100:
            return [plain(v, depth + 1) for v in x]
        return "unsupported result of type " + type(x).__name__

    cases = torch.load(f"{base}/in/{test_id}.pt", weights_only=True)
    outputs = []
    for case in cases:
        try:
            with Ops():
                result = eval(call, globals(), dict(case))
            outputs.append({"ok": plain(result)})
        except BaseException as error:
            outputs.append({"error": f"{type(error).__name__}: {error}"[:300]})
    torch.save({"outputs": outputs, "ops": sorted(ops)}, f"{base}/out/{test_id}.pt")
"""


class Kernel:
    def __init__(self):
        self.km = KernelManager(kernel_name="python3")
        self.km.start_kernel(cwd=WORK)
        self.kc = self.km.client()
        self.kc.start_channels()
        self.kc.wait_for_ready(timeout=60)

    def run(self, code, timeout, silent=False):
        """(outputs, status) of `code`; status is ok, error, timeout or died."""
        msg_id = self.kc.execute(code, silent=silent, store_history=not silent, allow_stdin=False)
        outputs, status, size = [], "ok", 0
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return outputs, "timeout"
            try:
                msg = self.kc.get_iopub_msg(timeout=min(1.0, remaining))
            except queue.Empty:
                if not self.km.is_alive():
                    return outputs, "died"
                continue
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            kind, content = msg["msg_type"], msg["content"]
            if kind == "status" and content["execution_state"] == "idle":
                return outputs, status
            if kind == "error":
                status = "error"
            if kind == "clear_output":
                outputs = []
            elif kind in ("stream", "display_data", "execute_result", "error") and size < MAX_TEXT:
                output = nbformat.v4.output_from_msg(msg)
                size += len(json.dumps(output))
                outputs.append(output)

    def stop(self):
        try:
            self.kc.stop_channels()
            self.km.shutdown_kernel(now=True)
        except Exception:  # noqa: BLE001 (the sandbox is torn down anyway)
            pass


def write(result):
    with open(f"{OUT}/executed.json.part", "w") as f:
        json.dump(result, f)
    os.replace(f"{OUT}/executed.json.part", f"{OUT}/executed.json")


def main():
    with open(f"{IN}/plan.json") as f:
        plan = json.load(f)
    nb = nbformat.read(f"{IN}/notebook.ipynb", as_version=4)
    cell_timeout, deadline = plan["cell_timeout"], time.monotonic() + plan["notebook_timeout"]
    os.makedirs(WORK, exist_ok=True)
    result = {"cells": {}, "problems": {}}
    kernel, done = Kernel(), []  # done: indices of cells to replay after a restart
    write(result)  # the kernel started: from now on the notebook is graded, whatever happens

    def restart():
        nonlocal kernel
        kernel.stop()
        kernel = Kernel()
        for j in done:
            left = deadline - time.monotonic()
            if left <= 0 or kernel.run(nb.cells[j].source, min(cell_timeout, left), True)[1] in (
                "timeout",
                "died",
            ):
                return False
        return True

    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        test_id = plan["tests"].get(str(index))
        problem = plan["problems"].get(test_id)
        left = deadline - time.monotonic()
        if left <= 0:
            result["cells"][index] = {"outputs": [], "status": "notebook_timeout"}
            if problem:
                result["problems"][test_id] = "notebook_timeout"
            continue
        if problem:
            code = RECORD + f"\n__grading_record({test_id!r}, {problem['call']!r}, {BASE!r})\n"
            _, status = kernel.run(code, min(cell_timeout, left), silent=True)
            result["problems"][test_id] = status
            if status in ("timeout", "died"):
                result["cells"][index] = {"outputs": [], "status": "not_run"}
                write(result)
                if not restart():
                    break
                continue
        outputs, status = kernel.run(cell.source, min(cell_timeout, deadline - time.monotonic()))
        result["cells"][index] = {"outputs": outputs, "status": status}
        write(result)
        if status in ("timeout", "died"):
            if not restart():
                break
        elif not problem:
            done.append(index)
    write(result)
    kernel.stop()


if __name__ == "__main__":
    sys.exit(main())
