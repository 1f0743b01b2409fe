"""An embedded VOC2012-format dataset, generated on demand, so the course runs offline.

Each image shows one to four objects on a textured background. The 20 object classes come
in 10 pairs; the two classes of a pair share one colour distribution and differ in shape and
texture (one plain, one patterned with stripes, checks or dots). The light pixels of the
patterned class look like those of the plain one, so the colour of a pixel does not tell its
class: a network has to look at its neighbourhood, as on real photos.
Labels are palette PNGs with VOC's palette and a void (255) band along every object boundary.
"""

import colorsys
import json
import math
import os
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter
from tqdm.auto import tqdm

from .arguments import as_int
from .files import writing_in
from .voc import VOC_CLASSES, VOID_LABEL, voc_palette

SHAPES = ("ellipse", "box", "triangle", "ring", "cross")
PATTERNS = ("stripes", "checker", "dots")
NUM_OBJECT_CLASSES = len(VOC_CLASSES) - 1  # 20: 10 colour groups x (plain, patterned)
NUM_GROUPS = NUM_OBJECT_CLASSES // 2
MARKER = "d2lseg-sample.json"  # in the VOC dir: tells the sample from the real VOC2012


def class_appearance(cls):
    """(shape, texture, colour group) of object class `cls` in 1..20. Classes `cls` and
    `cls + 10` share a colour group; the first is plain, the second patterned and of
    another shape."""
    group, patterned = (cls - 1) % NUM_GROUPS, cls > NUM_GROUPS
    if patterned:
        return SHAPES[(group + 2) % len(SHAPES)], PATTERNS[group % len(PATTERNS)], group
    return SHAPES[group % len(SHAPES)], "plain", group


def _shape_mask(shape, x, y):
    """Inside-test in the object's normalised, rotated frame (the shape spans about [-1, 1])."""
    if shape == "ellipse":
        return x**2 + y**2 <= 1
    if shape == "box":
        return np.maximum(np.abs(x), np.abs(y)) <= 0.8
    if shape == "triangle":
        return (y <= 0.6) & (y >= -0.95 + 1.7 * np.abs(x))
    if shape == "ring":
        r2 = x**2 + y**2
        return (r2 <= 1) & (r2 >= 0.3)
    if shape == "cross":
        return ((np.abs(x) <= 0.3) & (np.abs(y) <= 1)) | ((np.abs(y) <= 0.3) & (np.abs(x) <= 1))
    raise ValueError(f"unknown shape {shape!r}")


def _texture_mask(texture, u, v, period):
    """Where the object shows its second (darker) tone; u, v are pixel units along the texture."""
    if texture == "plain":
        return np.zeros(u.shape, dtype=bool)
    if texture == "stripes":
        return np.sin(2 * np.pi * u / period) > 0
    if texture == "checker":
        return (np.floor(u / period) + np.floor(v / period)) % 2 == 1
    if texture == "dots":
        du, dv = (u % period) - period / 2, (v % period) - period / 2
        return du**2 + dv**2 <= (0.32 * period) ** 2
    raise ValueError(f"unknown texture {texture!r}")


def _hsv(h, s, v):
    return np.array(colorsys.hsv_to_rgb(h % 1.0, s, v)) * 255


def _smooth_noise(rng, height, width, cells, channels):
    """Low-frequency noise in [0, 1]: a coarse random grid, bicubically upsampled."""
    coarse = rng.random((cells, cells, channels))
    layers = [
        np.asarray(
            Image.fromarray((coarse[..., c] * 255).astype(np.uint8)).resize(
                (width, height), Image.BICUBIC
            ),
            dtype=np.float32,
        )
        / 255
        for c in range(channels)
    ]
    return np.stack(layers, axis=-1)


