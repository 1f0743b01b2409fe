"""The Pascal VOC2012 semantic segmentation dataset, with the book's API.

Differences from the book (d2l.torch), each on purpose:
- the VOC boundary colour (224, 224, 192) and unknown colours decode to VOID_LABEL, not to
  background, so borders are neither trained nor scored as background;
- images are kept as uint8 and labels as class indices, normalised per item, which takes
  a fraction of the book's memory (it keeps float32 images and a 128 MiB table);
- the validation split is centre-cropped, so evaluation is repeatable;
- `load_data_voc` picks a safe `num_workers` for the OS;
- the dataset reads palette PNG labels by palette index (exact and faster), and refuses files
  it cannot decode and labels that are not in VOC's colours, naming the file.
"""

import os
import sys
from pathlib import Path

import numpy as np
import torch
import torchvision
from PIL import Image
from torchvision.transforms import functional as TF

from .arguments import as_int

VOC_COLORMAP = [[0, 0, 0], [128, 0, 0], [0, 128, 0], [128, 128, 0],
                [0, 0, 128], [128, 0, 128], [0, 128, 128], [128, 128, 128],
                [64, 0, 0], [192, 0, 0], [64, 128, 0], [192, 128, 0],
                [64, 0, 128], [192, 0, 128], [64, 128, 128], [192, 128, 128],
                [0, 64, 0], [128, 64, 0], [0, 192, 0], [128, 192, 0],
                [0, 64, 128]]  # fmt: skip

VOC_CLASSES = ['background', 'aeroplane', 'bicycle', 'bird', 'boat',
               'bottle', 'bus', 'car', 'cat', 'chair', 'cow',
               'diningtable', 'dog', 'horse', 'motorbike', 'person',
               'potted plant', 'sheep', 'sofa', 'train', 'tv/monitor']  # fmt: skip

VOID_LABEL = 255
VOID_COLOR = (224, 224, 192)  # how VOC's PNGs draw void pixels (object borders, difficult areas)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def voc_palette():
    """VOC's 256-colour PNG palette as a flat [r, g, b, ...] list: the 21 class colours of
    VOC_COLORMAP, then the same bit pattern up to index 255, VOID_COLOR."""
    palette = []
    for index in range(256):
        r = g = b = 0
        c = index
        for bit in range(7, -1, -1):
            r |= (c & 1) << bit
            g |= ((c >> 1) & 1) << bit
            b |= ((c >> 2) & 1) << bit
            c >>= 3
        palette += [r, g, b]
    return palette


def _split_file(voc_dir, is_train):
    voc_dir = Path(voc_dir)
    if not voc_dir.is_dir():
        raise FileNotFoundError(
            f"VOC dir {voc_dir} does not exist; expected a VOC2012 folder with JPEGImages/, "
            "SegmentationClass/ and ImageSets/Segmentation/ (see d2lseg.resolve_voc_dir)"
        )
    split = voc_dir / "ImageSets" / "Segmentation" / ("train.txt" if is_train else "val.txt")
    if not split.is_file():
        raise FileNotFoundError(f"split file {split} does not exist in VOC dir {voc_dir}")
    return voc_dir, split


def _split_names(split):
    """The image names a split file lists: UTF-8 text (a BOM and CRLF endings are fine)."""
    try:
        names = split.read_bytes().decode("utf-8-sig").split()
    except UnicodeDecodeError as err:
        raise ValueError(
            f"split file {split} is not UTF-8 text ({err}); it should list one image name per line"
        ) from None
    if not names:
        raise ValueError(f"split file {split} lists no images")
    return names


def _decoded(path, read):
    """`read(img)` of the image file `path`; a file PIL cannot decode is a ValueError
    naming it."""
    try:
        with Image.open(path) as img:
            return read(img)
    except (OSError, ValueError, Image.DecompressionBombError) as err:
        raise ValueError(f"cannot decode {path} as an image: {err}") from err


SIXTEEN_BIT_MODES = ("I;16", "I;16B", "I;16L", "I;16N")


def rgb_array(img):
    """A PIL image as an H x W x 3 uint8 array. 16-bit greyscale is scaled to 8 bits (65535
    becomes 255), not clipped as `convert("RGB")` does; 32-bit integer and floating-point
    images (modes I and F), whose range is not defined, are a ValueError naming the mode."""
    if img.mode in SIXTEEN_BIT_MODES:
        grey = (np.asarray(img).astype(np.uint32) * 255 + 32767) // 65535
        return np.repeat(grey.astype(np.uint8)[..., None], 3, axis=2)
    if img.mode in ("I", "F"):
        kind = "32-bit integer" if img.mode == "I" else "floating-point"
        raise ValueError(
            f"PIL mode {img.mode} ({kind} pixels) has no defined range; save the image with "
            "8 or 16 bits per channel"
        )
    return np.array(img.convert("RGB"))


