"""The embedded sample: format, content and determinism."""

import filecmp
import hashlib
import subprocess
import sys
from subprocess import PIPE

import numpy as np
import pytest
from PIL import Image

import d2lseg
from d2lseg import sample
from d2lseg.files import LOCK_NAME
from d2lseg.voc import voc_palette


def _names(voc_dir, split):
    return (voc_dir / "ImageSets" / "Segmentation" / f"{split}.txt").read_text().split()


def test_voc2012_layout(voc_dir):
    assert voc_dir.parts[-2:] == ("VOCdevkit", "VOC2012")
    for split in ("train", "val"):
        names = _names(voc_dir, split)
        assert len(names) == 20
        for name in names:
            assert (voc_dir / "JPEGImages" / f"{name}.jpg").is_file()
            assert (voc_dir / "SegmentationClass" / f"{name}.png").is_file()
    assert sample.is_sample_voc(voc_dir)


def test_labels_are_palette_pngs_with_void_borders(voc_dir):
    void_widths = []
    for name in _names(voc_dir, "train"):
        with Image.open(voc_dir / "SegmentationClass" / f"{name}.png") as png:
            assert png.mode == "P" and png.getpalette() == voc_palette()
            label = np.array(png)
        with Image.open(voc_dir / "JPEGImages" / f"{name}.jpg") as jpg:
            assert jpg.size == png.size and jpg.mode == "RGB"
            assert all(300 <= side <= 500 for side in jpg.size)
        assert set(np.unique(label)) <= set(range(21)) | {255}
        # Along a row, every run of void pixels between two classes is about 5 px wide.
        for row in label[::25]:
            change = np.flatnonzero(np.diff((row == 255).astype(int)))
            void_widths += [
                b - a for a, b in zip(change[::2], change[1::2], strict=False) if row[a] != 255
            ]
    assert 4.5 <= np.median(void_widths) <= 7


def test_every_class_in_both_splits(voc_dir):
    for split in ("train", "val"):
        seen = set()
        for name in _names(voc_dir, split):
            seen |= set(
                np.unique(np.array(Image.open(voc_dir / "SegmentationClass" / f"{name}.png")))
            )
        assert set(range(21)) <= seen, split


def test_paired_classes_share_colours_but_not_shape_or_texture():
    for cls in range(1, 11):
        shape_a, texture_a, group_a = sample.class_appearance(cls)
        shape_b, texture_b, group_b = sample.class_appearance(cls + 10)
        assert group_a == group_b and shape_a != shape_b and texture_a != texture_b
    looks = {sample.class_appearance(cls) for cls in range(1, 21)}
    assert len(looks) == 20


def test_describe_class_for_legends():
    # Worked out by hand from SHAPES and PATTERNS: VOC's "bottle" (5) is drawn as a plain
    # cross, its same-colour partner "person" (15) as a checkered box.
    assert sample.describe_class(0) == "background"
    assert sample.describe_class(5) == "plain cross, colour 4"
    assert sample.describe_class(15) == "checker box, colour 4"
    assert sample.describe_class(11) == "stripes triangle, colour 0"
    assert len({sample.describe_class(cls) for cls in range(21)}) == 21


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path):
    a = d2lseg.make_sample_voc(tmp_path / "a", num_train=20, num_val=20, seed=7)
    b = d2lseg.make_sample_voc(tmp_path / "b", num_train=20, num_val=20, seed=7)
    c = d2lseg.make_sample_voc(tmp_path / "c", num_train=20, num_val=20, seed=8)
    files = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    assert len(files) == 2 * 40 + 3
    match, mismatch, errors = filecmp.cmpfiles(a, b, files, shallow=False)
    assert len(match) == len(files) and not mismatch and not errors
    _, mismatch, _ = filecmp.cmpfiles(a, c, files, shallow=False)
    assert len(mismatch) >= 80


