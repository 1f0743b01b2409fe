"""d2lseg's VOC dataset against the book's (the d2l package), on the same data in one run.

Prints the peak memory of building each `VOCSegDataset` (each in a fresh process, so one cannot
inherit the other's memory), and the throughput of label decoding, `voc_label_indices`, as
ratios. Also times the generation of the embedded sample at its default size.

    python benchmarks/voc_dataset.py [--voc-dir DIR] [--crop 256]
"""

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time

import d2l.torch as d2l
import torch

import d2lseg

CHILD = """
import json, resource, sys, psutil
import d2l.torch as d2l, d2lseg
which, voc_dir, crop = sys.argv[1], sys.argv[2], int(sys.argv[3])
baseline = psutil.Process().memory_info().rss
make = {"d2lseg": d2lseg.VOCSegDataset, "d2l": d2l.VOCSegDataset}[which]
dataset = make(True, (crop, crop), voc_dir)
scale = 1 if sys.platform == "darwin" else 1024  # ru_maxrss is in bytes on macOS, else KiB
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale
held = psutil.Process().memory_info().rss
print(json.dumps({"images": len(dataset), "peak": peak - baseline, "held": held - baseline}))
"""


def dataset_memory(which, voc_dir, crop):
    """Peak and retained memory (bytes) of building one dataset, in a fresh interpreter."""
    out = subprocess.run(
        [sys.executable, "-c", CHILD, which, str(voc_dir), str(crop)],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def decoding_seconds(decode, labels, table, repeats):
    """Median time to decode every label once."""
    times = []
    for _ in range(repeats):
        tic = time.perf_counter()
        for label in labels:
            decode(label, table)
        times.append(time.perf_counter() - tic)
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--voc-dir", default=None, help="VOC dir (default: resolve_voc_dir)")
    parser.add_argument("--crop", type=int, default=256, help="square crop size")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    voc_dir = d2lseg.resolve_voc_dir(args.voc_dir)

    print("\nPeak memory of VOCSegDataset(is_train=True), each in a fresh process")
    ours = dataset_memory("d2lseg", voc_dir, args.crop)
    book = dataset_memory("d2l", voc_dir, args.crop)
    assert ours["images"] == book["images"], (ours, book)
    mib = 2**20
    print(f"{'':8} {'images':>7} {'peak MiB':>9} {'held MiB':>9}")
    for name, r in (("d2l", book), ("d2lseg", ours)):
        print(f"{name:8} {r['images']:7d} {r['peak'] / mib:9.0f} {r['held'] / mib:9.0f}")
    peak_ratio, held_ratio = ours["peak"] / book["peak"], ours["held"] / book["held"]
    print(f"ratio d2lseg/d2l: peak {peak_ratio:.2f}, held {held_ratio:.2f}")

    print(f"\nLabel decoding, voc_label_indices, median of {args.repeats} passes")
    _, labels = d2lseg.read_voc_images(voc_dir, is_train=True)
    megapixels = sum(label[0].numel() for label in labels) / 1e6
    ours_table, book_table = d2lseg.voc_colormap2label(), d2l.voc_colormap2label()
    for label in labels:  # same classes wherever d2lseg does not say void
        mine = d2lseg.voc_label_indices(label, ours_table)
        keep = mine != d2lseg.VOID_LABEL
        assert torch.equal(mine[keep].long(), d2l.voc_label_indices(label, book_table)[keep])
    book_s = decoding_seconds(d2l.voc_label_indices, labels, book_table, args.repeats)
    ours_s = decoding_seconds(d2lseg.voc_label_indices, labels, ours_table, args.repeats)
    print(f"{'':8} {'labels/s':>9} {'Mpixel/s':>9}")
    for name, seconds in (("d2l", book_s), ("d2lseg", ours_s)):
        print(f"{name:8} {len(labels) / seconds:9.0f} {megapixels / seconds:9.0f}")
    print(f"speed-up d2lseg/d2l: {book_s / ours_s:.1f}x")

    print("\nGenerating the embedded sample at its default size")
    with tempfile.TemporaryDirectory() as tmp:
        tic = time.perf_counter()
        d2lseg.make_sample_voc(tmp)
        print(f"make_sample_voc(): {time.perf_counter() - tic:.1f} s")


if __name__ == "__main__":
    main()
