"""The VOC API against the book's own functions (the d2l package) as the oracle."""

import shutil

import d2l.torch as d2l
import numpy as np
import pytest
import torch
from PIL import Image

import d2lseg
from d2lseg.voc import VOID_COLOR, voc_center_crop


def test_read_voc_images_matches_the_book(voc_dir):
    ours = d2lseg.read_voc_images(voc_dir, is_train=False)
    theirs = d2l.read_voc_images(str(voc_dir), is_train=False)
    assert len(ours[0]) == len(theirs[0]) == 20
    for mine, book in zip(ours[0] + ours[1], theirs[0] + theirs[1], strict=True):
        assert torch.equal(mine, book)


def test_label_indices_agree_with_the_book_except_void(voc_dir):
    _, labels = d2lseg.read_voc_images(voc_dir)
    ours_table, book_table = d2lseg.voc_colormap2label(), d2l.voc_colormap2label()
    void_seen = 0
    for label in labels:
        ours = d2lseg.voc_label_indices(label, ours_table)
        book = d2l.voc_label_indices(label, book_table)
        void = ours == d2lseg.VOID_LABEL
        assert torch.equal(ours[~void].long(), book[~void])
        # Void is exactly VOC's boundary colour here; the book calls it background.
        is_void_colour = (label == torch.tensor(VOID_COLOR).reshape(3, 1, 1)).all(dim=0)
        assert torch.equal(void, is_void_colour)
        assert (book[void] == 0).all()
        void_seen += int(void.sum())
    assert void_seen > 0


def test_unknown_colours_are_void():
    label = torch.tensor([[[0, 128, 1]], [[0, 0, 2]], [[0, 0, 3]]], dtype=torch.uint8)
    indices = d2lseg.voc_label_indices(label, d2lseg.voc_colormap2label())
    assert indices.tolist() == [[0, 1, d2lseg.VOID_LABEL]]


def test_palette_indices_equal_colour_decoding(voc_dir):
    name = (voc_dir / "ImageSets/Segmentation/train.txt").read_text().split()[0]
    png = Image.open(voc_dir / "SegmentationClass" / f"{name}.png")
    assert png.mode == "P"
    assert png.getpalette()[: 21 * 3] == sum(d2lseg.VOC_COLORMAP, [])
    _, labels = d2lseg.read_voc_images(voc_dir)
    decoded = d2lseg.voc_label_indices(labels[0], d2lseg.voc_colormap2label())
    assert torch.equal(torch.from_numpy(np.array(png)), decoded)


def test_rand_crop_cuts_the_same_rectangle_as_the_book():
    height, width = 40, 50
    rows, cols = torch.meshgrid(torch.arange(height), torch.arange(width), indexing="ij")
    feature = torch.stack([rows, cols, rows + cols])
    label = rows * width + cols
    torch.manual_seed(3)
    f, lab = d2lseg.voc_rand_crop(feature, label, 17, 23)
    torch.manual_seed(3)
    book_f, _ = d2l.voc_rand_crop(feature, label.unsqueeze(0), 17, 23)
    assert torch.equal(f, book_f)
    assert f.shape == (3, 17, 23) and lab.shape == (17, 23)
    assert torch.equal(lab, f[0] * width + f[1])  # the label pixel under every image pixel


def test_crop_larger_than_image_names_both_sizes():
    with pytest.raises(ValueError, match=r"crop size \(50, 10\).*\(40, 60\)"):
        d2lseg.voc_rand_crop(torch.zeros(3, 40, 60), torch.zeros(40, 60), 50, 10)


def test_dataset_items(voc_dir):
    train = d2lseg.VOCSegDataset(True, (64, 96), voc_dir)
    val = d2lseg.VOCSegDataset(False, (64, 96), voc_dir)
    assert len(train) == len(val) == 20
    # Stored compactly: uint8 images and uint8 class indices.
    assert train.features[0].dtype == torch.uint8 and train.labels[0].dtype == torch.uint8
    assert train.labels[0].shape == train.features[0].shape[1:]
    X, y = train[0]
    assert X.shape == (3, 64, 96) and X.dtype == torch.float32
    assert y.shape == (64, 96) and y.dtype == torch.int64
    assert set(y.unique().tolist()) <= set(range(21)) | {255}
    torch.manual_seed(0)
    crops = {tuple(train[0][1].flatten()[:50].tolist()) for _ in range(5)}
    assert len(crops) > 1  # training crops are random
    assert all(torch.equal(a, b) for a, b in zip(val[3], val[3], strict=True))  # val ones not


def test_dataset_normalises_as_the_book(voc_dir):
    ours = d2lseg.VOCSegDataset(False, (64, 96), voc_dir)
    book = d2l.VOCSegDataset(False, (64, 96), str(voc_dir))
    feature, label = voc_center_crop(book.features[0], book.labels[0], 64, 96)
    X, y = ours[0]
    torch.testing.assert_close(X, feature)
    book_y = d2l.voc_label_indices(label, d2l.voc_colormap2label())
    assert torch.equal(y[y != 255], book_y[y != 255])


def test_load_data_voc_batches(voc_dir, capsys):
    train_iter, val_iter = d2lseg.load_data_voc(4, (64, 96), voc_dir=voc_dir, num_workers=0)
    assert f"VOC data: {voc_dir}" in capsys.readouterr().out
    X, y = next(iter(train_iter))
    assert X.shape == (4, 3, 64, 96) and y.shape == (4, 64, 96)
    assert len(train_iter) == 5 and sum(len(y) for _, y in val_iter) == 20


def test_load_data_voc_refuses_a_batch_larger_than_the_data(voc_dir):
    with pytest.raises(ValueError, match="batch_size 64 is larger than the 20 training images"):
        d2lseg.load_data_voc(64, (64, 96), voc_dir=voc_dir, num_workers=0)


@pytest.fixture
def broken_voc(voc_dir, tmp_path):
    """A private copy of the sample that a test may damage."""
    return shutil.copytree(voc_dir, tmp_path / "VOC2012")


def test_missing_voc_dir(tmp_path):
    with pytest.raises(FileNotFoundError, match=f"VOC dir {tmp_path / 'nope'} does not exist"):
        d2lseg.read_voc_images(tmp_path / "nope")


def test_missing_split_file(broken_voc):
    (broken_voc / "ImageSets/Segmentation/val.txt").unlink()
    with pytest.raises(FileNotFoundError, match="split file .*val.txt does not exist"):
        d2lseg.VOCSegDataset(False, (64, 64), broken_voc)


def test_image_without_label(broken_voc):
    (broken_voc / "SegmentationClass/train_000003.png").unlink()
    with pytest.raises(FileNotFoundError, match="train_000003.png does not exist"):
        d2lseg.read_voc_images(broken_voc)


def test_image_and_label_of_different_sizes(broken_voc):
    path = broken_voc / "SegmentationClass/train_000002.png"
    png = Image.open(path)
    png.crop((0, 0, png.width - 1, png.height)).save(path)
    with pytest.raises(ValueError, match="train_000002.jpg.*train_000002.png.*same size"):
        d2lseg.VOCSegDataset(True, (64, 64), broken_voc)


def test_crop_larger_than_every_image(voc_dir):
    with pytest.raises(ValueError, match=r"crop_size \(600, 600\) is larger than every one"):
        d2lseg.VOCSegDataset(True, (600, 600), voc_dir)
