def flip_tta(net, X):
    """Right: both orientations in one batch, under inference_mode."""
    with torch.inference_mode():
        probs = net(torch.cat([X, torch.flip(X, dims=[3])])).softmax(dim=1)
    plain, mirrored = probs.chunk(2)
    return (plain + torch.flip(mirrored, dims=[3])) / 2
