def weighted_cross_entropy(logits, target, weight, ignore_index=VOID):
    """Right: one class at a time."""
    log_probs = torch.log_softmax(logits, dim=1)
    total, norm = logits.new_zeros(()), logits.new_zeros(())
    for c in range(logits.shape[1]):
        mask = target == c
        total = total - weight[c] * log_probs[:, c][mask].sum()
        norm = norm + weight[c] * mask.sum()
    return total / norm
