# feedback: the result differs from torchmetrics on a
def confusion_matrix(pred, label, num_classes, ignore_index=VOID):
    """Wrong: rows and columns swapped (rows for the prediction)."""
    keep = label != ignore_index
    pairs = pred[keep].long() * num_classes + label[keep].long()
    counts = torch.bincount(pairs, minlength=num_classes * num_classes)
    return counts.reshape(num_classes, num_classes)
