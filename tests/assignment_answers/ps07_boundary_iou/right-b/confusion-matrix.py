def confusion_matrix(pred, label, num_classes, ignore_index=VOID):
    """Right: index_put_ with accumulate over the flattened pairs."""
    label, pred = label.reshape(-1).long(), pred.reshape(-1).long()
    keep = label != ignore_index
    C = torch.zeros(num_classes, num_classes, dtype=torch.long)
    ones = torch.ones(int(keep.sum()), dtype=torch.long)
    return C.index_put_((label[keep], pred[keep]), ones, accumulate=True)
