"""One record per .csv file: one column per channel, one row per time step.

A header line is detected (a first line that is not all numbers). Every cell that is not a
number, infinite, or too large for 32-bit floats is listed with its file:line and column;
a file over `inputfiles.CSV` is refused unread.
"""

from __future__ import annotations

from pathlib import Path

from dltrain.kinds.decoders import Decoded, Decoder


class CsvRecord(Decoder):
    name = "csv"
    suffixes = (".csv",)
    formats = "CSV"

    def decode(self, path: Path, where: str) -> Decoded:
        import numpy as np
        import pandas as pd

        from dltrain.data import inputfiles
        from dltrain.kinds.files import FLOAT32_MAX

        reason = inputfiles.problem(path, inputfiles.CSV)
        if reason is not None:
            return Decoded(None, [f"{path}: {reason}"])
        try:
            raw = pd.read_csv(path, header=None, dtype=str, keep_default_na=False)
        except pd.errors.EmptyDataError:
            return Decoded(None, [f"{path}: the file is empty"])
        except UnicodeDecodeError as exc:
            return Decoded(None, [f"{path}: not UTF-8 text (byte {exc.start})"])
        except (pd.errors.ParserError, OSError, ValueError) as exc:
            return Decoded(None, [f"{path}: cannot be read as CSV: {str(exc).strip()}"])
        text = raw.apply(lambda c: c.str.strip())
        numbers = text.apply(lambda c: pd.to_numeric(c, errors="coerce")).to_numpy(dtype="float64")
        header = bool(np.isnan(numbers[0]).any())
        first_line = 2 if header else 1
        if header:
            text, numbers = text.iloc[1:], numbers[1:]
        reasons = []
        for r, c in zip(*np.nonzero(np.isnan(numbers)), strict=True):
            reasons.append(
                f"{path}:{r + first_line}: column {c + 1} is {text.iat[r, c]!r}, not a number"
            )
        for r, c in zip(*np.nonzero(~np.isfinite(numbers) & ~np.isnan(numbers)), strict=True):
            reasons.append(f"{path}:{r + first_line}: column {c + 1} is infinite")
        big = np.abs(np.nan_to_num(numbers, nan=0.0, posinf=0.0, neginf=0.0)) > FLOAT32_MAX
        for r, c in zip(*np.nonzero(big), strict=True):
            reasons.append(
                f"{path}:{r + first_line}: column {c + 1} is too large for 32-bit floats"
            )
        return Decoded(numbers, reasons)


DECODER = CsvRecord()