def _read_rgb(path):
    """An image file as a 3xHxW uint8 tensor (palette PNGs expanded to their colours).
    PIL decodes exactly as the book's torchvision.io, whose decoders are deprecated."""
    return torch.from_numpy(_decoded(path, rgb_array)).permute(2, 0, 1).contiguous()


def _read_pair(voc_dir, name, read_label=_read_rgb):
    """One image (3xHxW uint8) and its label, read by `read_label`, checked to match."""
    image_path = voc_dir / "JPEGImages" / f"{name}.jpg"
    label_path = voc_dir / "SegmentationClass" / f"{name}.png"
    for path in (image_path, label_path):
        if not path.is_file():
            raise FileNotFoundError(f"{path} does not exist (listed as {name!r} in the split file)")
    feature, label = _read_rgb(image_path), read_label(label_path)
    if feature.shape[1:] != label.shape[-2:]:
        raise ValueError(
            f"image {image_path} is {tuple(feature.shape[1:])} (HxW) but its label "
            f"{label_path} is {tuple(label.shape[-2:])}; they must have the same size"
        )
    return feature, label


def _iter_voc_images(voc_dir, is_train, read_label=_read_rgb):
    """Yield (feature, label) pairs of a split, one at a time; labels in colour unless
    `read_label` reads them otherwise."""
    voc_dir, split = _split_file(voc_dir, is_train)
    for name in _split_names(split):
        yield _read_pair(voc_dir, name, read_label)


def read_voc_images(voc_dir, is_train=True):
    """Read all VOC images and their colour labels, as the book does (lists of uint8 CHW)."""
    features, labels = [], []
    for feature, label in _iter_voc_images(voc_dir, is_train):
        features.append(feature)
        labels.append(label)
    return features, labels


def voc_colormap2label():
    """Lookup table from a packed RGB value (r * 256 + g) * 256 + b to a class index.

    Every colour outside VOC_COLORMAP, including the boundary colour, maps to VOID_LABEL.
    uint8 entries: 16 MiB instead of the book's 128 MiB of int64."""
    colormap2label = torch.full((256**3,), VOID_LABEL, dtype=torch.uint8)
    for i, (r, g, b) in enumerate(VOC_COLORMAP):
        colormap2label[(r * 256 + g) * 256 + b] = i
    return colormap2label


def voc_label_indices(colormap, colormap2label):
    """Map a 3xHxW uint8 colour label to an HxW uint8 map of class indices (VOID_LABEL = 255).

    Packs the colours in place in NumPy and gathers there, with fewer and smaller temporaries
    than the book's version, which builds several int64 ones (1.2x its speed on a 2-core CPU:
    benchmarks/voc_dataset.py)."""
    rgb = colormap.numpy()
    index = rgb[0].astype(np.int32)
    index <<= 8
    index |= rgb[1]
    index <<= 8
    index |= rgb[2]
    return torch.from_numpy(colormap2label.numpy()[index])


MAX_UNKNOWN_SHARE = 0.01  # labels with more pixels of other colours are not VOC labels


def _palette_lut():
    """Palette index -> class index for PNGs with VOC's palette: 0..20 are the classes,
    every other index (255 = VOC's void colour among them) is VOID_LABEL."""
    lut = np.full(256, VOID_LABEL, dtype=np.uint8)
    lut[: len(VOC_COLORMAP)] = np.arange(len(VOC_COLORMAP))
    return lut


_VOC_PALETTE, _PALETTE_LUT = voc_palette(), _palette_lut()


def _read_label_indices(path, colormap2label):
    """A label file as an HxW uint8 map of class indices (VOID_LABEL = 255).

    PNGs with VOC's palette (VOC's own, and the sample's) are read by palette index: exact,
    and faster than matching colours. Other labels are decoded by colour, and refused when
    more than MAX_UNKNOWN_SHARE of their pixels have a colour that is neither a class
    colour nor VOC's void colour: a greyscale index map, another palette, or JPEG artefacts."""

    def read(img):
        if img.mode == "P":
            palette = img.getpalette() or []
            if len(palette) >= 3 * len(VOC_COLORMAP) and palette == _VOC_PALETTE[: len(palette)]:
                return img.mode, torch.from_numpy(_PALETTE_LUT[np.array(img)])
        return img.mode, torch.from_numpy(rgb_array(img)).permute(2, 0, 1)

    mode, decoded = _decoded(path, read)
    if decoded.ndim == 2:
        return decoded
    indices = voc_label_indices(decoded, colormap2label)
    void_colour = torch.tensor(VOID_COLOR, dtype=torch.uint8)[:, None, None]
    unknown = (indices == VOID_LABEL) & ~(decoded == void_colour).all(dim=0)
    share = unknown.float().mean().item()
    if share > MAX_UNKNOWN_SHARE:
        raise ValueError(
            f"label {path} (PIL mode {mode}) has {share:.0%} of its pixels in colours that "
            "are not VOC's: VOC labels are PNGs with VOC's palette or in the RGB colours of "
            "VOC_COLORMAP, not greyscale index maps, other palettes or JPEG-compressed colours"
        )
    return indices


