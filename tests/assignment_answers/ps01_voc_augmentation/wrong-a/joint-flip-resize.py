# feedback: the label is neither nearest nor nearest-exact resizing on a
def joint_flip_resize(image, label, flip, size):
    """Wrong: the label is resized bilinearly like the image, then rounded."""
    if flip:
        image, label = image.flip(-1), label.flip(-1)
    image = F.interpolate(image[None], size=size, mode="bilinear", align_corners=False)[0]
    label = F.interpolate(label[None, None].float(), size=size, mode="bilinear")[0, 0]
    return image, label.round().to(torch.int64)
