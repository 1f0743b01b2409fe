def pad_for_crop(image, label, height, width):
    """Right: rows, then columns, appended with torch.cat (the dtypes passed on)."""
    rows = height - label.shape[0]
    if rows > 0:
        zeros = torch.zeros(image.shape[0], rows, image.shape[2], dtype=image.dtype)
        void = torch.full((rows, label.shape[1]), VOID, dtype=label.dtype)
        image, label = torch.cat([image, zeros], 1), torch.cat([label, void], 0)
    columns = width - label.shape[1]
    if columns > 0:
        zeros = torch.zeros(*image.shape[:2], columns, dtype=image.dtype)
        void = torch.full((label.shape[0], columns), VOID, dtype=label.dtype)
        image, label = torch.cat([image, zeros], 2), torch.cat([label, void], 1)
    return image, label
