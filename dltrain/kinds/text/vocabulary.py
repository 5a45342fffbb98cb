"""The text vocabulary: fitted on the training texts, applied with Keras TextVectorization.

Token ids are int32, padded or cut to `max_length`; 0 is padding and 1 an unknown word.
The vocabulary is stored as a list in preprocessing.json (no pickle, no vocabulary file).
"""

from __future__ import annotations

import hashlib

import numpy as np

TEXT_CHUNK = 4096


def fit_vocabulary(texts: np.ndarray, max_tokens: int, max_length: int, ngrams: int) -> list[str]:
    """The vocabulary of the training texts (keras TextVectorization.adapt), as a list."""
    layer = _vectorizer([], max_tokens, max_length, ngrams, adapt=True)
    layer.adapt(np.asarray(texts, dtype=object).astype(str))
    return [str(t) for t in layer.get_vocabulary(include_special_tokens=False)]


def vectorize(transform, texts: np.ndarray) -> np.ndarray:
    """Token ids (int32, padded/cut to max_length) with the training vocabulary."""
    layer = _vectorizer(transform.vocabulary, 0, transform.max_length, transform.ngrams)
    out = []
    texts = np.asarray(texts, dtype=object).astype(str)
    for start in range(0, len(texts), TEXT_CHUNK):
        out.append(np.asarray(layer(texts[start : start + TEXT_CHUNK])).astype("int32"))
    return np.concatenate(out) if out else np.zeros((0, transform.max_length), dtype="int32")


_VECTORIZERS: dict = {}


def _vectorizer(vocabulary, max_tokens, max_length, ngrams, adapt=False):
    import keras

    key = (hashlib.sha256("\n".join(vocabulary).encode()).hexdigest(), max_length, ngrams)
    if not adapt and key in _VECTORIZERS:
        return _VECTORIZERS[key]
    kwargs = {
        "output_mode": "int",
        "output_sequence_length": max_length,
        "ngrams": ngrams if ngrams > 1 else None,
    }
    if adapt:
        layer = keras.layers.TextVectorization(max_tokens=max_tokens, **kwargs)
    else:
        layer = keras.layers.TextVectorization(vocabulary=list(vocabulary), **kwargs)
        _VECTORIZERS[key] = layer
    return layer


def bag_of_words(ids: np.ndarray, vocab_size: int):
    """Token-count matrix (sparse) of token-id rows, for the linear text baseline."""
    from scipy import sparse

    rows = np.repeat(np.arange(len(ids)), ids.shape[1])
    cols = ids.reshape(-1)
    keep = cols > 0  # 0 is padding
    return sparse.csr_matrix(
        (np.ones(keep.sum(), dtype="float32"), (rows[keep], cols[keep])),
        shape=(len(ids), vocab_size),
    )
