# feedback: the label is int64 where uint8 is expected
def joint_flip_resize(image, label, flip, size):
    """Wrong: the label comes back int64 whatever its dtype (uint8 labels are not kept)."""
    if flip:
        image, label = image.flip(-1), label.flip(-1)
    image = F.interpolate(image[None], size=size, mode="bilinear", align_corners=False)[0]
    label = F.interpolate(label[None, None].float(), size=size, mode="nearest")[0, 0]
    return image, label.long()
