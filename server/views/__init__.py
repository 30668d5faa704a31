"""Per-input views of one model: feature maps and stability, and beyond-accuracy blocks."""
