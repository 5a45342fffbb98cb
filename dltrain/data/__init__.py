"""Data: readers, splits, train-only transforms, the processed cache and tf.data pipelines."""
