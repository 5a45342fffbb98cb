"""Importing TensorFlow and Keras once, quietly.

TensorFlow 2.21 writes start-up lines (oneDNN, CUDA probes) straight to file
descriptor 2 before its own log level applies; they are noise for a user of a
CPU machine. They are captured while importing and shown only if the import
fails. Call `load()` before anything imports TensorFlow.
"""

from __future__ import annotations

import os
import sys
import tempfile

_loaded = False


def load() -> None:
    """Imports TensorFlow + Keras with their start-up chatter captured."""
    global _loaded
    if _loaded:
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        try:
            import keras  # noqa: F401
            import tensorflow as tf

            tf.config.list_physical_devices("GPU")  # the CUDA probe logs here, once
        except BaseException:
            os.dup2(saved, 2)
            capture.seek(0)
            sys.stderr.write(capture.read().decode(errors="replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)
    _loaded = True
