def flip_tta(net, X):
    """Right: image by image, mirrored back by reversed column indices."""
    reverse = torch.arange(X.shape[-1] - 1, -1, -1)
    outputs = []
    with torch.no_grad():
        for x in X:
            plain = torch.softmax(net(x[None]), dim=1)
            mirrored = torch.softmax(net(x[None][..., reverse]), dim=1)[..., reverse]
            outputs.append(0.5 * plain + 0.5 * mirrored)
    return torch.cat(outputs)
