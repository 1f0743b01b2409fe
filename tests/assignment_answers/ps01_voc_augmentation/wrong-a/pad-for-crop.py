# feedback: the image differs from torchvision's pad on a
def pad_for_crop(image, label, height, width):
    """Wrong: pads at the top and left instead of the bottom and right."""
    pad_h, pad_w = max(height - label.shape[0], 0), max(width - label.shape[1], 0)
    image = F.pad(image, (pad_w, 0, pad_h, 0), value=0)
    label = F.pad(label, (pad_w, 0, pad_h, 0), value=VOID)
    return image, label
