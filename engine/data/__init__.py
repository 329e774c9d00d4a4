"""Light-curve data: the canonical table, band registry, readers and benchmark data sets."""
