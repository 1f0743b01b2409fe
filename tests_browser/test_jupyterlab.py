"""The course as students use it: JupyterLab in headless Chromium.

Each notebook is opened, "Restart Kernel and Run All Cells" is chosen from the Kernel menu, and
the page must then show what a student expects: every cell run once, in order, with no error
and no stderr; every figure loaded; every formula typeset; the shown source highlighted; the
training progress bar as a widget and the live plot redrawn after each epoch; no error in the
browser console. The expected counts come from the notebook files themselves (their committed
outputs were made under strict nbval).
"""

import importlib.util
import json
import re
import time
from pathlib import Path

import pytest
from conftest import REPO

NOTEBOOKS = [
    "notebooks/02_transposed_convolution.ipynb",
    "notebooks/04_bilinear_upsampling.ipynb",
    "tests_browser/quick_training.ipynb",
]
RUN_TIMEOUT = 240  # seconds for one notebook's Run All; all of them take about 1 minute

# The visible notebook panel: JupyterLab keeps hidden tabs in the page too.
PANEL = ".jp-NotebookPanel:not(.lm-mod-hidden)"

# Watches the notebook while it runs: which code cells showed the busy prompt `[*]`, and
# every distinct image each cell showed (a hash of its source), so that a redrawn plot is seen
# even though only its last version is left in the page.
RECORDER = """panel => {
  const notebook = document.querySelector(panel + ' .jp-Notebook');
  const seen = {busy: new Set(), images: new Map()};
  const hashed = new WeakMap();
  const hash = s => {
    let h = 0;
    for (let i = 0; i < s.length; i++) h = (h * 31 + s.charCodeAt(i)) | 0;
    return h + ':' + s.length;
  };
  const scan = () => notebook.querySelectorAll('.jp-Cell').forEach((cell, i) => {
    const prompt = cell.querySelector('.jp-InputPrompt');
    if (cell.classList.contains('jp-CodeCell') && prompt.textContent.includes('*')) {
      seen.busy.add(i);
    }
    cell.querySelectorAll('.jp-OutputArea img').forEach(img => {
      const last = hashed.get(img);
      if (last && last.src === img.src) return;
      hashed.set(img, {src: img.src});
      if (!seen.images.has(i)) seen.images.set(i, new Set());
      seen.images.get(i).add(hash(img.src));
    });
  });
  new MutationObserver(scan).observe(notebook, {
    subtree: true, childList: true, characterData: true, attributes: true,
    attributeFilter: ['src'],
  });
  window.d2lsegSeen = seen;
}"""

# The state of the run, read from the page: the kernel indicator and the prompts.
RUN_STATE = """panel => ({
  status: document.querySelector(panel + ' .jp-Notebook-ExecutionIndicator')
    ?.getAttribute('data-status'),
  prompts: Array.from(document.querySelectorAll(panel + ' .jp-CodeCell .jp-InputPrompt'),
                      p => p.textContent.trim()),
  busySeen: window.d2lsegSeen.busy.size,
})"""

# Everything the assertions need, per cell (index as in the .ipynb file).
PAGE_REPORT = """panel => {
  const cells = Array.from(document.querySelectorAll(panel + ' .jp-Notebook .jp-Cell'));
  return cells.map((cell, i) => ({
    code: cell.classList.contains('jp-CodeCell'),
    prompt: cell.querySelector('.jp-InputPrompt')?.textContent.trim() ?? '',
    busySeen: window.d2lsegSeen.busy.has(i),
    imagesSeen: window.d2lsegSeen.images.has(i) ? window.d2lsegSeen.images.get(i).size : 0,
    stderr: Array.from(cell.querySelectorAll(
      '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]'),
      e => e.textContent.slice(0, 500)),
    errors: Array.from(cell.querySelectorAll('.jp-OutputArea-output.jp-mod-error, ' +
      '.jp-OutputArea-child:has(.jp-RenderedText[data-mime-type*="error"])'),
      e => e.textContent.slice(0, 500)),
    outputText: Array.from(cell.querySelectorAll('.jp-OutputArea-output'),
                           e => e.textContent).join('\\n'),
    images: Array.from(cell.querySelectorAll('img'), img => ({
      output: img.closest('.jp-OutputArea') !== null,
      loaded: img.complete && img.naturalWidth > 0,
      src: img.src.slice(0, 80),
    })),
    math: cell.querySelectorAll('.jp-RenderedMarkdown mjx-container').length,
    // A TeX error, or an undefined macro (MathJax shows its name in red).
    mathErrors: Array.from(cell.querySelectorAll(
      'mjx-merror, [data-mjx-error], mjx-container [style*="color: red"]'),
      e => e.getAttribute('data-mjx-error') || e.textContent),
    sourceBlocks: Array.from(cell.querySelectorAll('.jp-OutputArea .jp-RenderedMarkdown pre'),
      pre => ({text: pre.textContent,
               highlighted: pre.querySelectorAll('span[class]').length,
               colours: new Set(Array.from(pre.querySelectorAll('span[class]'),
                                           span => getComputedStyle(span).color)).size})),
    widgets: {
      // ipywidgets' progress bar (horizontal, as tqdm makes it)
      progress: cell.querySelectorAll('.jp-OutputArea .widget-hprogress').length,
      text: Array.from(cell.querySelectorAll('.jp-OutputArea .jupyter-widgets'),
                       w => w.textContent).join(' '),
    },
  }));
}"""


