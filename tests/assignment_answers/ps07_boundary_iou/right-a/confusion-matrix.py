def confusion_matrix(pred, label, num_classes, ignore_index=VOID):
    """Right: one row at a time, counting the predictions of each label class."""
    C = torch.zeros(num_classes, num_classes, dtype=torch.int64)
    for i in range(num_classes):
        predicted = pred[label == i].long()
        C[i] = torch.bincount(predicted, minlength=num_classes)
    return C
