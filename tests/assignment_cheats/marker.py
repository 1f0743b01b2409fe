# ps05_class_imbalance 2 3
# from assignment_answers: right-a/median-frequency.py


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
