"""Fixtures of the browser test: JupyterLab in a temporary copy of the repository, and
headless Chromium (Debian's, driven by Playwright) that opens it as a student would."""

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
ARTIFACTS = REPO / "browser-artifacts"  # git-ignored: screenshots and the server log
TOKEN = "d2lseg-browser-test"
# What the server needs to run the tested notebooks and nbgrader's formgrader.
COPIED = ["d2lseg", "notebooks", "tests_browser", "assignments", "nbgrader_config.py"]
CHROMIUM_ARGS = [
    "--no-sandbox",  # root in containers
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Settings of a fresh JupyterLab that would get in the way of a test: the news pop-up asks a
# question, and off-screen cells are not in the page unless windowing is off.
SETTING_OVERRIDES = {
    "@jupyterlab/apputils-extension:notification": {"fetchNews": "false", "checkForUpdates": False},
    "@jupyterlab/notebook-extension:tracker": {"windowingMode": "none"},
}


def copy_repository(dest):
    """Copy the files git sees (tracked or untracked, not ignored) under COPIED into `dest`:
    the server, its autosave and the kernels then never write into the checkout."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard", "--", *COPIED],
        cwd=REPO,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    for name in sorted(set(filter(None, listed.split("\0")))):
        source = REPO / name
        if source.is_file():  # a tracked file deleted in the work tree is skipped
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Lab:
    """A running JupyterLab server: its URL, the copy it serves and its log."""

    def __init__(self, root, log_path):
        self.root = root
        self.log_path = log_path
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"

    def url(self, path):
        """URL of a page; `reset` so that a saved workspace does not reopen other tabs."""
        return f"{self.base}/{path}?reset&token={TOKEN}"

    def api(self, path):
        with urllib.request.urlopen(f"{self.base}/api/{path}?token={TOKEN}", timeout=10) as r:
            return json.load(r)

    def log_tail(self, lines=40):
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


@pytest.fixture(scope="session")
def artifacts():
    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    ARTIFACTS.mkdir()
    return ARTIFACTS


@pytest.fixture(scope="session")
def lab(tmp_path_factory, artifacts):
    """JupyterLab on a free port of 127.0.0.1 with a fixed token, serving a temporary copy of
    the repository; every Jupyter and IPython directory is inside the temporary folder."""
    tmp = tmp_path_factory.mktemp("lab")
    root = tmp / "repo"
    root.mkdir()
    copy_repository(root)
    config = tmp / "jupyter-config"
    (config / "labconfig").mkdir(parents=True)
    (config / "labconfig" / "default_setting_overrides.json").write_text(
        json.dumps(SETTING_OVERRIDES)
    )
    env = dict(
        os.environ,
        JUPYTER_CONFIG_DIR=str(config),
        JUPYTER_DATA_DIR=str(tmp / "jupyter-data"),
        JUPYTER_RUNTIME_DIR=str(tmp / "jupyter-runtime"),
        IPYTHONDIR=str(tmp / "ipython"),
        # The kernels import the copy's d2lseg, so the copy is what is tested.
        PYTHONPATH=os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")])),
    )
    # As in an activated environment: nbgrader runs its `alembic` command from PATH.
    env["PATH"] = os.pathsep.join([os.path.dirname(sys.executable), env.get("PATH", "")])
    env.pop("JUPYTER_PATH", None)
    env.pop("JUPYTER_CONFIG_PATH", None)
    lab = Lab(root, artifacts / "jupyter-server.log")
    command = [
        sys.executable,
        "-m",
        "jupyter",
        "lab",
        "--no-browser",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={lab.port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={TOKEN}",
        f"--ServerApp.root_dir={root}",
    ]
    if os.geteuid() == 0:
        command.append("--allow-root")
    with open(lab.log_path, "w") as log:
        # The repository root as working directory: nbgrader reads nbgrader_config.py there.
        server = subprocess.Popen(
            command, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        deadline = time.monotonic() + 90
        while True:
            if server.poll() is not None:
                pytest.fail(f"JupyterLab exited ({server.returncode}):\n{lab.log_tail()}")
            try:
                lab.api("status")
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"JupyterLab did not answer in 90 s:\n{lab.log_tail()}")
                time.sleep(0.3)
        yield lab
    finally:
        try:  # shuts the kernels down too
            urllib.request.urlopen(
                urllib.request.Request(f"{lab.base}/api/shutdown?token={TOKEN}", method="POST"),
                timeout=10,
            )
            server.wait(timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            os.killpg(server.pid, 15)
            server.wait(timeout=30)


@pytest.fixture(scope="session")
def browser():
    """Debian's headless Chromium through Playwright, with a fresh temporary profile."""
    from playwright.sync_api import sync_playwright

    executable = shutil.which("chromium")
    if executable is None:
        pytest.fail("no chromium on PATH: install Debian's with `sudo apt-get install chromium`")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    """A fresh page that records the browser console's errors and uncaught exceptions."""
    context = browser.new_context(viewport={"width": 1400, "height": 1100})
    page = context.new_page()
    page.console_errors = []
    page.on(
        "console",
        lambda m: page.console_errors.append(f"{m.type}: {m.text}") if m.type == "error" else None,
    )
    page.on("pageerror", lambda e: page.console_errors.append(f"uncaught: {e}"))
    yield page
    context.close()
