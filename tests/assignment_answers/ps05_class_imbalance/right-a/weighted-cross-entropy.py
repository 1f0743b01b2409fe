def weighted_cross_entropy(logits, target, weight, ignore_index=VOID):
    """Right: void replaced by class 0 for the gather, then masked out of both sums."""
    valid = target != ignore_index
    safe = torch.where(valid, target, torch.zeros_like(target))
    log_probs = torch.log_softmax(logits, dim=1)
    picked = log_probs.gather(1, safe[:, None]).squeeze(1)  # (N, H, W)
    w = weight[safe] * valid
    return -(w * picked).sum() / w.sum()