def _check_crop_size(crop_size):
    """`crop_size` as a (height, width) pair of positive ints, else ValueError."""
    try:
        pair = tuple(crop_size)
    except TypeError:
        pair = None
    if (
        pair is None
        or len(pair) != 2
        or not all(as_int(s) is not None for s in pair)
        or min(pair) < 1
    ):
        raise ValueError(f"crop_size must be two positive ints (height, width), got {crop_size!r}")
    return tuple(int(s) for s in pair)


def _check_crop(image_shape, height, width):
    if height > image_shape[-2] or width > image_shape[-1]:
        raise ValueError(
            f"crop size ({height}, {width}) is larger than the image "
            f"{tuple(image_shape[-2:])} (height, width)"
        )


def voc_rand_crop(feature, label, height, width):
    """Cut the same random height x width rectangle from an image and its label."""
    _check_crop(feature.shape, height, width)
    rect = torchvision.transforms.RandomCrop.get_params(feature, (height, width))
    return TF.crop(feature, *rect), TF.crop(label, *rect)


def voc_center_crop(feature, label, height, width):
    """Cut the central height x width rectangle from an image and its label."""
    _check_crop(feature.shape, height, width)
    return TF.center_crop(feature, [height, width]), TF.center_crop(label, [height, width])


def normalize_image(img):
    """uint8 CHW -> float32, normalised with the ImageNet statistics the backbone expects."""
    return TF.normalize(img.float() / 255, IMAGENET_MEAN, IMAGENET_STD)


class VOCSegDataset(torch.utils.data.Dataset):
    """VOC images (uint8) and class-index labels (uint8), cropped and normalised per item.

    Training items are random crops; validation items are centre crops, so every evaluation
    sees the same pixels. Images smaller than `crop_size` are skipped, as in the book."""

    def __init__(self, is_train, crop_size, voc_dir):
        self.is_train = is_train
        self.crop_size = _check_crop_size(crop_size)
        colormap2label = voc_colormap2label()

        def read_label(path):
            return _read_label_indices(path, colormap2label)

        self.features, self.labels = [], []
        num_read = 0
        for feature, label in _iter_voc_images(voc_dir, is_train, read_label):
            num_read += 1
            if feature.shape[1] >= self.crop_size[0] and feature.shape[2] >= self.crop_size[1]:
                self.features.append(feature)
                self.labels.append(label)
        if not self.features:
            _, split = _split_file(voc_dir, is_train)
            raise ValueError(
                f"crop_size {self.crop_size} is larger than every one of the {num_read} images "
                f"listed in {split}; choose a smaller crop_size"
            )
        print(f"read {len(self.features)} examples")

    def normalize_image(self, img):
        """The book's method name for `normalize_image`."""
        return normalize_image(img)

    def __getitem__(self, idx):
        crop = voc_rand_crop if self.is_train else voc_center_crop
        feature, label = crop(self.features[idx], self.labels[idx], *self.crop_size)
        return self.normalize_image(feature), label.long()

    def __len__(self):
        return len(self.features)


def default_num_workers():
    """DataLoader workers that are safe and useful everywhere: none on Windows and macOS,
    where workers are spawned processes (slow to start, fragile in notebooks); elsewhere one
    per core beyond the two that training itself keeps busy, at most 4. Items are cheap (a
    crop and a normalisation), so a worker only helps when it has a core of its own."""
    if sys.platform in ("win32", "darwin"):
        return 0
    return min(4, max(0, (os.cpu_count() or 1) - 2))


def load_data_voc(batch_size, crop_size, voc_dir=None, num_workers=None):
    """Training and validation DataLoaders over the VOC data chosen by `resolve_voc_dir`."""
    from .data import resolve_voc_dir

    voc_dir = resolve_voc_dir(voc_dir)
    num_workers = default_num_workers() if num_workers is None else num_workers
    train_set = VOCSegDataset(True, crop_size, voc_dir)
    if len(train_set) < batch_size:
        raise ValueError(
            f"batch_size {batch_size} is larger than the {len(train_set)} training images; "
            "every epoch would be empty"
        )
    train_iter = torch.utils.data.DataLoader(
        train_set, batch_size, shuffle=True, drop_last=True, num_workers=num_workers
    )
    val_iter = torch.utils.data.DataLoader(
        VOCSegDataset(False, crop_size, voc_dir), batch_size, num_workers=num_workers
    )
    return train_iter, val_iter
