def joint_flip_resize(image, label, flip, size):
    """Right: the other nearest rule (nearest-exact), the flip by torch.flip, labels via float64."""
    if flip:
        image, label = torch.flip(image, dims=[2]), torch.flip(label, dims=[1])
    resized = F.interpolate(image.unsqueeze(0), size=size, mode="bilinear", align_corners=False)
    labels = F.interpolate(label.to(torch.float64)[None, None], size=size, mode="nearest-exact")
    return resized.squeeze(0), labels[0, 0].to(label.dtype)
