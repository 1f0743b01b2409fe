# feedback: has the wrong shape on a
def pad_for_crop(image, label, height, width):
    """Wrong: height and width swapped (right when they are equal)."""
    pad_h, pad_w = max(width - label.shape[0], 0), max(height - label.shape[1], 0)
    image = F.pad(image, (0, pad_w, 0, pad_h), value=0)
    label = F.pad(label, (0, pad_w, 0, pad_h), value=VOID)
    return image, label
