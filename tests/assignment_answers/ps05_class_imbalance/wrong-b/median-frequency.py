# feedback: the result differs from a brute-force count on a case with an even number
def median_frequency_weights(labels, num_classes, ignore_index=VOID):
    """Wrong: quantile(0.5) averages the two middle values for an even count."""
    counts = torch.stack(
        [
            torch.bincount(image[image != ignore_index], minlength=num_classes)[:num_classes]
            for image in labels
        ]
    )
    counted = (labels != ignore_index).flatten(1).sum(dim=1)
    pixels = ((counts > 0) * counted[:, None]).sum(dim=0)
    present = pixels > 0
    freq = counts.sum(dim=0)[present] / pixels[present]
    weights = torch.zeros(num_classes)
    weights[present] = freq.quantile(0.5) / freq
    return weights
