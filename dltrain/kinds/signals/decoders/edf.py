"""EDF and EDF+ (and BDF) recordings (`pyedflib`): EEG, polysomnography, long ECG; one
record per file; EDF+ annotations (onset, duration, text: sleep stages, events) for
`data.segments: {by: annotations}`.

Values are physical (the header's dimension, e.g. uV). Channels by their labels
(`data.channels`); EDF channels may have different rates: without `data.rate` the chosen
ones must share one (`dltrain.kinds.signals.records`). The header field a group may name
is `patient`: the EDF+ patient code (the first subfield of the patient field). Nothing
else of the patient or recording fields (name, birth date, sex) is read into dltrain.
"""

from __future__ import annotations

from pathlib import Path

from dltrain.kinds.decoders import Decoded, Decoder
from dltrain.kinds.signals.records import Record, RecordDecoder, to_array


class Edf(RecordDecoder, Decoder):
    name = "edf"
    suffixes = (".edf", ".bdf")
    formats = "EDF/EDF+ (.edf, .bdf)"
    header_fields = ("patient",)

    def decode(self, path: Path, where: str) -> Decoded:
        """The chosen channels at one rate, float64 (length, channels)."""
        try:
            with _opened(path) as f:
                n = f.signals_in_file
                names = list(f.getSignalLabels())
                rates = [float(f.getSampleFrequency(i)) for i in range(n)]
                wanted = (
                    range(n)
                    if not self.channels
                    else [names.index(c) for c in self.channels if c in names]
                )
                values = [f.readSignal(i) if i in wanted else [] for i in range(n)]
                patient = str(f.getPatientCode() or "").strip()
        except OSError as exc:
            return Decoded(None, [f"{where}: cannot be read as EDF: {exc}"])
        if not names:
            return Decoded(None, [f"{where}: the recording has no signals"])
        array, meta, problems = to_array(
            Record(values, names, rates), self.channels, self.rate, where
        )
        return Decoded(array, problems, meta, {"patient": patient})

    def annotations(self, path: Path, annotator: str) -> list[tuple[float, float | None, str]]:
        """The EDF+ annotations: (onset s, duration s or None, text).

        Raises:
            DataError: the file cannot be read.
        """
        from dltrain.errors import DataError

        try:
            with _opened(path) as f:
                onsets, durations, texts = f.readAnnotations()
        except OSError as exc:
            raise DataError(f"cannot read its EDF+ annotations: {exc}", where=str(path)) from None
        return [
            (float(o), float(d) if d and d > 0 else None, str(t).strip())
            for o, d, t in zip(onsets, durations, texts, strict=True)
        ]


def _opened(path: Path):
    """The file opened by pyedflib (a context manager); an unreadable file is an OSError."""
    from dltrain.data import inputfiles
    from dltrain.kinds.clinical import need

    pyedflib = need("pyedflib")
    reason = inputfiles.problem(path, inputfiles.ARRAY)
    if reason is not None:
        raise OSError(reason)
    try:
        return pyedflib.EdfReader(str(path))
    except (OSError, ValueError) as exc:
        raise OSError(str(exc).strip() or "not an EDF file") from None


DECODER = Edf()