def _background(rng, height, width):
    """A scene-like background: two colour regions split by a wavy horizon, soft blotches, grain."""
    hue = rng.random()
    top = _hsv(hue, rng.uniform(0.1, 0.6), rng.uniform(0.5, 0.95))
    bottom = _hsv(hue + rng.uniform(0.15, 0.5), rng.uniform(0.1, 0.7), rng.uniform(0.3, 0.8))
    rows = np.arange(height, dtype=np.float32)[:, None]
    cols = np.arange(width, dtype=np.float32)[None, :]
    horizon = height * rng.uniform(0.3, 0.7) + 15 * np.sin(cols / rng.uniform(30, 90))
    weight = 1 / (1 + np.exp((rows - horizon) / 6))  # 1 above the horizon, 0 below
    img = weight[..., None] * top + (1 - weight[..., None]) * bottom
    # Soft blotches of light and shade, a faint tint, and a finer grain like foliage or gravel.
    blotches = _smooth_noise(rng, height, width, int(rng.integers(4, 9)), 1)
    tint = _smooth_noise(rng, height, width, 5, 3)
    grain = _smooth_noise(rng, height, width, int(rng.integers(30, 60)), 1)
    img *= 0.55 + 0.6 * blotches + 0.2 * (tint - 0.5) + 0.3 * (grain - 0.5)
    return img


def _draw_object(rng, img, label, cls):
    """Paint one object of class `cls` (in place) and write its label; return nothing."""
    height, width = label.shape
    shape, texture, group = class_appearance(cls)
    radius = rng.uniform(0.2, 0.42) * min(height, width)
    cx, cy = rng.uniform(0.15, 0.85) * width, rng.uniform(0.15, 0.85) * height
    angle, aspect = rng.uniform(0, 2 * np.pi), rng.uniform(0.8, 1.25)
    # Work inside the bounding square only: far cheaper than the whole image.
    x0, x1 = int(max(cx - 1.3 * radius, 0)), int(min(cx + 1.3 * radius, width))
    y0, y1 = int(max(cy - 1.3 * radius, 0)), int(min(cy + 1.3 * radius, height))
    ys, xs = np.mgrid[y0:y1, x0:x1].astype(np.float32)
    dx, dy = xs - cx, ys - cy
    # math's Python floats, not NumPy's float64 scalars: under NEP 50 (NumPy 2) a float64
    # scalar would promote these float32 grids to float64, and the sample would change.
    cos, sin = math.cos(angle), math.sin(angle)
    x = (dx * cos + dy * sin) / (radius * aspect)
    y = (-dx * sin + dy * cos) / (radius / aspect)
    inside = _shape_mask(shape, x, y)
    tex_angle = rng.uniform(0, np.pi)
    u = dx * math.cos(tex_angle) + dy * math.sin(tex_angle)
    v = -dx * math.sin(tex_angle) + dy * math.cos(tex_angle)
    dark = _texture_mask(texture, u, v, period=rng.uniform(0.07, 0.11) * radius + 6)
    light = _hsv(
        group / NUM_GROUPS + rng.uniform(-0.03, 0.03), rng.uniform(0.5, 0.9), rng.uniform(0.6, 1)
    )
    colour = np.where(dark[..., None], light * rng.uniform(0.4, 0.6), light)
    shading = 1 + 0.25 * (x * rng.uniform(-1, 1) + y * rng.uniform(-1, 1))
    region = img[y0:y1, x0:x1]
    region[inside] = (colour * np.clip(shading, 0.6, 1.4)[..., None])[inside]
    label[y0:y1, x0:x1][inside] = cls


def _boundary(label):
    """Pixels near a change of class: VOC's void band, 5 px wide (2 px on one side, 3 on the
    other)."""
    edge = np.zeros(label.shape, dtype=bool)
    across = label[:, 1:] != label[:, :-1]
    edge[:, 1:] |= across
    edge[:, :-1] |= across
    down = label[1:] != label[:-1]
    edge[1:] |= down
    edge[:-1] |= down
    height, width = label.shape
    padded = np.pad(edge, 2)
    band = np.zeros_like(edge)
    for dy in range(4):  # dilate by a 4x4 square: each edge pixel pair grows to 5 px
        for dx in range(4):
            band |= padded[dy : dy + height, dx : dx + width]
    return band


def _render(rng, main_class):
    """One (image, label) pair whose topmost object has class `main_class`."""
    height, width = (int(s) for s in rng.integers(300, 501, size=2))
    img = _background(rng, height, width)
    label = np.zeros((height, width), dtype=np.uint8)
    num_extra = int(rng.choice([0, 1, 2, 3], p=[0.3, 0.35, 0.25, 0.1]))
    for cls in [*rng.integers(1, NUM_OBJECT_CLASSES + 1, size=num_extra), main_class]:
        _draw_object(rng, img, label, int(cls))
    img += rng.standard_normal(img.shape, dtype=np.float32) * 5
    image = Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).filter(ImageFilter.SMOOTH)
    label[_boundary(label)] = VOID_LABEL
    return image, label