def cell_source(cell):
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def math_spans(markdown):
    """How many formulas a Markdown cell holds: `$...$` and `$$...$$` outside code."""
    text = re.sub(r"```.*?```", "", markdown, flags=re.S)
    text = re.sub(r"`[^`]*`", "", text)
    return len(re.findall(r"\$\$.+?\$\$|\$[^$]+?\$", text, flags=re.S))


def wait_until_ready(page, lab, notebook):
    """Wait until the notebook is fully there: every cell in the page, and the kernel started,
    named in the toolbar and idle. Running all cells any earlier once left them all at [*]."""
    kernelspecs = lab.api("kernelspecs")
    name = notebook["metadata"]["kernelspec"]["name"]
    display_name = kernelspecs["kernelspecs"][name]["spec"]["display_name"]
    page.wait_for_function(
        """([panel, cells, kernel]) => {
          const p = document.querySelector(panel);
          return p && p.querySelectorAll('.jp-Notebook .jp-Cell').length === cells
            && p.querySelector('.jp-KernelName')?.textContent.trim() === kernel
            && p.querySelector('.jp-Notebook-ExecutionIndicator')
                 ?.getAttribute('data-status') === 'idle';
        }""",
        arg=[PANEL, len(notebook["cells"]), display_name],
        timeout=90_000,
    )
    page.wait_for_timeout(1000)  # let the kernel's first messages settle


def restart_and_run_all(page):
    """As a student does it: Kernel menu, "Restart Kernel and Run All Cells…", Restart."""
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Kernel$")).click()
    page.locator(
        ".lm-Menu-itemLabel", has_text=re.compile(r"^Restart Kernel and Run All Cells")
    ).click()
    page.locator(".jp-Dialog .jp-mod-accept").click()


def wait_until_run_finished(page):
    """The server reports the kernel idle while cells still run, so completion is read from
    the page: the run has started (a cell showed [*]), no prompt is [*] any more, and the
    notebook's kernel indicator is idle, twice in a row a second apart."""
    deadline = time.monotonic() + RUN_TIMEOUT
    quiet, state = 0, None
    while quiet < 2:
        if time.monotonic() > deadline:
            raise AssertionError(f"Run All did not finish in {RUN_TIMEOUT} s: {state}")
        page.wait_for_timeout(1000)
        state = page.evaluate(RUN_STATE, PANEL)
        running = any("*" in p for p in state["prompts"])
        done = state["busySeen"] > 0 and not running and state["status"] == "idle"
        quiet = quiet + 1 if done else 0


def wait_for_math(page, expected):
    """MathJax typesets after the page is shown; wait for it, up to 30 s."""
    try:
        page.wait_for_function(
            "([panel, n]) => document.querySelectorAll("
            "panel + ' .jp-RenderedMarkdown mjx-container').length >= n",
            arg=[PANEL, expected],
            timeout=30_000,
        )
    except Exception:  # the assertion below says what is missing
        pass


def save_screenshot(page, report, path):
    """Scroll the last cell with a figure into view (the live plot, in the training
    notebook), then take a screenshot."""
    with_images = [i for i, cell in enumerate(report) if cell["images"]]
    if with_images:
        page.locator(f"{PANEL} .jp-Notebook .jp-Cell").nth(
            with_images[-1]
        ).scroll_into_view_if_needed()
    page.screenshot(path=path)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: Path(p).stem)
def test_restart_and_run_all(page, lab, artifacts, path):
    notebook = json.loads((REPO / path).read_text())
    screenshot = artifacts / f"{Path(path).stem}.png"
    try:
        page.goto(lab.url(f"lab/tree/{path}"))
        wait_until_ready(page, lab, notebook)
        page.evaluate(RECORDER, PANEL)
        restart_and_run_all(page)
        wait_until_run_finished(page)
        cells = notebook["cells"]
        wait_for_math(
            page, sum(math_spans(cell_source(c)) for c in cells if c["cell_type"] == "markdown")
        )
        page.wait_for_timeout(500)  # the last images decode
        report = page.evaluate(PAGE_REPORT, PANEL)
        save_screenshot(page, report, screenshot)
        print(f"{path}: {check_page(cells, report, page.console_errors)}")
    except BaseException:
        failed = artifacts / f"{Path(path).stem}-FAILED.png"
        try:
            page.screenshot(path=failed)
        finally:
            print(f"screenshot: {failed}\nserver log: {lab.log_path}")
        raise


