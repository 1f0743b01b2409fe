"""Lets nbgrader and JupyterLab's formgrader find the course in `assignments/` when they are
started at the repository root (as `make lab` does)."""

load_subconfig("assignments/nbgrader_config.py")  # noqa: F821 (injected by traitlets)
