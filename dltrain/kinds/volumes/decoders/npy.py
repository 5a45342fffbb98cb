"""One volume per .npy file: (depth, height, width) or (depth, height, width, channels).

Refused before it is read: not a regular file, or over `inputfiles.ARRAY` as an array (from
its header: a volume is loaded whole). NaN, infinite and too-large values are listed.
Never unpickled.
"""

from __future__ import annotations

from pathlib import Path

from dltrain.kinds.decoders import Decoded, Decoder

EXPECTED = "(depth, height, width) or (depth, height, width, channels)"


class NpyVolume(Decoder):
    name = "npy"
    suffixes = (".npy",)
    formats = "NumPy .npy"

    def decode(self, path: Path, where: str) -> Decoded:
        """The volume memory-mapped (channels last), checked for its dimensions and values."""
        import numpy as np

        from dltrain.data import inputfiles
        from dltrain.kinds import files

        problem = None
        try:  # not a FIFO or a device, and small enough to load whole (`load`): unread
            problem = inputfiles.problem(path) or inputfiles.npy_problem(path)
            if problem is None:
                array = np.load(path, mmap_mode="r", allow_pickle=False)
        except (OSError, ValueError, EOFError) as exc:
            problem = f"cannot be read as a NumPy array: {exc}"
        if problem is None:
            problem = files.array_problem(array, (3, 4), EXPECTED)
        if problem is not None:
            return Decoded(None, [f"{where}: {problem}"])
        bad = files.nonfinite(array, lambda _: where, per_item=False)
        return Decoded(array[..., None] if array.ndim == 3 else array, bad)

    def load(self, path: Path):
        import numpy as np

        values = np.load(path, allow_pickle=False).astype("float32")
        return values[..., None] if values.ndim == 3 else values


DECODER = NpyVolume()
