"""One record per .npy file: (length,) or (length, channels), numbers only, never unpickled.

Refused before it is read: not a regular file, or over `inputfiles.ARRAY` as an array (from
its header: a record is read whole). NaN, infinite and too-large values are listed.
"""

from __future__ import annotations

from pathlib import Path

from dltrain.kinds.decoders import Decoded, Decoder


class NpyRecord(Decoder):
    name = "npy"
    suffixes = (".npy",)
    formats = "NumPy .npy"

    def decode(self, path: Path, where: str) -> Decoded:
        import numpy as np

        from dltrain.data import inputfiles
        from dltrain.kinds import files

        try:
            reason = inputfiles.problem(path) or inputfiles.npy_problem(path)
            if reason is not None:
                return Decoded(None, [f"{where}: {reason}"])
            array = np.load(path, mmap_mode="r", allow_pickle=False)
        except (OSError, ValueError, EOFError) as exc:
            return Decoded(None, [f"{where}: cannot be read as a NumPy array: {exc}"])
        problem = files.array_problem(array, (1, 2), "(length,) or (length, channels)")
        if problem is not None:
            return Decoded(None, [f"{where}: {problem}"])
        bad = files.nonfinite(array, lambda _: where, per_item=False)
        values = np.asarray(array, dtype="float64")
        return Decoded(values[:, None] if values.ndim == 1 else values, bad)


DECODER = NpyRecord()
