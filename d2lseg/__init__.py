"""d2lseg: semantic segmentation with fully convolutional networks, after D2L."""

from .checkpoint import load_checkpoint
from .data import download_voc, resolve_voc_dir
from .devices import try_all_devices
from .display import show_source
from .metrics import boundary_iou, confusion_matrix, segmentation_scores
from .model import fcn_resnet18
from .predict import label2image, overlay, predict, predict_whole_image
from .sample import make_sample_voc
from .selfcheck import check
from .train import evaluate, set_seed, train_fcn
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
    "boundary_iou",
    "check",
    "confusion_matrix",
    "corr2d",
    "download_voc",
    "evaluate",
    "fcn_resnet18",
    "kernel2matrix",
    "label2image",
    "load_checkpoint",
    "load_data_voc",
    "make_sample_voc",
    "overlay",
    "predict",
    "predict_whole_image",
    "read_voc_images",
    "resolve_voc_dir",
    "segmentation_scores",
    "set_seed",
    "show_source",
    "train_fcn",
    "trans_conv",
    "trans_conv_multi",
    "try_all_devices",
    "voc_colormap2label",
    "voc_label_indices",
    "voc_rand_crop",
]