def check_page(cells, report, console_errors):
    assert len(report) == len(cells), "the page does not show every cell of the file"
    code = [(i, cells[i], report[i]) for i in range(len(cells)) if cells[i]["cell_type"] == "code"]
    assert all(r["code"] for _, _, r in code), "cell types differ between the file and the page"

    # Every code cell ran in this run, once, in order, after the restart.
    prompts = [r["prompt"] for _, _, r in code]
    assert prompts == [f"[{n}]:" for n in range(1, len(code) + 1)], prompts
    assert all(r["busySeen"] for _, _, r in code), "a code cell never showed [*] during the run"

    for i, _, r in code:
        assert not r["stderr"], f"cell {i} wrote to stderr: {r['stderr']}"
        assert not r["errors"], f"cell {i} raised: {r['errors']}"

    # Every image is there and loaded; as many figures as the committed (nbval-checked)
    # outputs hold, or at least one where nothing is committed.
    images = [image for r in report for image in r["images"]]
    assert all(image["loaded"] for image in images), f"an image did not load: {images}"
    figures = sum(image["output"] for image in images)
    committed = sum(
        "image/png" in output.get("data", {}) for c in cells for output in c.get("outputs", [])
    )
    assert figures == committed or (committed == 0 and figures), (figures, committed)

    # Formulas: MathJax typeset each one, with no error.
    formulas = 0
    for i, cell in enumerate(cells):
        if cell["cell_type"] == "markdown":
            expected = math_spans(cell_source(cell))
            typeset = report[i]["math"]
            assert typeset == expected, f"markdown cell {i}: {typeset} of {expected} typeset"
            assert not report[i]["mathErrors"], f"cell {i}, MathJax: {report[i]['mathErrors']}"
            formulas += typeset

    # show_source: a highlighted Python block holding the definition.
    blocks = 0
    for i, cell, r in code:
        if "show_source(" in cell_source(cell):
            assert r["sourceBlocks"], f"cell {i} shows no source block"
            for block in r["sourceBlocks"]:
                text = block["text"]
                assert re.search(r"^(def|class) \w+", text, flags=re.M), text[:200]
                highlighted = block["highlighted"] >= 10 and block["colours"] >= 3
                assert highlighted, f"cell {i}: source block not highlighted: {block}"
                blocks += 1

    # Training: the progress bar is an ipywidgets widget that reached 100%, and the live plot
    # showed one image more than epochs (the empty axes, then one per epoch).
    redrawn = []
    for i, cell, r in code:
        if "fit_fcn(" in cell_source(cell):
            epochs = int(re.search(r'"num_epochs": (\d+)', cell_source(cell)).group(1))
            widgets = r["widgets"]
            assert widgets["progress"] == 1, f"no progress widget in cell {i}: {r['outputText']}"
            assert "100%" in widgets["text"], widgets["text"]
            assert "Error" not in r["outputText"], r["outputText"][:500]
            assert r["imagesSeen"] >= epochs + 1, f"plot drawn {r['imagesSeen']}x, {epochs} epochs"
            redrawn.append(f"live plot drawn {r['imagesSeen']} times in {epochs} epochs")

    assert not console_errors, "browser console:\n" + "\n".join(console_errors)
    return (
        f"{len(code)} code cells run in order, {figures} figures and {len(images)} images "
        f"loaded, {formulas} formulas typeset, {blocks} highlighted source blocks"
        + "".join(f", {line}" for line in redrawn)
    )


@pytest.mark.skipif(
    not (REPO / "assignments" / "nbgrader_config.py").is_file()
    or importlib.util.find_spec("nbgrader") is None,
    reason="no assignments/nbgrader_config.py or no nbgrader",
)
def test_formgrader_lists_the_assignments(page, lab, artifacts):
    """nbgrader's formgrader page loads from the repository root and lists every assignment
    under assignments/source."""
    expected = sorted(p.name for p in (REPO / "assignments" / "source").iterdir() if p.is_dir())
    try:
        response = page.goto(lab.url("formgrader"))
        assert response.ok, response.status
        page.wait_for_selector("#main-table td.name a", timeout=60_000)
        page.wait_for_timeout(1000)
        listed = sorted(page.locator("#main-table td.name a").all_text_contents())
        page.screenshot(path=artifacts / "formgrader.png")
        assert listed == expected
        assert not page.console_errors, "browser console:\n" + "\n".join(page.console_errors)
    except BaseException:
        failed = artifacts / "formgrader-FAILED.png"
        try:
            page.screenshot(path=failed)
        finally:
            print(f"screenshot: {failed}\nserver log: {lab.log_path}")
        raise
