"""The graded problems: the hidden cases every submission is run on, and their oracles.

Nothing here runs in the student's process. For each autograded test cell of a problem set,
`cases(gen)` draws the hidden inputs (plain tensors and numbers, handed to the sandbox), `call`
is the expression the sandboxed kernel evaluates on each case, and `check(case, output, gen)`
decides, in the grader's own process, whether the recorded output is right: `None` when it is,
otherwise the message the student's feedback shows. The oracles are those of the source
notebooks' hidden tests (torchvision, `torch.nn.functional`, brute force), computed here only.

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
    check: object  # (case, output, gen) -> None or a message
    forbidden_ops: tuple = ()
    forbidden_names: tuple = field(default=())


def _pair(value):
    return (value, value) if isinstance(value, int) else tuple(value)


def _tensor(out, what="the result"):
    if not isinstance(out, torch.Tensor) or out.is_sparse:
        return f"{what} is not a dense tensor"
    return None


def _close(got, expected, msg):
    try:
        torch.testing.assert_close(got, expected)
    except (AssertionError, TypeError, ValueError, RuntimeError):
        return msg
    return None


def _equal(got, expected, msg):
    if got.dtype != expected.dtype or got.shape != expected.shape or not torch.equal(got, expected):
        return msg
    return None


def _pair_of_tensors(out):
    if not isinstance(out, (list, tuple)) or len(out) != 2:
        return "does not return a pair (image, label)"
    return _tensor(out[0], "the image") or _tensor(out[1], "the label")


# ps01 ----------------------------------------------------------------------------------------
def _flip_resize_cases(gen):
    cases = []
    for _ in range(20):
        h, w = torch.randint(3, 20, (2,), generator=gen).tolist()
        size = torch.randint(2, 40, (2,), generator=gen).tolist()
        flip = bool(torch.randint(2, (1,), generator=gen))
        image = torch.rand(3, h, w, generator=gen)
        label = torch.randint(0, 21, (h, w), generator=gen)
        label[torch.rand(h, w, generator=gen) < 0.2] = VOID
        cases.append({"image": image, "label": label, "flip": flip, "size": tuple(size)})
    return cases


def _flip_resize_check(case, out, gen):
    from torchvision import tv_tensors
    from torchvision.transforms.v2 import InterpolationMode
    from torchvision.transforms.v2 import functional as TF

    if message := _pair_of_tensors(out):
        return message
    ref_img, ref_lab = tv_tensors.Image(case["image"]), tv_tensors.Mask(case["label"])
    if case["flip"]:
        ref_img, ref_lab = TF.horizontal_flip(ref_img), TF.horizontal_flip(ref_lab)
    ref_img = TF.resize(ref_img, list(case["size"]), InterpolationMode.BILINEAR, antialias=False)
    ref_lab = TF.resize(ref_lab, list(case["size"]))
    return _close(
        out[0], ref_img.as_subclass(torch.Tensor), "image differs from torchvision"
    ) or _equal(out[1], ref_lab.as_subclass(torch.Tensor), "label differs from torchvision")


def _pad_cases(gen):
    cases = []
    for _ in range(20):
        h, w, height, width = torch.randint(1, 12, (4,), generator=gen).tolist()
        image = torch.rand(3, h, w, generator=gen)
        label = torch.randint(0, 21, (h, w), generator=gen)
        cases.append({"image": image, "label": label, "height": height, "width": width})
    return cases


def _pad_check(case, out, gen):
    from torchvision import tv_tensors
    from torchvision.transforms.v2 import functional as TF

    if message := _pair_of_tensors(out):
        return message
    (h, w), height, width = case["label"].shape, case["height"], case["width"]
    padding = [0, 0, max(width - w, 0), max(height - h, 0)]
    ref_img = TF.pad(tv_tensors.Image(case["image"]), padding, fill=0).as_subclass(torch.Tensor)
    ref_lab = TF.pad(tv_tensors.Mask(case["label"]), padding, fill=VOID).as_subclass(torch.Tensor)
    return _equal(out[0], ref_img, "image differs from torchvision's pad") or _equal(
        out[1], ref_lab, "label differs from torchvision's pad"
    )


# ps02 ----------------------------------------------------------------------------------------
def _insert_zeros_cases(gen):
    cases = []
    for i in range(20):
        n, c, h, w, sh, sw = torch.randint(1, 5, (6,), generator=gen).tolist()
        stride = sh if i % 5 == 0 else (sh, sw)
        cases.append({"X": torch.randn(n, c, h, w, generator=gen), "stride": stride})
    return cases


def _insert_zeros_check(case, out, gen):
    if message := _tensor(out):
        return message
    X, c = case["X"], case["X"].shape[1]
    ones = torch.ones(c, 1, 1, 1)
    expected = F.conv_transpose2d(X, ones, stride=_pair(case["stride"]), groups=c)
    return _equal(out, expected, "differs on a random case")


def _trans_conv_cases(gen):
    cases = []
    for _ in range(20):
        n, c_in, c_out, h, w = torch.randint(1, 4, (5,), generator=gen).tolist()
        kh, kw, sh, sw = torch.randint(1, 5, (4,), generator=gen).tolist()
        ph, pw = (torch.randint(0, k, (1,), generator=gen).item() for k in (kh, kw))
        X = torch.randn(n, c_in, h + 3, w + 3, generator=gen, dtype=torch.float64)
        K = torch.randn(c_in, c_out, kh, kw, generator=gen, dtype=torch.float64)
        cases.append({"X": X, "K": K, "stride": (sh, sw), "padding": (ph, pw)})
    return cases


def _trans_conv_check(case, out, gen):
    if message := _tensor(out):
        return message
    expected = F.conv_transpose2d(
        case["X"], case["K"], stride=case["stride"], padding=case["padding"]
    )
    return _close(out, expected, "differs from F.conv_transpose2d")


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
        return None, "not a sparse COO tensor"
    indices, values, size = out.get("indices"), out.get("values"), out.get("size")
    if not (isinstance(indices, torch.Tensor) and isinstance(values, torch.Tensor)):
        return None, "not a sparse COO tensor"
    try:
        matrix = torch.sparse_coo_tensor(
            indices, values, tuple(size), check_invariants=True, is_coalesced=False
        )
    except (RuntimeError, TypeError, ValueError):
        return None, "not a valid sparse COO tensor"
    return matrix, None


def _dense_by_columns(K, input_shape, stride, padding):
    impulses = torch.eye(input_shape[0] * input_shape[1], dtype=K.dtype)
    impulses = impulses.reshape(-1, 1, *input_shape)
    out = F.conv2d(impulses, K[None, None], stride=stride, padding=padding)
    return out.reshape(out.shape[0], -1).T


def _coo_check(case, out, gen):
    M, message = _sparse_from_record(out)
    if message:
        return message
    K, shape = case["K"], case["shape"]
    if shape == (400, 400):
        if M.shape != (400 * 400, 400 * 400) or M.dtype != K.dtype:
            return "wrong shape or dtype for a 400 x 400 input"
        x = torch.randn(400, 400, generator=gen)
        got = torch.sparse.mm(M, x.reshape(-1, 1)).reshape(400, 400)
        expected = F.conv2d(x[None, None], K[None, None], padding=1)[0, 0]
        return _close(got, expected, "differs on a 400 x 400 input")
    expected = _dense_by_columns(K, shape, case["stride"], case["padding"])
    if M.shape != expected.shape:
        return "wrong shape on a random case"
    if message := _close(M.to_dense(), expected, "differs on a random case"):
        return message
    if M.coalesce()._nnz() != torch.count_nonzero(expected):
        return "stored zeros"
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


def _by_matrix_check(case, out, gen):
    if message := _tensor(out):
        return message
    Y, K, (height, width) = case["Y"], case["K"], case["shape"]
    (sh, sw), (ph, pw), (kh, kw) = case["stride"], case["padding"], K.shape
    out_h, out_w = Y.shape
    extra = (height - ((out_h - 1) * sh - 2 * ph + kh), width - ((out_w - 1) * sw - 2 * pw + kw))
    expected = F.conv_transpose2d(
        Y[None, None], K[None, None], stride=(sh, sw), padding=(ph, pw), output_padding=extra
    )[0, 0]
    return _close(out, expected, "differs from F.conv_transpose2d")


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


def _matrix_check(case, out, gen):
    if message := _tensor(out):
        return message
    basis = torch.eye(case["in_size"])[None]
    expected = F.interpolate(basis, size=case["out_size"], mode="linear", align_corners=False)
    return _close(out, expected[0].T, "differs from F.interpolate's weights")


def _resize_cases(gen):
    cases = []
    for _ in range(20):
        n, c = torch.randint(1, 4, (2,), generator=gen).tolist()
        h, w, height, width = torch.randint(1, 20, (4,), generator=gen).tolist()
        cases.append({"x": torch.randn(n, c, h, w, generator=gen), "size": (height, width)})
    return cases


def _resize_check(case, out, gen):
    if message := _tensor(out):
        return message
    expected = F.interpolate(case["x"], size=case["size"], mode="bilinear", align_corners=False)
    return _close(out, expected, "differs from F.interpolate")


# ps05 ----------------------------------------------------------------------------------------
def _median_cases(gen):
    cases = []
    for _ in range(20):
        num_classes = torch.randint(2, 22, (1,), generator=gen).item()
        probs = torch.rand(num_classes, generator=gen) ** 4  # unbalanced, some classes rare
        labels = torch.multinomial(probs, 2000, replacement=True, generator=gen).reshape(2, 20, 50)
        labels[torch.rand(labels.shape, generator=gen) < 0.1] = VOID
        cases.append({"labels": labels, "num_classes": num_classes})
    return cases


def _median_check(case, out, gen):
    if message := _tensor(out):
        return message
    counts = torch.bincount(case["labels"][case["labels"] != VOID], minlength=case["num_classes"])
    counts, total = counts.tolist(), int(counts.sum())
    freqs = sorted(n / total for n in counts if n > 0)
    median = freqs[(len(freqs) - 1) // 2]
    expected = [median / (n / total) if n else 0.0 for n in counts]
    return _close(out, torch.tensor(expected), "differs from a brute-force count")


def _loss_cases(gen):
    cases = []
    for _ in range(20):
        n, c, h, w = torch.randint(1, 6, (4,), generator=gen).tolist()
        c += 1
        logits = torch.randn(n, c, h, w + 1, generator=gen, dtype=torch.float64) * 3
        target = torch.randint(0, c, (n, h, w + 1), generator=gen)
        target[torch.rand(target.shape, generator=gen) < 0.3] = VOID
        target.view(-1)[0] = 0  # at least one pixel counts
        weight = torch.rand(c, generator=gen, dtype=torch.float64) + 0.1
        cases.append({"logits": logits, "target": target, "weight": weight})
    return cases


def _loss_check(case, out, gen):
    if message := _tensor(out):
        return message
    expected = F.cross_entropy(
        case["logits"], case["target"], weight=case["weight"], ignore_index=VOID
    )
    return _close(out, expected, "differs from F.cross_entropy")


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


def _tta_check(case, out, gen):
    if message := _tensor(out):
        return message
    net, X = tiny_net(case["seed"], case["num_classes"]), case["X"]
    if out.shape != (X.shape[0], case["num_classes"], *X.shape[2:]):
        return "wrong shape"
    for n in range(X.shape[0]):  # one image and one orientation at a time
        with torch.no_grad():
            plain = torch.softmax(net(X[n : n + 1]), dim=1)[0]
            mirrored = torch.softmax(net(X[n].flip(-1)[None]), dim=1)[0].flip(-1)
        if message := _close(out[n], (plain + mirrored) / 2, "differs on a random case"):
            return message
    return None


def _blend_cases(gen):
    cases = []
    for _ in range(10):
        th, tw, c = torch.randint(2, 6, (3,), generator=gen).tolist()
        height, width = th + torch.randint(0, 6, (1,), generator=gen).item(), tw + 3
        tops = sorted({*range(0, height - th + 1, max(th // 2, 1)), height - th})
        starts = [(top, left) for top in tops for left in range(0, width - tw + 1)]
        tiles = torch.randn(len(starts), c, th, tw, generator=gen, dtype=torch.float64)
        window = torch.rand(th, tw, generator=gen, dtype=torch.float64) + 0.1
        cases.append({"tiles": tiles, "starts": starts, "size": (height, width), "window": window})
    return cases


def _blend_check(case, out, gen):
    if message := _tensor(out):
        return message
    tiles, starts, window = case["tiles"], case["starts"], case["window"]
    (height, width), (c, th, tw) = case["size"], tiles.shape[1:]
    num = torch.zeros(c, height, width, dtype=torch.float64)
    den = torch.zeros(height, width, dtype=torch.float64)
    for tile, (top, left) in zip(tiles, starts, strict=True):
        for i in range(th):
            for j in range(tw):
                num[:, top + i, left + j] += window[i, j] * tile[:, i, j]
                den[top + i, left + j] += window[i, j]
    return _close(out, num / den, "differs from a brute-force blend")


PROBLEM_SETS = {
    "ps01_voc_augmentation": [
        Problem(
            "joint-flip-resize-tests",
            "joint-flip-resize",
            "joint_flip_resize(image, label, flip, size)",
            _flip_resize_cases,
            _flip_resize_check,
        ),
        Problem(
            "pad-for-crop-tests",
            "pad-for-crop",
            "pad_for_crop(image, label, height, width)",
            _pad_cases,
            _pad_check,
        ),
    ],
    "ps02_transposed_as_conv": [
        Problem(
            "insert-zeros-tests",
            "insert-zeros",
            "insert_zeros(X, stride)",
            _insert_zeros_cases,
            _insert_zeros_check,
            forbidden_names=CONV_TRANSPOSE_NAMES,
        ),
        Problem(
            "trans-conv-as-conv-tests",
            "trans-conv-as-conv",
            "trans_conv_as_conv(X, K, stride, padding)",
            _trans_conv_cases,
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
            _coo_check,
            forbidden_names=("kernel2matrix", "to_dense", *CONV_TRANSPOSE_NAMES),
        ),
        Problem(
            "trans-conv-by-matrix-tests",
            "trans-conv-by-matrix",
            "trans_conv_by_matrix(Y, K, shape, stride, padding)",
            _by_matrix_cases,
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
            _matrix_check,
            forbidden_names=INTERPOLATE_NAMES,
        ),
        Problem(
            "bilinear-resize-tests",
            "bilinear-resize",
            "bilinear_resize(x, size)",
            _resize_cases,
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
            _median_check,
        ),
        Problem(
            "weighted-cross-entropy-tests",
            "weighted-cross-entropy",
            "weighted_cross_entropy(logits, target, weight)",
            _loss_cases,
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
            _tta_check,
        ),
        Problem(
            "blend-tiles-tests",
            "blend-tiles",
            "blend_tiles(tiles, starts, size, window)",
            _blend_cases,
            _blend_check,
        ),
    ],
}
