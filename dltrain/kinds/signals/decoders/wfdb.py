"""WFDB records (PhysioNet; the `wfdb` package): a `.hea` header and its signal file(s)
(`.dat`), one record per header; annotations (`<record>.<annotator>`, e.g. beats in `.atr`)
for `data.segments: {by: annotations}`.

Values are physical (mV for an ECG). Channels by name (`data.channels`, the header's
signal names such as MLII, V1), one rate (`data.rate`): `dltrain.kinds.signals.records`.
Header fields a group may name: `record` (the record name) and `subject` (a header comment
"subject: <id>", also "subject_id", "patient" or "patient_id").
"""

from __future__ import annotations

from pathlib import Path

from dltrain.kinds.decoders import Decoded, Decoder
from dltrain.kinds.signals.records import Record, RecordDecoder, to_array

SUBJECT = ("subject", "subject_id", "patient", "patient_id")


class Wfdb(RecordDecoder, Decoder):
    name = "wfdb"
    suffixes = (".hea",)
    formats = "WFDB (.hea + .dat)"
    header_fields = ("record", "subject")

    def decode(self, path: Path, where: str) -> Decoded:
        """The record's channels at one rate, float64 (length, channels)."""
        from dltrain.kinds.clinical import need

        wfdb = need("wfdb")
        base = str(Path(path).with_suffix(""))
        try:
            record = wfdb.rdrecord(base)
        except FileNotFoundError as exc:
            missing = Path(exc.filename).name if exc.filename else "its signal file"
            return Decoded(
                None,
                [
                    f"{where}: its signal file {missing} is missing (a WFDB record is the .hea "
                    "header and the .dat file it names, side by side); copy it next to the header"
                ],
            )
        except (OSError, ValueError, IndexError, KeyError, TypeError, AttributeError) as exc:
            return Decoded(None, [f"{where}: cannot be read as a WFDB record: {exc}"])
        if record.p_signal is None or record.n_sig == 0:
            return Decoded(None, [f"{where}: the record has no signals"])
        signal = record.p_signal
        channels = [signal[:, c] for c in range(signal.shape[1])]
        rates = [float(record.fs)] * len(channels)
        values, meta, problems = to_array(
            Record(channels, list(record.sig_name), rates), self.channels, self.rate, where
        )
        if values is not None:
            import numpy as np

            nan = int(np.isnan(values).sum())
            if nan:  # WFDB marks invalid samples as NaN
                problems = [f"{where}: {nan} invalid (NaN) sample(s) in the record"]
                values = None
        header = {"record": record.record_name, "subject": _subject(record.comments)}
        return Decoded(values, problems, meta, header)

    def annotations(self, path: Path, annotator: str) -> list[tuple[float, float | None, str]]:
        """The annotations of `<record>.<annotator>` (onset in seconds at the record's rate).

        Raises:
            DataError: the annotation file is missing or unreadable.
        """
        from dltrain.errors import DataError
        from dltrain.kinds.clinical import need

        wfdb = need("wfdb")
        base = str(Path(path).with_suffix(""))
        try:
            fs = float(wfdb.rdheader(base).fs)
            ann = wfdb.rdann(base, annotator)
        except FileNotFoundError:
            raise DataError(
                f"no annotation file {Path(base).name}.{annotator} beside the record "
                "(data.segments.annotator)",
                where=str(path),
            ) from None
        except (OSError, ValueError, IndexError, KeyError, TypeError) as exc:
            raise DataError(
                f"cannot read its annotations .{annotator}: {exc}", where=str(path)
            ) from None
        return [
            (int(s) / fs, None, str(sym)) for s, sym in zip(ann.sample, ann.symbol, strict=True)
        ]


def _subject(comments) -> str:
    for line in comments or []:
        key, _, value = str(line).partition(":")
        if key.strip().lower() in SUBJECT and value.strip():
            return value.strip()
    return ""


DECODER = Wfdb()
