"""Whole-image prediction: `predict_whole_image` against the book's `predict` on a crop.

The same validation images of the sample, resized (bilinear) to each size, go through the book's
approach (the image cropped at the top left to sides that are multiples of 32, then `predict`
in float32 on the crop at once) and through `predict_whole_image` (tiles of 320 x 480, overlap
64, every pixel), in float32 and in the precision `--amp auto` picks here (bf16 autocast on a
CPU with AVX512-BF16 or AMX, with `Precision.prepare`'s sub-pixel upsampling). Each case runs in
a fresh process, so that its peak resident memory (`ru_maxrss`) is its own; the net is
`fcn_resnet18` with random weights (seed 0) unless `--checkpoint` names a trained one.
Peak RSS includes the interpreter, torch and the sample's validation images (some 800 MiB).
Agreement is the fraction of pixels whose label equals that of `predict_whole_image` in
float32 (for the book, on its crop).

    python benchmarks/predict_speed.py [--sizes 320x480 1000x1500 4000x6000] [--checkpoint F]
"""

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
import torchvision.transforms.functional as TF

import d2lseg
from d2lseg import amp

IMAGES = {(320, 480): 4, (1000, 1500): 2}  # images per size; 1 for larger sizes
CASES = ("book: predict on the crop, fp32", "predict_whole_image, fp32",
         "predict_whole_image, --amp auto")  # fmt: skip


def images(voc_dir, size):
    """The first validation images of the sample, resized to `size` (height, width)."""
    features, _ = d2lseg.read_voc_images(voc_dir, is_train=False)
    count = IMAGES.get(size, 1)
    return [TF.resize(img, list(size), antialias=True) for img in features[:count]]


def run_case(args):
    """In this process: one case, its images/s and peak RSS as JSON, its labels saved."""
    size = tuple(args.size)
    imgs = images(args.voc_dir, size)
    torch.manual_seed(0)
    net = d2lseg.fcn_resnet18(pretrained=False)
    if args.checkpoint:
        d2lseg.load_checkpoint(args.checkpoint, net)
    case = CASES[args.case]
    precision = amp.FULL_PRECISION
    if case.endswith("--amp auto"):
        precision = amp.precision_for("auto", torch.device("cpu"))
        precision.prepare(net)

    def predict(img):
        if case.startswith("book"):
            height, width = (side // 32 * 32 for side in img.shape[1:])
            return d2lseg.predict(net, img[:, :height, :width])
        with precision.autocast():
            return d2lseg.predict_whole_image(net, img)

    predict(imgs[0][:, :64, :96])  # warm-up, untimed: kernels chosen, libraries loaded
    tic = time.perf_counter()
    labels = [predict(img) for img in imgs]
    seconds = time.perf_counter() - tic
    torch.save([label.to(torch.uint8) for label in labels], args.labels)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    print(json.dumps({"images_per_s": len(imgs) / seconds, "peak_mib": peak,
                      "precision": str(precision)}))  # fmt: skip


def agreement(labels, reference):
    """Fraction of pixels with the same label (on the part both cover, top left)."""
    same = total = 0
    for a, b in zip(labels, reference, strict=True):
        height, width = min(a.shape[0], b.shape[0]), min(a.shape[1], b.shape[1])
        same += (a[:height, :width] == b[:height, :width]).sum().item()
        total += height * width
    return same / total


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--voc-dir", type=Path, default=None)
    parser.add_argument("--sizes", nargs="+", default=["320x480", "1000x1500", "4000x6000"])
    parser.add_argument("--checkpoint", type=Path, default=None)
    parser.add_argument("--case", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--labels", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.voc_dir = d2lseg.resolve_voc_dir(args.voc_dir)
    if args.case is not None:
        return run_case(args)
    sizes = [tuple(int(side) for side in size.split("x")) for size in args.sizes]
    weights = f"checkpoint {args.checkpoint}" if args.checkpoint else "random weights"
    print(f"{torch.get_num_threads()} threads; tiles 320x480, overlap 64; {weights}")
    print("\n| size | images | approach | images/s | megapixels/s | peak RSS | agreement |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    with tempfile.TemporaryDirectory() as tmp:
        for size in sizes:
            results, labels = {}, {}
            for index, case in enumerate(CASES):
                path = Path(tmp) / f"{index}.pt"
                command = [sys.executable, __file__, "--voc-dir", str(args.voc_dir),
                           "--case", str(index), "--size", *map(str, size),
                           "--labels", str(path)]  # fmt: skip
                if args.checkpoint:
                    command += ["--checkpoint", str(args.checkpoint)]
                output = subprocess.run(command, capture_output=True, text=True, check=True)
                results[case] = json.loads(output.stdout.strip().splitlines()[-1])
                labels[case] = torch.load(path, weights_only=True)
            reference = labels[CASES[1]]
            for case, result in results.items():
                rate = result["images_per_s"]
                pixels = size[0] * size[1] if not case.startswith("book") else (
                    size[0] // 32 * 32 * (size[1] // 32 * 32))  # fmt: skip
                print(f"| {size[0]}x{size[1]} | {len(reference)} | {case} | {rate:.2f} | "
                      f"{rate * pixels / 1e6:.2f} | {result['peak_mib']:.0f} MiB | "
                      f"{agreement(labels[case], reference):.4f} |")  # fmt: skip


if __name__ == "__main__":
    main()
