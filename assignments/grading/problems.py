"""The graded problems: the hidden cases every submission is run on, and their oracles.

Nothing here runs in the student's process. For each autograded test cell of a problem set,
`cases(gen)` draws the hidden inputs (plain tensors and numbers, handed to the sandbox), `call`
is the expression the sandboxed kernel evaluates on each case, `kind(case)` says what kind of
case it is (dtype, shapes, stride, never values) and `check(case, output, kind, gen)` decides,
in the grader's own process, whether the recorded output is right: `None` when it is,
otherwise the message the student's feedback shows, naming the kind of case. The oracles are
those of the source notebooks' hidden tests (torchvision, `torch.nn.functional`, brute force),
computed here only.

`forbidden_ops` are the ATen operators a problem forbids (today's hidden tests patched their
Python entry points); an answer seen calling one fails the problem. `forbidden_names` are looked
for statically in the answer's code and only reported (`integrity.csv`).
"""

from dataclasses import dataclass, field

import torch
from torch import nn
from torch.nn import functional as F

VOID = 255

# Reported wherever they appear in an answer cell: ways around a problem's rules or the grader.
SUSPICIOUS_NAMES = (
    "torch.ops",
    "torch._C",
    "torch.nn.grad",
    "grid_sample",
    "scipy",
    "d2lseg",
    "getattr",
    "setattr",
    "importlib",
    "__import__",
    "exec",
    "eval",
    "compile",
    "sys._getframe",
    "_getframe",
    "f_locals",
    "f_back",
    "inspect",
    "gc",
    "ctypes",
    "get_ipython",
    "input_transformers",
    "ast_transformers",
    "builtins",
    "__builtins__",
    "globals",
    "open",
    "os",
    "subprocess",
    "signal",
    "sys.modules",
    "torch.testing",
    "assert_close",
    # Ways to call an operator where the run-time check does not look.
    "threading",
    "multiprocessing",
    "concurrent",
    "_python_dispatch",
    "TorchDispatchMode",
    "TorchFunctionMode",
    "_disable_current_modes",
)
CONV_TRANSPOSE_NAMES = ("conv_transpose2d", "conv_transpose", "ConvTranspose2d")
CONV_TRANSPOSE_OPS = (
    "aten.convolution(transposed)",
    "aten.convolution_backward",
    "aten.slow_conv_transpose2d",
    "aten.conv_transpose2d",
)
INTERPOLATE_NAMES = ("interpolate", "upsample", "Upsample", "resize", "zoom")
INTERPOLATE_OPS = ("aten.upsample_", "aten._upsample_", "aten.grid_sampler")
CROSS_ENTROPY_NAMES = ("cross_entropy", "nll_loss", "CrossEntropyLoss", "NLLLoss")
CROSS_ENTROPY_OPS = ("aten.nll_loss", "aten.cross_entropy")


@dataclass(frozen=True)
class Problem:
    test_id: str  # grade_id of the autograded test cell
    answer_id: str  # grade_id of the answer cell it grades
    call: str  # evaluated in the student's kernel, the case's entries as local names
    cases: object  # gen -> list of dicts of tensors and numbers
    kind: object  # case -> what kind of case it is, for the feedback (never its values)
    check: object  # (case, output, kind, gen) -> None or a message
    forbidden_ops: tuple = ()
    forbidden_names: tuple = field(default=())


def _pair(value):
    return (value, value) if isinstance(value, int) else tuple(value)


def _dtype_name(dtype):
    return str(dtype).removeprefix("torch.")


def _tensor(out, what="the result"):
    if not isinstance(out, torch.Tensor) or out.is_sparse:
        return f"{what} is not a dense tensor"
    return None


def _compare(out, expected, kind, differs, what="the result", exact=False, **tolerance):
    """None if `out` has `expected`'s dtype, shape and values, else a message naming what is
    wrong and the kind of case (never its values): the student's feedback shows it."""
    if message := _tensor(out, what):
        return message
    if out.dtype != expected.dtype:
        got, wanted = _dtype_name(out.dtype), _dtype_name(expected.dtype)
        return f"{what} is {got} where {wanted} is expected, on {kind} (keep the dtype)"
    if out.shape != expected.shape:
        return f"{what} has the wrong shape on {kind}"
    if exact:
        right = torch.equal(out, expected)
    else:
        try:
            torch.testing.assert_close(out, expected, **tolerance)
            right = True
        except (AssertionError, TypeError, ValueError, RuntimeError):
            right = False
    return None if right else f"{what} {differs} on {kind}"


