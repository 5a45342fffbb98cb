"""What record formats of signals (WFDB, EDF) share after their library read a record:
channels chosen by name (`data.channels`) and one sampling rate (`data.rate`).

A record is a list of channels, each with its name and its own rate (EDF channels may
differ). `to_array` picks the configured channels in order, resamples each to `data.rate`
(`scipy.signal.resample_poly`, anti-aliased, the ratio as a fraction of denominator at most
1000) and returns (length, channels) float64. Without `data.rate` every chosen channel must
have one rate: a record whose channels differ is a problem naming them, with the fix.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction


@dataclass
class Record:
    """One record as its library read it: per channel, its values, name and rate (Hz)."""

    values: list
    names: list[str]
    rates: list[float]


def to_array(record: Record, channels, rate, where: str):
    """(values (length, channels) float64, meta, problems) of the configured channels at
    one rate; values is None when there are problems."""
    import numpy as np

    names = [n.strip() for n in record.names]
    if channels:
        missing = [c for c in channels if c not in names]
        if missing:
            return (
                None,
                {},
                [
                    f"{where}: no channel {', '.join(map(repr, missing))} (data.channels); its "
                    f"channels are {', '.join(names)}"
                ],
            )
        picked = [names.index(c) for c in channels]
    else:
        picked = list(range(len(names)))
    rates = sorted({float(record.rates[i]) for i in picked})
    if rate is None and len(rates) > 1:
        shown = ", ".join(f"{names[i]} {record.rates[i]:g} Hz" for i in picked)
        return (
            None,
            {},
            [
                f"{where}: its channels have different sampling rates ({shown}); set data.rate to "
                "resample them to one, or choose channels of one rate with data.channels"
            ],
        )
    target = float(rate) if rate is not None else rates[0]
    columns = [
        resampled(np.asarray(record.values[i], dtype="float64"), record.rates[i], target)
        for i in picked
    ]
    length = min(len(c) for c in columns)
    values = np.stack([c[:length] for c in columns], axis=1)
    meta = {
        "rate": target,
        "original_rate": rates[0] if len(rates) == 1 else rates,
        "channels": [names[i] for i in picked],
    }
    return values, meta, []


def resampled(values, rate: float, target: float):
    """One channel from `rate` to `target` Hz (polyphase, anti-aliased)."""
    if abs(rate - target) < 1e-9:
        return values
    from scipy.signal import resample_poly

    ratio = Fraction(target / rate).limit_denominator(1000)
    return resample_poly(values, ratio.numerator, ratio.denominator)


class RecordDecoder:
    """The options record decoders take from the `data:` section (mixed into a `Decoder`)."""

    channels = None
    rate = None

    def configured(self, data):
        bound = type(self)()
        bound.channels = getattr(data, "channels", None)
        bound.rate = getattr(data, "rate", None)
        return bound

    def annotations(self, path, annotator: str) -> list[tuple[float, float | None, str]]:
        """(onset seconds, duration seconds or None, label) of the record's annotations."""
        raise NotImplementedError
