# feedback: the loss differs from F.cross_entropy on a
def weighted_cross_entropy(logits, target, weight, ignore_index=VOID):
    """Wrong: divided by the number of pixels instead of the sum of their weights."""
    valid = target != ignore_index
    log_probs = torch.log_softmax(logits, dim=1).movedim(1, -1)[valid]
    classes = target[valid]
    nll = -log_probs.gather(1, classes[:, None])[:, 0]
    return (weight[classes] * nll).mean()
