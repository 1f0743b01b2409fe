# feedback: the result differs on a
def flip_tta(net, X):
    """Wrong: the logits are averaged, then the softmax taken."""
    with torch.no_grad():
        logits = (net(X) + net(X.flip(-1)).flip(-1)) / 2
    return torch.softmax(logits, dim=1)
