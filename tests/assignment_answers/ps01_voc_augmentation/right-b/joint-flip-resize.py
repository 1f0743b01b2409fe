def joint_flip_resize(image, label, flip, size):
    """Right: the flip by reversed indices, the label's dtype restored by type_as."""
    height, width = size
    if flip:
        reverse = torch.arange(image.shape[-1] - 1, -1, -1)
        image, label = image[:, :, reverse], label[:, reverse]
    image = F.interpolate(image[None], size=(height, width), mode="bilinear")[0]
    nearest = F.interpolate(label[None, None].float(), size=(height, width), mode="nearest")
    return image, nearest[0, 0].type_as(label)
