def median_frequency_weights(labels, num_classes, ignore_index=VOID):
    """Right: counted image by image in Python dictionaries, the median by sorting."""
    pixels_of_class = [0] * num_classes
    pixels_of_images_with = [0] * num_classes
    for image in labels:
        counted = image[image != ignore_index]
        for c in counted.unique().tolist():
            pixels_of_class[c] += int((counted == c).sum())
            pixels_of_images_with[c] += counted.numel()
    freq = {
        c: pixels_of_class[c] / pixels_of_images_with[c]
        for c in range(num_classes)
        if pixels_of_class[c]
    }
    ordered = sorted(freq.values())
    median = ordered[(len(ordered) - 1) // 2]
    return torch.tensor([median / freq[c] if c in freq else 0.0 for c in range(num_classes)])
