# ps05_class_imbalance 2 3
def median_frequency_weights(labels, num_classes, ignore_index=VOID):
    counts = torch.stack(
        [torch.bincount(m[m != ignore_index], minlength=num_classes)[:num_classes] for m in labels]
    )
    counted = (labels != ignore_index).flatten(1).sum(dim=1)
    pixels = ((counts > 0) * counted[:, None]).sum(dim=0)
    present = pixels > 0
    freq = counts.sum(dim=0)[present] / pixels[present]
    weights = torch.zeros(num_classes)
    weights[present] = (freq.median() / freq).float()
    return weights


# ---
### BEGIN HIDDEN TESTS
def weighted_cross_entropy(logits, target, weight, ignore_index=VOID):
    """Right, with the hidden-tests marker in the answer (and no end marker)."""
    valid = target != ignore_index
    log_probs = torch.log_softmax(logits, dim=1).movedim(1, -1)[valid]
    classes = target[valid]
    w = weight[classes]
    nll = -log_probs.gather(1, classes[:, None])[:, 0]
    print("### BEGIN HIDDEN TESTS")
    return (w * nll).sum() / w.sum()
