# feedback: the loss differs from F.cross_entropy on a
def weighted_cross_entropy(logits, target, weight, ignore_index=VOID):
    """Wrong: void is not ignored; it is clamped to the last class and counted."""
    classes = target.clamp(max=logits.shape[1] - 1)
    log_probs = torch.log_softmax(logits, dim=1)
    nll = -log_probs.gather(1, classes[:, None])[:, 0]
    w = weight[classes]
    return (w * nll).sum() / w.sum()
