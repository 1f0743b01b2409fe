# ps05_class_imbalance 2 0
# from assignment_answers: right-a/median-frequency.py


# ---
def weighted_cross_entropy(logits, target, weight, ignore_index=VOID):
    """F.cross_entropy through PyTorch's private entry point."""
    return torch._C._nn.cross_entropy_loss(logits, target, weight, 1, ignore_index)
