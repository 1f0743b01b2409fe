def pad_for_crop(image, label, height, width):
    """Right: new tensors of the padded size, filled, then the originals copied in."""
    c, h, w = image.shape
    out_h, out_w = max(h, height), max(w, width)
    padded_image = image.new_zeros(c, out_h, out_w)
    padded_label = label.new_full((out_h, out_w), VOID)
    padded_image[:, :h, :w] = image
    padded_label[:h, :w] = label
    return padded_image, padded_label