# SHA-256 over the relative paths and bytes of every file of the conftest sample (20 + 20
# images, seed 0), as Python 3.11 with NumPy 1.23.5 makes it: the sample the committed notebook
# outputs were made on. NumPy 2 and Python 3.12/3.13 must make the very same bytes (before
# sample.py avoided NumPy's float64 scalars, NumPy 2 changed 31 JPEGs and 3 labels).
SAMPLE_SHA256 = "33d00621c48bf52aeec5991e3c26db2e0e44cfb3cda501d52c81f134bf53381f"


def test_sample_bytes_are_the_same_on_every_numpy_and_python(voc_dir):
    digest = hashlib.sha256()
    for path in sorted(p for p in voc_dir.rglob("*") if p.is_file()):
        digest.update(path.relative_to(voc_dir).as_posix().encode() + b"\0" + path.read_bytes())
    assert digest.hexdigest() == SAMPLE_SHA256, f"NumPy {np.__version__}, Python {sys.version}"


def test_existing_tree_is_not_overwritten(voc_dir):
    with pytest.raises(FileExistsError, match="already exists"):
        d2lseg.make_sample_voc(voc_dir.parent.parent)


def test_too_few_images_for_every_class(tmp_path):
    with pytest.raises(ValueError, match="num_val must be at least 20"):
        d2lseg.make_sample_voc(tmp_path, num_train=20, num_val=5)
    assert not (tmp_path / "VOCdevkit").exists()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"root": None}, "root must be a folder path"),
        ({"num_train": "300"}, "num_train must be an int"),
        ({"num_train": 40.0}, "num_train must be an int"),
        ({"num_val": True}, "num_val must be an int"),
        ({"seed": -1}, "seed must be at least 0"),
        ({"seed": 1.5}, "seed must be an int"),
    ],
)
def test_arguments_checked_before_any_work(tmp_path, kwargs, message):
    kwargs = {"root": tmp_path / "s", "num_train": 20, "num_val": 20} | kwargs
    with pytest.raises(ValueError, match=message):
        d2lseg.make_sample_voc(**kwargs)
    assert not (tmp_path / "s").exists()


def test_numpy_integers_work_and_give_the_same_sample(voc_dir, tmp_path):
    made = d2lseg.make_sample_voc(tmp_path, np.int64(20), np.int32(20), seed=np.int64(0))
    files = sorted(p.relative_to(voc_dir) for p in voc_dir.rglob("*") if p.is_file())
    match, mismatch, errors = filecmp.cmpfiles(voc_dir, made, files, shallow=False)
    assert len(match) == len(files) and not mismatch and not errors


def test_the_same_sample_already_there_is_returned(voc_dir):
    assert d2lseg.make_sample_voc(voc_dir.parent.parent, num_train=20, num_val=20) == voc_dir


CONCURRENT = """
import sys, time
from pathlib import Path
import d2lseg
root = Path(sys.argv[1])
(root.parent / f"ready-{sys.argv[2]}").touch()
while len(list(root.parent.glob("ready-*"))) < 2:  # start both generators together
    time.sleep(0.01)
d2lseg.make_sample_voc(root, num_train=20, num_val=20)
"""


def test_two_processes_making_the_same_sample_both_succeed(voc_dir, tmp_path):
    root = tmp_path / "sample"
    runs = [
        subprocess.Popen([sys.executable, "-c", CONCURRENT, str(root), str(i)], stderr=PIPE)
        for i in range(2)
    ]
    errors = [run.communicate(timeout=120)[1].decode() for run in runs]
    assert [run.returncode for run in runs] == [0, 0], errors
    made = root / "VOCdevkit" / "VOC2012"
    files = sorted(p.relative_to(voc_dir) for p in voc_dir.rglob("*") if p.is_file())
    match, _, _ = filecmp.cmpfiles(voc_dir, made, files, shallow=False)
    assert len(match) == len(files)
    assert sorted(p.name for p in root.iterdir()) == [LOCK_NAME, "VOCdevkit"]  # no temporary left
