"""One reader per non-tabular data kind; `dltrain.data.sources.read_samples` picks one.

Each module has a `read(config) -> Samples` and imports neither TensorFlow nor Keras.
"""
