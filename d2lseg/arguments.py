"""What counts as an integer argument, the same for every function of the package.

Sizes, counts, strides and seeds may be Python or NumPy integers or one-element integer
tensors; booleans are refused although Python counts them as integers (`True` as a crop side
or a stride is a bug, not 1), and so are floats, even 2.0.
"""

import operator

import numpy as np
import torch


def as_int(value):
    """`value` as a Python int if it is an integer scalar (Python, NumPy or a one-element
    integer tensor), else None."""
    if isinstance(value, bool | np.bool_):
        return None
    if torch.is_tensor(value) and (value.numel() != 1 or value.dtype == torch.bool):
        return None
    try:
        return operator.index(value)
    except TypeError:
        return None
