"""Prediction: crops as in the book, whole images of any size by overlapping tiles, overlays."""

import itertools

import torch
from PIL import Image

from .arguments import as_int
from .voc import normalize_image, rgb_array, voc_palette

STRIDE = 32  # the FCN's total downsampling: input sides must be multiples of it
# predict_whole_image's limits: its labels take 1 byte a pixel (100 MB at MAX_PIXELS, next to
# the uint8 image's 300 MB), its strip of logits shared with the next row of tiles 4 x classes
# x overlap bytes a column (108 MB for 21 classes, an overlap of 64 and MAX_SIDE columns; up
# to 537 MB where the last row of tiles overlaps the one before by 319 rows).
MAX_PIXELS = 100_000_000
MAX_SIDE = 20_000


def _as_rgb(img):
    """A 3xHxW uint8 tensor from a PIL image, or from a uint8 tensor with 1 (grey), 3 (RGB)
    or 4 (RGBA) channels first; anything else is refused, saying what to pass."""
    if isinstance(img, Image.Image):
        img = torch.from_numpy(rgb_array(img)).permute(2, 0, 1)
    if not torch.is_tensor(img) or img.dtype != torch.uint8:
        got = f"a tensor of {img.dtype}" if torch.is_tensor(img) else type(img).__name__
        raise TypeError(
            f"img must be a uint8 tensor (C x H x W, as torchvision.io.read_image gives) or "
            f"a PIL image, got {got}"
        )
    if img.ndim == 2:
        img = img.unsqueeze(0)
    if img.ndim != 3 or img.shape[0] not in (1, 3, 4):
        hint = ""
        if img.ndim == 3 and img.shape[-1] in (1, 3, 4):
            hint = "; this looks like H x W x C: pass img.permute(2, 0, 1)"
        raise ValueError(
            f"img must be C x H x W with 1, 3 or 4 channels, got shape {tuple(img.shape)}{hint}"
        )
    if img.shape[1] == 0 or img.shape[2] == 0:
        raise ValueError(f"img is empty: shape {tuple(img.shape)}")
    if img.shape[0] == 1:
        return img.expand(3, -1, -1)
    return img[:3]  # RGBA: drop alpha


def _normalize(img):
    return normalize_image(_as_rgb(img))


def _device(net):
    return next(net.parameters()).device


def predict(net, img):
    """Class index per pixel (H x W) for a uint8 C x H x W image (or a PIL image) with
    sides that are multiples of 32, as in the book."""
    X = _normalize(img)
    height, width = X.shape[-2:]
    if height % STRIDE or width % STRIDE:
        raise ValueError(
            f"predict needs image sides that are multiples of {STRIDE}, got {height}x{width}; "
            "crop the image, or use predict_whole_image for any size"
        )
    X = X.unsqueeze(0).to(_device(net))
    net.eval()
    with torch.no_grad():
        return net(X).argmax(dim=1)[0].cpu()


def _tile_starts(size, tile, overlap):
    """Start offsets of tiles of length `tile` that cover 0..size, neighbours sharing at least
    `overlap` pixels; the last tile ends exactly at `size`."""
    step = max(tile - overlap, 1)
    starts = list(range(0, size - tile, step))
    return starts + [size - tile]


def _tile_sides(tile):
    """`tile` as (height, width), positive ints that are multiples of 32, else ValueError."""
    sides = tuple(as_int(s) for s in tile) if isinstance(tile, tuple | list) else ()
    if len(sides) != 2 or not all(s is not None and s > 0 and s % STRIDE == 0 for s in sides):
        raise ValueError(
            f"tile sides must be positive multiples of {STRIDE}, as a (height, width) pair "
            f"of ints, got {tile!r}"
        )
    return sides