def _count(name, value, minimum, why=""):
    """`value` as an int >= `minimum` (Python or NumPy integers), else ValueError."""
    if as_int(value) is None:
        raise ValueError(f"{name} must be an int, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}{why}, got {value}")
    return as_int(value)


def _same_sample(voc_dir, settings):
    """Whether `voc_dir` holds a complete sample made with `settings`."""
    try:
        return json.loads((voc_dir / MARKER).read_text()) == settings
    except (OSError, ValueError):
        return False


def make_sample_voc(root, num_train=300, num_val=60, seed=0, progress=False):
    """Write a VOC2012-format sample dataset under `root` and return its VOC dir,
    `root/VOCdevkit/VOC2012`. The same arguments give byte-identical files. `progress`
    shows a progress bar (off by default: notebooks must print the same every time).

    The tree is built in a temporary folder and moved into place in one step, so an
    interrupted run never leaves a dataset that looks complete. If the same sample is
    already there (made by another process meanwhile, say), it is returned as it is."""
    if not isinstance(root, str | os.PathLike):
        raise ValueError(f"root must be a folder path, got {root!r}")
    every_class = " so that every class appears in the split"
    num_train = _count("num_train", num_train, NUM_OBJECT_CLASSES, every_class)
    num_val = _count("num_val", num_val, NUM_OBJECT_CLASSES, every_class)
    seed = _count("seed", seed, 0)
    root = Path(root)
    voc_dir = root / "VOCdevkit" / "VOC2012"
    settings = {"num_train": num_train, "num_val": num_val, "seed": seed}
    if voc_dir.exists():
        if _same_sample(voc_dir, settings):
            return voc_dir
        raise FileExistsError(f"{voc_dir} already exists; delete it to generate it again")
    root.mkdir(parents=True, exist_ok=True)
    palette = voc_palette()
    bar = tqdm(total=num_train + num_val, desc="sample", unit="image", disable=not progress)
    # A name d2lseg.files.remove_leftovers knows; the folder's lock keeps it from removing it.
    prefix = f".sample-pid{os.getpid()}-"
    with bar, writing_in(root), tempfile.TemporaryDirectory(dir=root, prefix=prefix) as tmp:
        tmp_voc = Path(tmp) / "VOC2012"
        for sub in ("JPEGImages", "SegmentationClass", "ImageSets/Segmentation"):
            (tmp_voc / sub).mkdir(parents=True)
        for split_id, (split, count) in enumerate((("train", num_train), ("val", num_val))):
            order_rng = np.random.default_rng([seed, split_id])
            # Every class is the topmost object of at least one image in each split.
            main_classes = np.concatenate(
                [
                    order_rng.permutation(NUM_OBJECT_CLASSES) + 1
                    for _ in range(count // NUM_OBJECT_CLASSES + 1)
                ]
            )
            names = []
            for i in range(count):
                name = f"{split}_{i:06d}"
                image, label = _render(np.random.default_rng([seed, split_id, i]), main_classes[i])
                image.save(tmp_voc / "JPEGImages" / f"{name}.jpg", quality=90)
                png = Image.frombytes("P", label.shape[::-1], label.tobytes())
                png.putpalette(palette)
                png.save(tmp_voc / "SegmentationClass" / f"{name}.png")
                names.append(name)
                bar.update(1)
            (tmp_voc / "ImageSets" / "Segmentation" / f"{split}.txt").write_text(
                "\n".join(names) + "\n"
            )
        (tmp_voc / MARKER).write_text(json.dumps(settings) + "\n")
        voc_dir.parent.mkdir(exist_ok=True)
        try:
            os.replace(tmp_voc, voc_dir)
        except OSError:  # another process finished first: fine if it made the same sample
            if not _same_sample(voc_dir, settings):
                raise
    return voc_dir


def is_sample_voc(voc_dir):
    """Whether `voc_dir` holds a sample made by `make_sample_voc` (not the real VOC2012)."""
    return (Path(voc_dir) / MARKER).is_file()


def describe_class(cls):
    """How the sample draws class `cls` (0..20), for legends: 'background', or e.g. 'plain
    cross, colour 4'. The sample reuses VOC's class names, so a 'bottle' is a plain cross;
    classes with the same colour number share their colours."""
    if cls == 0:
        return "background"
    shape, texture, group = class_appearance(cls)
    return f"{texture} {shape}, colour {group}"
