"""The static check of the answers' code for forbidden shortcuts (reported, never scored)."""

import ast
import re

from .problems import SUSPICIOUS_NAMES

MARKER = "HIDDEN TESTS"
IDENTIFIER = re.compile(r"[A-Za-z_][\w.]*")


def _python(source):
    """The cell as Python (IPython's magics and shell escapes turned into calls)."""
    try:
        from IPython.core.inputtransformer2 import TransformerManager

        source = TransformerManager().transform_cell(source)
    except Exception:  # noqa: BLE001 (then it is parsed as it is)
        pass
    return source


def _dotted(node):
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
    return ".".join(reversed(parts))


def _matches(name, token):
    if "." in token:
        return f".{token}." in f".{name}."
    return token in name.split(".")


def names_in(source):
    """(line, name) of every dotted name, import and string constant in `source`."""
    tree = ast.parse(_python(source))
    # Only whole chains: `torch.ops.aten.x` once, not also `torch.ops.aten` and `torch.ops`.
    inner = {id(n.value) for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.Attribute, ast.Name)) and id(node) not in inner:
            found.append((node.lineno, _dotted(node)))
        elif isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            found += [(node.lineno, f"{node.module or ''}.{a.name}") for a in node.names]
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            if IDENTIFIER.fullmatch(node.value):  # getattr(F, "conv_transpose2d"), not prose
                found.append((node.lineno, node.value))
    return found


def cell_hits(source, tokens):
    """Unique 'line N: name' hits of `tokens` in `source`, in the order of the syntax tree."""
    hits = []
    if MARKER in source:
        hits.append("contains the hidden-tests marker")
    try:
        found = names_in(source)
    except (SyntaxError, ValueError):
        return hits + ["does not parse as Python: not checked"]
    for line, name in found:
        for token in tokens:
            if name and _matches(name, token):
                hits.append(f"line {line}: {name[:80]}")
                break
    return sorted(set(hits), key=hits.index)


def static_hits(nb, problems):
    """(answer grade_id or 'notebook', 'static', what) for every answer cell and every cell the
    student added."""
    by_answer = {p.answer_id: p for p in problems}
    hits = []
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type != "code" or (meta and not meta.get("solution")):
            continue
        problem = by_answer.get(meta.get("grade_id"))
        tokens = SUSPICIOUS_NAMES + (problem.forbidden_names if problem else ())
        where = problem.answer_id if problem else "notebook"
        hits += [(where, "static", hit) for hit in cell_hits(cell.source, tokens)]
    return hits