def _conv_kind(dtype, kernel_shape, stride, padding):
    """'a float64 case with a non-square kernel, stride > 1, sh != sw, no padding, ...'."""
    (kh, kw), (sh, sw), (ph, pw) = kernel_shape, _pair(stride), _pair(padding)
    parts = ["a non-square kernel" if kh != kw else "a square kernel"]
    parts.append("stride 1" if (sh, sw) == (1, 1) else "stride > 1")
    if sh != sw:
        parts.append("sh != sw")
    parts.append("padding > 0" if (ph, pw) != (0, 0) else "no padding")
    if (sh, sw) != (ph, pw):
        parts.append("stride != padding")
    return f"a {_dtype_name(dtype)} case with " + ", ".join(parts)


def _size_kind(dtype, in_shape, out_shape):
    """'a float64 case with a non-square input, enlarged'."""
    square = "a square" if in_shape[0] == in_shape[1] else "a non-square"
    grows = [o > i for i, o in zip(in_shape, out_shape, strict=True)]
    change = "enlarged" if all(grows) else "shrunk" if not any(grows) else "enlarged on one axis"
    return f"a {_dtype_name(dtype)} case with {square} input, {change}"


def _pair_of_tensors(out):
    if not isinstance(out, (list, tuple)) or len(out) != 2:
        return "does not return a pair (image, label)"
    return _tensor(out[0], "the image") or _tensor(out[1], "the label")