def tile_windows(height, width, tile=(320, 480), overlap=64):
    """The windows (top, left, tile height, tile width) with which `predict_whole_image`
    covers an image of height x width: tiles of `tile` (cut down to the image's sides rounded
    up to multiples of 32), neighbours sharing at least `overlap` pixels, the last row and
    column of tiles flush with the bottom and right edges of the (padded) image."""
    tile_h, tile_w = _tile_sides(tile)
    largest = min(tile_h, tile_w) - 1
    if as_int(overlap) is None or not 0 <= overlap <= largest:
        raise ValueError(f"overlap must be in 0..{largest} (an int), got {overlap!r}")
    overlap = int(overlap)
    tile_h = min(tile_h, -(-height // STRIDE) * STRIDE)
    tile_w = min(tile_w, -(-width // STRIDE) * STRIDE)
    return [
        (top, left, tile_h, tile_w)
        for top in _tile_starts(max(height, tile_h), tile_h, overlap)
        for left in _tile_starts(max(width, tile_w), tile_w, overlap)
    ]


def _check_size(img):
    """Refuse an image too large for `predict_whole_image` (MAX_PIXELS, MAX_SIDE)."""
    height, width = img.shape[1:]
    if height * width > MAX_PIXELS or max(height, width) > MAX_SIDE:
        raise ValueError(
            f"img is {height} x {width}: predict_whole_image takes at most {MAX_PIXELS:,} "
            f"pixels and {MAX_SIDE} a side; predict on pieces of it"
        )


def _coverage(starts, tile, size):
    """How many tiles of length `tile` starting at `starts` cover each of 0..size-1."""
    counts = torch.zeros(size)
    for start in starts:
        counts[start : start + tile] += 1
    return counts


def predict_whole_image(net, img, tile=(320, 480), overlap=64):
    """Class index per pixel (H x W; uint8 for up to 256 classes, else int64) for a uint8
    image (or a PIL image) of any size up to MAX_PIXELS and MAX_SIDE.

    As the book's text proposes: cover the image with overlapping tiles whose sides are
    multiples of 32, average the logits where tiles overlap, then take the argmax. An image
    smaller than a tile is padded (with the mean colour) to a multiple of 32 first. Tiles are
    taken row by row, left to right, each normalised on its own from the uint8 image. The
    logits a tile shares with the next tile of its row (a strip as high as the tile) and with
    the next row (a strip as wide as the image and as high as the rows' overlap) are carried
    on; every other pixel of the tile is final, labelled, and its logits dropped. Memory:
    the image and the labels, one tile's logits, and 4 x classes x width bytes for every
    row of overlap (the last row of tiles, flush with the bottom edge, may overlap more)."""
    img = _as_rgb(img)
    _check_size(img)
    height, width = img.shape[1:]
    windows = tile_windows(height, width, tile, overlap)
    _, _, tile_h, tile_w = windows[0]
    padded_h, padded_w = max(height, tile_h), max(width, tile_w)
    rows = {}  # the left edges of each row of tiles, by top edge, in tile_windows' order
    for top, left, _, _ in windows:
        rows.setdefault(top, []).append(left)
    tops, lefts = [*rows, padded_h], [*rows[0], padded_w]
    # Every pixel's tiles: a row of tiles times a column of tiles, so the counts factor.
    row_counts = _coverage(tops[:-1], tile_h, padded_h)
    col_counts = _coverage(lefts[:-1], tile_w, padded_w)
    below_h = max(top + tile_h - next_top for top, next_top in itertools.pairwise(tops))
    device = _device(net)
    labels, below = None, None  # below: the logits summed so far for the next row of tiles
    above = 0  # how many rows of `below` this row of tiles reads (carried from the last row)
    net.eval()
    with torch.no_grad():
        for top, next_top in itertools.pairwise(tops):
            done, right = next_top - top, None  # right: logits shared with the next tile
            for left, next_left in itertools.pairwise(lefts):
                window = img[:, top : top + tile_h, left : left + tile_w]
                # Zero after normalisation is the mean colour, a neutral padding.
                X = torch.nn.functional.pad(normalize_image(window), (
                    0, tile_w - window.shape[2], 0, tile_h - window.shape[1]))  # fmt: skip
                out = net(X.unsqueeze(0).to(device))[0].float().cpu()
                if labels is None:
                    classes = out.shape[0]
                    dtype = torch.uint8 if classes <= 256 else torch.int64
                    labels = torch.empty(padded_h, padded_w, dtype=dtype)
                    below = torch.zeros(classes, below_h, padded_w)
                shared = 0 if right is None else right.shape[2]
                if right is not None:
                    out[:, :, :shared] += right
                out[:, :above, shared:] += below[:, :above, left + shared : left + tile_w]
                finished = next_left - left
                counts = torch.outer(row_counts[top:next_top], col_counts[left:next_left])
                block = out[:, :done, :finished] / counts
                labels[top:next_top, left:next_left] = block.argmax(dim=0)
                right = out[:, :, finished:]
                below[:, : tile_h - done, left:next_left] = out[:, done:, :finished]
            above = tile_h - done
    return labels[:height, :width]


def label2image(pred):
    """VOC colours (H x W x 3 uint8) for a map of class indices; 255 is drawn as VOC's void."""
    palette = torch.tensor(voc_palette(), dtype=torch.uint8).reshape(256, 3)
    return palette[pred.long().cpu()]


def overlay(img, pred, alpha=0.5):
    """The image (H x W x 3 uint8) with the prediction's colours blended over everything
    that is not background, for judging a prediction against the photo."""
    rgb = _as_rgb(img).permute(1, 2, 0).float()
    colours = label2image(pred).float()
    mixed = torch.where((pred.cpu() > 0)[..., None], (1 - alpha) * rgb + alpha * colours, rgb)
    return mixed.round().to(torch.uint8)
