"""Every Python started with this folder on PYTHONPATH (tests_colab/run.sh) has `google.colab`
imported, as Colab's kernels do: the notebooks' setup cells then act as on Colab."""

import google.colab  # noqa: F401