# ps01 ----------------------------------------------------------------------------------------
def _image_and_label(gen, i, h, w):
    """A float32 or float64 image and an int64 or uint8 label of size h x w, by case number."""
    dtype = (torch.float32, torch.float64)[i % 2]
    image = torch.rand(3, h, w, generator=gen, dtype=dtype)
    label = torch.randint(0, 21, (h, w), generator=gen).to((torch.int64, torch.uint8)[i // 2 % 2])
    return image, label


def _flip_resize_cases(gen):
    cases = []
    for i in range(20):
        h, w = torch.randint(3, 20, (2,), generator=gen).tolist()
        size = torch.randint(2, 40, (2,), generator=gen).tolist()
        flip = bool(torch.randint(2, (1,), generator=gen))
        image, label = _image_and_label(gen, i, h, w)
        label[torch.rand(h, w, generator=gen) < 0.2] = VOID
        cases.append({"image": image, "label": label, "flip": flip, "size": tuple(size)})
    return cases


def _flip_resize_kind(case):
    image, label, size = case["image"], case["label"], case["size"]
    kind = _size_kind(image.dtype, label.shape, size)
    return kind + f", {_dtype_name(label.dtype)} label" + (", flipped" if case["flip"] else "")


def _flip_resize_check(case, out, kind, gen):
    from torchvision import tv_tensors
    from torchvision.transforms.v2 import InterpolationMode
    from torchvision.transforms.v2 import functional as TF

    if message := _pair_of_tensors(out):
        return message
    image, label, size = case["image"], case["label"], list(case["size"])
    if case["flip"]:
        image, label = image.flip(-1), label.flip(-1)
    ref_img = TF.resize(tv_tensors.Image(image), size, InterpolationMode.BILINEAR, antialias=False)
    floor = TF.resize(tv_tensors.Mask(label), size).as_subclass(torch.Tensor)  # "nearest"
    exact = F.interpolate(label[None, None].double(), size=size, mode="nearest-exact")
    exact = exact[0, 0].to(label.dtype)
    message = _compare(
        out[0], ref_img.as_subclass(torch.Tensor), kind, "differs from torchvision", "the image"
    )
    if message:
        return message
    neither = "is neither nearest nor nearest-exact resizing"
    message = _compare(out[1], floor, kind, neither, "the label", exact=True)
    if message and _compare(out[1], exact, kind, neither, "the label", exact=True) is None:
        return None  # the other rule, as the text allows
    return message


def _pad_cases(gen):
    cases = []
    for i in range(20):
        h, w, height, width = torch.randint(1, 12, (4,), generator=gen).tolist()
        image, label = _image_and_label(gen, i, h, w)
        cases.append({"image": image, "label": label, "height": height, "width": width})
    return cases


def _pad_kind(case):
    (h, w), height, width = case["label"].shape, case["height"], case["width"]
    short = (height > h) + (width > w)
    change = ("large enough", "too small on one axis", "too small on both axes")[short]
    return f"a {_dtype_name(case['image'].dtype)} case, {change}"


def _pad_check(case, out, kind, gen):
    from torchvision import tv_tensors
    from torchvision.transforms.v2 import functional as TF

    if message := _pair_of_tensors(out):
        return message
    (h, w), height, width = case["label"].shape, case["height"], case["width"]
    padding = [0, 0, max(width - w, 0), max(height - h, 0)]
    ref_img = TF.pad(tv_tensors.Image(case["image"]), padding, fill=0).as_subclass(torch.Tensor)
    ref_lab = TF.pad(tv_tensors.Mask(case["label"]), padding, fill=VOID).as_subclass(torch.Tensor)
    return _compare(
        out[0], ref_img, kind, "differs from torchvision's pad", "the image", exact=True
    ) or _compare(out[1], ref_lab, kind, "differs from torchvision's pad", "the label", exact=True)


# ps02 ----------------------------------------------------------------------------------------
def _insert_zeros_cases(gen):
    cases = []
    for i in range(20):
        n, c, h, w, sh, sw = torch.randint(1, 5, (6,), generator=gen).tolist()
        stride = sh if i % 5 == 0 else (sh, sw)
        dtype = (torch.float32, torch.float64)[i % 2]
        cases.append({"X": torch.randn(n, c, h, w, generator=gen, dtype=dtype), "stride": stride})
    return cases


def _insert_zeros_kind(case):
    (sh, sw), form = _pair(case["stride"]), "a pair"
    if isinstance(case["stride"], int):
        form = "an int"
    kind = f"a {_dtype_name(case['X'].dtype)} case with the stride as {form}"
    return kind + (", sh != sw" if sh != sw else "")


def _insert_zeros_check(case, out, kind, gen):
    X = case["X"]
    ones = torch.ones(X.shape[1], 1, 1, 1, dtype=X.dtype)
    expected = F.conv_transpose2d(X, ones, stride=_pair(case["stride"]), groups=X.shape[1])
    return _compare(out, expected, kind, "differs", exact=True)


def _trans_conv_cases(gen):
    cases = []
    for i in range(20):
        n, c_in, c_out, h, w = torch.randint(1, 4, (5,), generator=gen).tolist()
        kh, kw, sh, sw = torch.randint(1, 5, (4,), generator=gen).tolist()
        ph, pw = (torch.randint(0, k, (1,), generator=gen).item() for k in (kh, kw))
        dtype = (torch.float64, torch.float32)[i % 4 == 3]
        X = torch.randn(n, c_in, h + 3, w + 3, generator=gen, dtype=dtype)
        K = torch.randn(c_in, c_out, kh, kw, generator=gen, dtype=dtype)
        cases.append({"X": X, "K": K, "stride": (sh, sw), "padding": (ph, pw)})
    return cases


def _trans_conv_kind(case):
    return _conv_kind(case["X"].dtype, case["K"].shape[-2:], case["stride"], case["padding"])


def _trans_conv_check(case, out, kind, gen):
    X, K, stride, padding = case["X"], case["K"], case["stride"], case["padding"]
    expected = F.conv_transpose2d(X, K, stride=stride, padding=padding)
    return _compare(out, expected, kind, "differs from F.conv_transpose2d")


# ps03 ----------------------------------------------------------------------------------------
def _coo_cases(gen):
    cases = []
    for _ in range(20):
        kh, kw, sh, sw = torch.randint(1, 4, (4,), generator=gen).tolist()
        ph, pw = (torch.randint(0, k, (1,), generator=gen).item() for k in (kh, kw))
        shape = tuple(torch.randint(4, 9, (2,), generator=gen).tolist())
        K = torch.randn(kh, kw, generator=gen, dtype=torch.float64)
        cases.append({"K": K, "shape": shape, "stride": (sh, sw), "padding": (ph, pw)})
    # A 400 x 400 input: the dense matrix would take 100 GB.
    K = torch.randn(3, 3, generator=gen)
    cases.append({"K": K, "shape": (400, 400), "stride": (1, 1), "padding": (1, 1)})
    return cases


def _sparse_from_record(out):
    """The COO tensor rebuilt from the recorded {"indices", "values", "size"}, or a message."""
    if not isinstance(out, dict) or out.get("layout") != "sparse_coo":
        return None, "the result is not a sparse COO tensor"
    indices, values, size = out.get("indices"), out.get("values"), out.get("size")
    if not (isinstance(indices, torch.Tensor) and isinstance(values, torch.Tensor)):
        return None, "the result is not a sparse COO tensor"
    try:
        matrix = torch.sparse_coo_tensor(
            indices, values, tuple(size), check_invariants=True, is_coalesced=False
        )
    except (RuntimeError, TypeError, ValueError):
        return None, "the result is not a valid sparse COO tensor"
    return matrix, None


def _dense_by_columns(K, input_shape, stride, padding):
    impulses = torch.eye(input_shape[0] * input_shape[1], dtype=K.dtype)
    impulses = impulses.reshape(-1, 1, *input_shape)
    out = F.conv2d(impulses, K[None, None], stride=stride, padding=padding)
    return out.reshape(out.shape[0], -1).T


def _coo_kind(case):
    K, shape = case["K"], case["shape"]
    if shape == (400, 400):
        return "the float32 case with a 400 x 400 input"
    kind = _conv_kind(K.dtype, K.shape, case["stride"], case["padding"])
    return kind + (", a non-square input" if shape[0] != shape[1] else "")


def _coo_check(case, out, kind, gen):
    M, message = _sparse_from_record(out)
    if message:
        return message
    K, shape = case["K"], case["shape"]
    if shape == (400, 400):
        if M.dtype != K.dtype:
            return f"the matrix is {_dtype_name(M.dtype)} on {kind} (keep the kernel's dtype)"
        if M.shape != (400 * 400, 400 * 400):
            return f"the matrix has the wrong shape on {kind}"
        x = torch.randn(400, 400, generator=gen)
        got = torch.sparse.mm(M, x.reshape(-1, 1)).reshape(400, 400)
        expected = F.conv2d(x[None, None], K[None, None], padding=1)[0, 0]
        return _compare(got, expected, kind, "gives a convolution that differs", "M @ x")
    expected = _dense_by_columns(K, shape, case["stride"], case["padding"])
    if M.shape != expected.shape:
        return f"the matrix has the wrong shape on {kind}"
    if message := _compare(M.to_dense(), expected, kind, "differs", "the matrix"):
        return message
    if M.coalesce()._nnz() != torch.count_nonzero(expected):
        return f"the matrix stores entries of the padding on {kind}"
    return None


def _by_matrix_cases(gen):
    cases = []
    for _ in range(20):
        kh, kw, sh, sw = torch.randint(1, 4, (4,), generator=gen).tolist()
        ph, pw = (torch.randint(0, k, (1,), generator=gen).item() for k in (kh, kw))
        height, width = torch.randint(4, 9, (2,), generator=gen).tolist()
        K = torch.randn(kh, kw, generator=gen, dtype=torch.float64)
        out_h, out_w = (height + 2 * ph - kh) // sh + 1, (width + 2 * pw - kw) // sw + 1
        Y = torch.randn(out_h, out_w, generator=gen, dtype=torch.float64)
        cases.append(
            {"Y": Y, "K": K, "shape": (height, width), "stride": (sh, sw), "padding": (ph, pw)}
        )
    return cases


def _by_matrix_kind(case):
    kind = _conv_kind(case["K"].dtype, case["K"].shape, case["stride"], case["padding"])
    return kind + (", a non-square input" if case["shape"][0] != case["shape"][1] else "")


def _by_matrix_check(case, out, kind, gen):
    Y, K, (height, width) = case["Y"], case["K"], case["shape"]
    (sh, sw), (ph, pw), (kh, kw) = case["stride"], case["padding"], K.shape
    out_h, out_w = Y.shape
    extra = (height - ((out_h - 1) * sh - 2 * ph + kh), width - ((out_w - 1) * sw - 2 * pw + kw))
    expected = F.conv_transpose2d(
        Y[None, None], K[None, None], stride=(sh, sw), padding=(ph, pw), output_padding=extra
    )[0, 0]
    return _compare(out, expected, kind, "differs from F.conv_transpose2d")


# ps04 ----------------------------------------------------------------------------------------
def _matrix_cases(gen):
    return [
        dict(
            zip(
                ("in_size", "out_size"),
                torch.randint(1, 30, (2,), generator=gen).tolist(),
                strict=True,
            )
        )
        for _ in range(30)
    ]


def _matrix_kind(case):
    in_size, out_size = case["in_size"], case["out_size"]
    change = "enlarges" if out_size > in_size else "shrinks" if out_size < in_size else "keeps"
    return f"a case that {change} the length" + (", from length 1" if in_size == 1 else "")


def _matrix_check(case, out, kind, gen):
    basis = torch.eye(case["in_size"])[None]
    expected = F.interpolate(basis, size=case["out_size"], mode="linear", align_corners=False)
    expected = expected[0].T
    return _compare(out, expected, kind, "differs from F.interpolate's weights", "the matrix")


def _resize_cases(gen):
    cases = []
    for i in range(20):
        n, c = torch.randint(1, 4, (2,), generator=gen).tolist()
        h, w, height, width = torch.randint(1, 20, (4,), generator=gen).tolist()
        dtype = (torch.float32, torch.float64)[i % 2]
        x = torch.randn(n, c, h, w, generator=gen, dtype=dtype)
        cases.append({"x": x, "size": (height, width)})
    return cases


def _resize_kind(case):
    return _size_kind(case["x"].dtype, case["x"].shape[-2:], case["size"])


def _resize_check(case, out, kind, gen):
    expected = F.interpolate(case["x"], size=case["size"], mode="bilinear", align_corners=False)
    # The weights may be float32 (Problem 1): float32's tolerance for every dtype, as stated.
    return _compare(out, expected, kind, "differs from F.interpolate", rtol=1.3e-6, atol=1e-5)


# ps05 ----------------------------------------------------------------------------------------
def _median_cases(gen):
    cases = []
    for i in range(20):
        num_classes = torch.randint(3, 12, (1,), generator=gen).item()
        n, h, w = 2 + i % 3, *torch.randint(4, 16, (2,), generator=gen).tolist()
        labels = torch.empty(n, h, w, dtype=torch.int64)
        for image in labels:  # each image shows a few classes, some rare
            shown = torch.randperm(num_classes, generator=gen)[: 1 + i % 4]
            probs = torch.rand(len(shown), generator=gen) ** 3 + 0.01
            image[:] = shown[torch.multinomial(probs, h * w, True, generator=gen)].reshape(h, w)
        labels[torch.rand(labels.shape, generator=gen) < 0.1] = VOID
        cases.append({"labels": labels, "num_classes": num_classes})
    return cases


def median_frequency_reference(labels, num_classes):
    """Eigen and Fergus's weights, by counting in Python: freq[c] is the pixels of class c over
    the non-void pixels of the images (labels[n]) where c occurs; the median is the lower
    middle value for an even count of occurring classes."""
    counts, pixels = [0] * num_classes, [0] * num_classes
    for image in labels:
        values = [v for v in image.flatten().tolist() if v != VOID]
        for c in set(values):
            counts[c] += values.count(c)
            pixels[c] += len(values)
    freq = [n / p if n else 0.0 for n, p in zip(counts, pixels, strict=True)]
    occurring = sorted(f for f in freq if f > 0)
    median = occurring[(len(occurring) - 1) // 2]
    return torch.tensor([median / f if f else 0.0 for f in freq])


def _median_kind(case):
    occurring = len({v for v in case["labels"].flatten().tolist() if v != VOID})
    parity = "an odd" if occurring % 2 else "an even"
    return f"a case with {parity} number of occurring classes, some absent from some images"


def _median_check(case, out, kind, gen):
    expected = median_frequency_reference(case["labels"], case["num_classes"])
    return _compare(out, expected, kind, "differs from a brute-force count")


def _loss_cases(gen):
    cases = []
    for i in range(20):
        n, c, h, w = torch.randint(1, 6, (4,), generator=gen).tolist()
        c += 1
        dtype = (torch.float64, torch.float32)[i % 2]
        logits = torch.randn(n, c, h, w + 1, generator=gen, dtype=dtype) * 3
        target = torch.randint(0, c, (n, h, w + 1), generator=gen)
        target[torch.rand(target.shape, generator=gen) < 0.3] = VOID
        target.view(-1)[0] = 0  # at least one pixel counts
        weight = torch.rand(c, generator=gen, dtype=dtype) + 0.1
        cases.append({"logits": logits, "target": target, "weight": weight})
    return cases


def _loss_kind(case):
    kind = f"a {_dtype_name(case['logits'].dtype)} case with void pixels"
    return kind + (", a batch of several images" if len(case["target"]) > 1 else "")


def _loss_check(case, out, kind, gen):
    logits, target = case["logits"], case["target"]
    expected = F.cross_entropy(logits, target, weight=case["weight"], ignore_index=VOID)
    return _compare(out, expected, kind, "differs from F.cross_entropy", "the loss")


# ps06 ----------------------------------------------------------------------------------------
def tiny_net(seed, num_classes=4):
    """The notebook's `tiny_net`: a random 3-layer convolutional network."""
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, num_classes, 5, padding=2)
    ).eval()


def _tta_cases(gen):
    cases = []
    for i in range(5):
        seed = 100 + torch.randint(0, 10_000, (1,), generator=gen).item()
        X = torch.randn(3, 3, 5 + i, 7, generator=gen)
        cases.append({"seed": seed, "num_classes": i + 2, "X": X})
    return cases


def _tta_kind(case):
    kind = "a case with two classes" if case["num_classes"] == 2 else "a case with more classes"
    return kind + (", a non-square image" if case["X"].shape[-1] != case["X"].shape[-2] else "")


def _tta_check(case, out, kind, gen):
    net, X = tiny_net(case["seed"], case["num_classes"]), case["X"]
    with torch.no_grad():  # one image and one orientation at a time
        plain = torch.cat([torch.softmax(net(x[None]), dim=1) for x in X])
        mirrored = torch.cat([torch.softmax(net(x.flip(-1)[None]), dim=1) for x in X])
    return _compare(out, (plain + mirrored.flip(-1)) / 2, kind, "differs")


def _blend_cases(gen):
    cases = []
    for i in range(10):
        th, tw, c = torch.randint(2, 6, (3,), generator=gen).tolist()
        height, width = th + torch.randint(0, 6, (1,), generator=gen).item(), tw + 3
        tops = sorted({*range(0, height - th + 1, max(th // 2, 1)), height - th})
        starts = [(top, left) for top in tops for left in range(0, width - tw + 1)]
        dtype = (torch.float64, torch.float32)[i % 2]
        tiles = torch.randn(len(starts), c, th, tw, generator=gen, dtype=dtype)
        window = torch.rand(th, tw, generator=gen, dtype=dtype) + 0.1
        cases.append({"tiles": tiles, "starts": starts, "size": (height, width), "window": window})
    return cases


def _blend_kind(case):
    (th, tw), (height, width) = case["window"].shape, case["size"]
    kind = f"a {_dtype_name(case['tiles'].dtype)} case with "
    kind += "non-square tiles" if th != tw else "square tiles"
    return kind + (", a non-square image" if height != width else "")


def _blend_check(case, out, kind, gen):
    tiles, starts, window = case["tiles"], case["starts"], case["window"]
    (height, width), (c, th, tw) = case["size"], tiles.shape[1:]
    num = torch.zeros(c, height, width, dtype=torch.float64)
    den = torch.zeros(height, width, dtype=torch.float64)
    for tile, (top, left) in zip(tiles.double(), starts, strict=True):
        for i in range(th):
            for j in range(tw):
                num[:, top + i, left + j] += window[i, j] * tile[:, i, j]
                den[top + i, left + j] += window[i, j]
    return _compare(out, (num / den).to(tiles.dtype), kind, "differs from a brute-force blend")


# ps07 ----------------------------------------------------------------------------------------
METRICS_NAMES = ("torchmetrics", "sklearn")


def _labelled_pair(gen, num_classes, shape, labelled=None):
    """A random prediction and a label with void pixels, both of `shape`; with `labelled`, the
    label uses only classes below it and the prediction one more (some classes are then only
    predicted, some seen nowhere)."""
    labelled = labelled or num_classes
    label = torch.randint(0, labelled, shape, generator=gen)
    label[torch.rand(shape, generator=gen) < 0.2] = VOID
    pred = torch.randint(0, min(labelled + 1, num_classes), shape, generator=gen)
    return pred, label


def _confusion_cases(gen):
    cases = []
    for i in range(20):
        num_classes = torch.randint(2, 23, (1,), generator=gen).item()
        shape = torch.randint(1, 9, (3,), generator=gen).tolist()
        pred, label = _labelled_pair(gen, num_classes, shape)
        if i % 2:
            label = label.to(torch.uint8)
        cases.append({"pred": pred, "label": label, "num_classes": num_classes})
    return cases


def _confusion_kind(case):
    return f"a case with {_dtype_name(case['label'].dtype)} labels with void pixels"


def _confusion_check(case, out, kind, gen):
    from torchmetrics.classification import MulticlassConfusionMatrix

    matrix = MulticlassConfusionMatrix(case["num_classes"], ignore_index=VOID)
    expected = matrix(case["pred"], case["label"].long())
    return _compare(out, expected, kind, "differs from torchmetrics", exact=True)


def _miou_cases(gen):
    from torchmetrics.classification import MulticlassConfusionMatrix

    cases = []
    for i in range(20):
        num_classes = torch.randint(2, 23, (1,), generator=gen).item()
        labelled = max(1, num_classes - 2 * (i % 3))
        pred, label = _labelled_pair(gen, num_classes, (2, 6, 7), labelled)
        C = MulticlassConfusionMatrix(num_classes, ignore_index=VOID)(pred, label)
        cases.append({"C": C, "pred": pred, "label": label})
    return cases


def _miou_kind(case):
    labelled, predicted = case["C"].sum(dim=1) > 0, case["C"].sum(dim=0) > 0
    kind = "a case with classes seen nowhere" if (~labelled & ~predicted).any() else "a case"
    return kind + (", classes only predicted" if (~labelled & predicted).any() else "")


def _miou_check(case, out, kind, gen):
    from torchmetrics.classification import MulticlassJaccardIndex

    C = case["C"]
    jaccard = MulticlassJaccardIndex(len(C), average="none", ignore_index=VOID)
    iou = jaccard(case["pred"], case["label"])
    seen = (C.sum(dim=0) + C.sum(dim=1)) > 0
    expected = iou[seen].double().mean()
    return _compare(out, expected, kind, "differs from torchmetrics", rtol=1e-6, atol=1e-6)


def _band_cases(gen):
    cases = []
    for _ in range(20):
        n = torch.randint(1, 3, (1,), generator=gen).item()
        width = torch.randint(1, 5, (1,), generator=gen).item()
        h, w = torch.randint(1, 16, (2,), generator=gen).tolist()
        cases.append({"mask": torch.rand(n, h, w, generator=gen) < 0.7, "width": width})
    return cases


def _band_kind(case):
    (h, w), width = case["mask"].shape[-2:], case["width"]
    square = "a square" if h == w else "a non-square"
    return f"a case with {square} mask and a width of {'1' if width == 1 else 'more than 1'}"


def _band_check(case, out, kind, gen):
    """The brute force: a mask pixel is in the band if some pixel within `width` steps (in
    any of the (2 width + 1)**2 shifts) is outside the mask or outside the image."""
    mask, width = case["mask"], case["width"]
    h, w = mask.shape[-2:]
    outside = F.pad((~mask).to(torch.uint8), (width,) * 4, value=1).bool()
    near = torch.zeros_like(mask)
    for a in range(2 * width + 1):
        for b in range(2 * width + 1):
            near |= outside[:, a : a + h, b : b + w]
    return _compare(out, mask & near, kind, "differs from a brute-force band", exact=True)


PROBLEM_SETS = {
    "ps01_voc_augmentation": [
        Problem(
            "joint-flip-resize-tests",
            "joint-flip-resize",
            "joint_flip_resize(image, label, flip, size)",
            _flip_resize_cases,
            _flip_resize_kind,
            _flip_resize_check,
        ),
        Problem(
            "pad-for-crop-tests",
            "pad-for-crop",
            "pad_for_crop(image, label, height, width)",
            _pad_cases,
            _pad_kind,
            _pad_check,
        ),
    ],
    "ps02_transposed_as_conv": [
        Problem(
            "insert-zeros-tests",
            "insert-zeros",
            "insert_zeros(X, stride)",
            _insert_zeros_cases,
            _insert_zeros_kind,
            _insert_zeros_check,
            forbidden_names=CONV_TRANSPOSE_NAMES,
        ),
        Problem(
            "trans-conv-as-conv-tests",
            "trans-conv-as-conv",
            "trans_conv_as_conv(X, K, stride, padding)",
            _trans_conv_cases,
            _trans_conv_kind,
            _trans_conv_check,
            forbidden_ops=CONV_TRANSPOSE_OPS,
            forbidden_names=CONV_TRANSPOSE_NAMES,
        ),
    ],
    "ps03_sparse_conv_matrix": [
        Problem(
            "conv-matrix-coo-tests",
            "conv-matrix-coo",
            "conv_matrix_coo(K, shape, stride, padding)",
            _coo_cases,
            _coo_kind,
            _coo_check,
            forbidden_names=("kernel2matrix", "to_dense", *CONV_TRANSPOSE_NAMES),
        ),
        Problem(
            "trans-conv-by-matrix-tests",
            "trans-conv-by-matrix",
            "trans_conv_by_matrix(Y, K, shape, stride, padding)",
            _by_matrix_cases,
            _by_matrix_kind,
            _by_matrix_check,
            forbidden_names=("kernel2matrix", *CONV_TRANSPOSE_NAMES),
        ),
    ],
    "ps04_bilinear_resize": [
        Problem(
            "interpolation-matrix-tests",
            "interpolation-matrix",
            "interpolation_matrix(in_size, out_size)",
            _matrix_cases,
            _matrix_kind,
            _matrix_check,
            forbidden_names=INTERPOLATE_NAMES,
        ),
        Problem(
            "bilinear-resize-tests",
            "bilinear-resize",
            "bilinear_resize(x, size)",
            _resize_cases,
            _resize_kind,
            _resize_check,
            forbidden_ops=INTERPOLATE_OPS,
            forbidden_names=INTERPOLATE_NAMES,
        ),
    ],
    "ps05_class_imbalance": [
        Problem(
            "median-frequency-tests",
            "median-frequency",
            "median_frequency_weights(labels, num_classes)",
            _median_cases,
            _median_kind,
            _median_check,
        ),
        Problem(
            "weighted-cross-entropy-tests",
            "weighted-cross-entropy",
            "weighted_cross_entropy(logits, target, weight)",
            _loss_cases,
            _loss_kind,
            _loss_check,
            forbidden_ops=CROSS_ENTROPY_OPS,
            forbidden_names=CROSS_ENTROPY_NAMES,
        ),
    ],
    "ps06_test_time_augmentation": [
        Problem(
            "flip-tta-tests",
            "flip-tta",
            "flip_tta(tiny_net(seed, num_classes), X)",
            _tta_cases,
            _tta_kind,
            _tta_check,
        ),
        Problem(
            "blend-tiles-tests",
            "blend-tiles",
            "blend_tiles(tiles, starts, size, window)",
            _blend_cases,
            _blend_kind,
            _blend_check,
        ),
    ],
    "ps07_boundary_iou": [
        Problem(
            "confusion-matrix-tests",
            "confusion-matrix",
            "confusion_matrix(pred, label, num_classes)",
            _confusion_cases,
            _confusion_kind,
            _confusion_check,
            forbidden_names=METRICS_NAMES,
        ),
        Problem(
            "mean-iou-tests",
            "mean-iou",
            "mean_iou(C)",
            _miou_cases,
            _miou_kind,
            _miou_check,
            forbidden_names=METRICS_NAMES,
        ),
        Problem(
            "inner-band-tests",
            "inner-band",
            "inner_band(mask, width)",
            _band_cases,
            _band_kind,
            _band_check,
            forbidden_names=METRICS_NAMES,
        ),
    ],
}
