"""Show the package's own source in a notebook, so that code is written once and taught there."""

import inspect


def show_source(*objects):
    """Display the source of functions or classes as a highlighted Python block."""
    from IPython.display import Markdown, display

    code = "\n\n".join(inspect.getsource(obj).rstrip() for obj in objects)
    display(Markdown(f"```python\n{code}\n```"))
