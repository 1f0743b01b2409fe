# feedback: the result differs from a brute-force count on a
def median_frequency_weights(labels, num_classes, ignore_index=VOID):
    """Wrong: the frequency over all pixels, not over the images where the class occurs."""
    valid = labels[labels != ignore_index]
    freq = torch.bincount(valid, minlength=num_classes)[:num_classes].float() / valid.numel()
    present = freq > 0
    weights = torch.zeros(num_classes)
    weights[present] = freq[present].median() / freq[present]
    return weights
