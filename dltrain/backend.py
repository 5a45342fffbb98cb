"""Importing TensorFlow and Keras once, quietly.

TensorFlow writes start-up lines (oneDNN, CUDA probes) straight to file descriptor 2
before its own log level applies, and C++ log lines at run time (`E0000 ... oneDNN
supports DT_INT64 only on platforms with AVX-512`, `failed call to cuInit`); they are
noise for a user of a CPU machine. Unless `verbose`, the C++ logging is set to errors
that stop TensorFlow only (`TF_CPP_MIN_LOG_LEVEL=3`, before TensorFlow loads; a value the
user set wins), TensorFlow's and absl's Python loggers to errors, and the import's
output is captured and shown only if the import fails. Call `load()` before anything
imports TensorFlow.
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile

_loaded = False
QUIET_CPP_LEVEL = "3"  # TensorFlow's C++ log: 0 all, 1 no INFO, 2 no WARNING, 3 no ERROR


def loaded() -> bool:
    """Whether TensorFlow was loaded through `load` in this process."""
    return _loaded


def load(verbose: bool = False) -> None:
    """Imports TensorFlow + Keras, with their logging silenced unless `verbose`.

    Args:
        verbose: leave TensorFlow's C++ and Python logging as TensorFlow sets it, and show
            what the import prints. Defaults to False.
    """
    global _loaded
    if _loaded:
        return
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    if verbose:
        import keras  # noqa: F401
        import tensorflow  # noqa: F401

        _loaded = True
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", QUIET_CPP_LEVEL)
    _captured_import()
    for name in ("tensorflow", "absl"):
        logging.getLogger(name).setLevel(logging.ERROR)
    _loaded = True


def _captured_import() -> None:
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
