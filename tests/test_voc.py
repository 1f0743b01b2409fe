"""The VOC API against the book's own functions (the d2l package) as the oracle."""

import io
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


def _first_name(voc, split="train"):
    return (voc / f"ImageSets/Segmentation/{split}.txt").read_text().split()[0]


@pytest.mark.parametrize("folder", ["JPEGImages", "SegmentationClass"])
@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_undecodable_files_are_named(broken_voc, folder, damage):
    name = _first_name(broken_voc)
    path = broken_voc / folder / f"{name}{'.jpg' if folder == 'JPEGImages' else '.png'}"
    content = path.read_bytes()
    path.write_bytes(b"not an image" if damage == "garbage" else content[: len(content) // 2])
    with pytest.raises(ValueError, match=f"cannot decode {path}"):
        d2lseg.read_voc_images(broken_voc)
    with pytest.raises(ValueError, match=f"cannot decode {path}"):
        d2lseg.VOCSegDataset(True, (64, 64), broken_voc)


def test_palette_labels_by_index_equal_colour_decoding(voc_dir):
    """The dataset reads palette PNGs by index; the oracle decodes their colours."""
    _, colour_labels = d2lseg.read_voc_images(voc_dir, is_train=False)
    table = d2lseg.voc_colormap2label()
    dataset = d2lseg.VOCSegDataset(False, (64, 64), voc_dir)
    for label, indices in zip(colour_labels, dataset.labels, strict=True):
        assert torch.equal(indices, d2lseg.voc_label_indices(label, table))


def _label_path(voc):
    return voc / "SegmentationClass" / f"{_first_name(voc)}.png"


def _dataset_label(voc):
    return d2lseg.VOCSegDataset(True, (64, 64), voc).labels[0]


def test_palette_indices_outside_the_classes_are_void(broken_voc):
    path = _label_path(broken_voc)
    png = Image.open(path)
    indices = np.array(png)
    indices[:5, :5] = 30  # VOC's palette has a colour there, but no class
    edited = Image.fromarray(indices, mode="P")
    edited.putpalette(png.getpalette())
    edited.save(path)
    label = _dataset_label(broken_voc)
    assert (label[:5, :5] == d2lseg.VOID_LABEL).all()
    colour = d2lseg.voc_label_indices(
        d2lseg.read_voc_images(broken_voc)[1][0], d2lseg.voc_colormap2label()
    )
    assert torch.equal(label, colour)


def test_rgb_labels_are_decoded_by_colour(voc_dir, broken_voc):
    path = _label_path(broken_voc)
    Image.open(path).convert("RGB").save(path)
    assert torch.equal(_dataset_label(broken_voc), _dataset_label(voc_dir))


def test_a_few_unknown_colours_are_void(broken_voc):
    path = _label_path(broken_voc)
    rgb = np.array(Image.open(path).convert("RGB"))
    rgb[:3, :3] = (1, 2, 3)
    Image.fromarray(rgb).save(path)
    assert (_dataset_label(broken_voc)[:3, :3] == d2lseg.VOID_LABEL).all()


def _grey_index_map(png):
    return Image.fromarray(np.array(png), mode="L")


def _other_palette(png):
    other = png.copy()
    other.putpalette([255 - v for v in png.getpalette()])
    return other


def _jpeg_colours(png):
    buffer = io.BytesIO()
    png.convert("RGB").save(buffer, format="JPEG", quality=75)
    return Image.open(buffer)


@pytest.mark.parametrize("convert", [_grey_index_map, _other_palette, _jpeg_colours])
def test_labels_that_are_not_voc_colours_are_refused(broken_voc, convert):
    path = _label_path(broken_voc)
    convert(Image.open(path)).save(path, format="PNG")  # the JPEG case keeps its artefacts
    with pytest.raises(ValueError, match=f"label {path} .* not VOC's"):
        d2lseg.VOCSegDataset(True, (64, 64), broken_voc)


def test_split_files_with_a_bom_and_crlf_read(voc_dir, broken_voc):
    split = broken_voc / "ImageSets/Segmentation/val.txt"
    names = split.read_text().split()
    split.write_bytes("\ufeff".encode() + "\r\n".join(names).encode() + b"\r\n")
    ours = d2lseg.read_voc_images(broken_voc, is_train=False)
    reference = d2lseg.read_voc_images(voc_dir, is_train=False)
    assert all(torch.equal(a, b) for a, b in zip(ours[1], reference[1], strict=True))


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("train_000000\n".encode("utf-16"), "is not UTF-8 text"),
        ("trän_000000\n".encode("latin-1"), "is not UTF-8 text"),
        (b"", "lists no images"),
        (b"\n \r\n", "lists no images"),
    ],
    ids=["utf-16", "latin-1", "empty", "blank"],
)
def test_split_files_that_cannot_be_read(broken_voc, content, message):
    split = broken_voc / "ImageSets/Segmentation/train.txt"
    split.write_bytes(content)
    with pytest.raises(ValueError, match=f"split file {split} {message}"):
        d2lseg.VOCSegDataset(True, (64, 64), broken_voc)


@pytest.mark.parametrize(
    "crop_size", [(0, 64), (64,), 64, (64.0, 64), (True, 64), "ab", (64, -1), None]
)
def test_crop_size_must_be_two_positive_ints(voc_dir, crop_size):
    with pytest.raises(ValueError, match="crop_size must be two positive ints"):
        d2lseg.VOCSegDataset(True, crop_size, voc_dir)


def test_crop_size_of_numpy_ints(voc_dir):
    dataset = d2lseg.VOCSegDataset(False, np.array([64, 96]), voc_dir)
    assert dataset.crop_size == (64, 96) and dataset[0][0].shape == (3, 64, 96)


def test_palette_labels_are_read_by_index_not_by_colour(voc_dir, monkeypatch):
    def by_colour(*args):
        raise AssertionError("a VOC palette label was decoded by colour")

    monkeypatch.setattr(d2lseg.voc, "voc_label_indices", by_colour)
    assert len(d2lseg.VOCSegDataset(False, (64, 64), voc_dir)) == 20
