def median_frequency_weights(labels, num_classes, ignore_index=VOID):
    """Right: one-hot counts per image, the lower median by sort and index, in float64."""
    valid = labels != ignore_index
    one_hot = F.one_hot(torch.where(valid, labels, 0), num_classes) * valid[..., None]
    per_image = one_hot.flatten(1, -2).sum(dim=1).double()  # (N, num_classes)
    image_pixels = valid.flatten(1).sum(dim=1).double()[:, None] * (per_image > 0)
    counts, pixels = per_image.sum(dim=0), image_pixels.sum(dim=0)
    freq = counts / pixels.clamp(min=1)
    occurring = freq[counts > 0].sort().values
    median = occurring[(len(occurring) - 1) // 2]
    return torch.where(counts > 0, median / freq, torch.zeros_like(freq)).float()
