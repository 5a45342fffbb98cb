"""Text: clinical notes, as token ids over a vocabulary fitted on the training split.

Reading (layouts, checks): `dltrain.kinds.text.reader`. File formats of one text each (the
folder layouts): one module each in `dltrain.kinds.text.decoders`. The vocabulary and the
token ids: `dltrain.kinds.text.vocabulary` (Keras TextVectorization).
"""

from __future__ import annotations

from dltrain.config.data import TextData
from dltrain.kinds.arrays import ArrayKind, ArrayTransform


class TextKind(ArrayKind):
    name = "text"
    config_class = TextData
    decoder_package = "dltrain.kinds.text.decoders"
    reader = "dltrain.kinds.text.reader"

    def fit_inputs(self, transform: ArrayTransform, config, samples, train) -> None:
        """Fits the vocabulary on the training texts."""
        from dltrain.kinds.text.vocabulary import fit_vocabulary

        cfg = config.data
        transform.vocabulary = fit_vocabulary(
            samples.load(train), cfg.max_tokens, cfg.max_length, cfg.ngrams
        )
        transform.max_length = cfg.max_length
        transform.ngrams = cfg.ngrams
        transform.shape = [cfg.max_length]

    def encode(self, transform: ArrayTransform, samples, raw):
        """Token ids (int32, padded or cut to max_length) with the training vocabulary."""
        from dltrain.kinds.text.vocabulary import vectorize

        return vectorize(transform, raw)

    def input_spec(self, transform: ArrayTransform):
        from dltrain.models.specs import InputSpec

        return InputSpec(
            tuple(transform.shape), "text", vocab_size=len(transform.vocabulary) + 2, dtype="int32"
        )

    def layers(self, transform: ArrayTransform, data, seed: int) -> list:
        return []  # token ids go to the network's embedding as they are

    def sidecar(self, transform: ArrayTransform) -> list[str]:
        t = transform
        return [
            f"token ids (int32) of length {t.max_length}: keras.layers.TextVectorization("
            f"vocabulary=preprocessing.json's 'vocabulary', output_sequence_length={t.max_length}, "
            f"ngrams={t.ngrams if t.ngrams > 1 else None}); 0 = padding, 1 = unknown word",
            "dltrain.kinds.text.vocabulary.vectorize(ArrayTransform, texts) does exactly this",
        ]


TEXT = TextKind()
