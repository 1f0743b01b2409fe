# feedback: the result differs on a
def flip_tta(net, X):
    """Wrong: the mirrored prediction is not flipped back."""
    with torch.no_grad():
        probs = torch.softmax(net(X), dim=1)
        mirrored = torch.softmax(net(X.flip(-1)), dim=1)
    return (probs + mirrored) / 2
