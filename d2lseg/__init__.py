"""d2lseg: semantic segmentation with fully convolutional networks, after D2L."""

from .data import download_voc, resolve_voc_dir
from .display import show_source
from .sample import make_sample_voc
from .transposed import corr2d, kernel2matrix, trans_conv, trans_conv_multi
from .upsample import bilinear_kernel, bilinear_upsampler
from .voc import (
    VOC_CLASSES,
    VOC_COLORMAP,
    VOID_LABEL,
    VOCSegDataset,
    load_data_voc,
    read_voc_images,
    voc_colormap2label,
    voc_label_indices,
    voc_rand_crop,
)

__all__ = [
    "VOC_CLASSES",
    "VOC_COLORMAP",
    "VOID_LABEL",
    "VOCSegDataset",
    "bilinear_kernel",
    "bilinear_upsampler",
    "corr2d",
    "download_voc",
    "kernel2matrix",
    "load_data_voc",
    "make_sample_voc",
    "read_voc_images",
    "resolve_voc_dir",
    "show_source",
    "trans_conv",
    "trans_conv_multi",
    "voc_colormap2label",
    "voc_label_indices",
    "voc_rand_crop",
]
