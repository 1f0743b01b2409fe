# feedback: the result has the wrong shape on a
def confusion_matrix(pred, label, num_classes, ignore_index=VOID):
    """Wrong: void not ignored; it is counted as one more class."""
    pairs = label.long().clamp(max=num_classes) * num_classes + pred.long()
    counts = torch.bincount(pairs.flatten(), minlength=(num_classes + 1) * num_classes)
    return counts.reshape(num_classes + 1, num_classes)
