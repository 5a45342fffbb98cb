"""One text per .txt file, UTF-8 (a leading byte-order mark is dropped), kept as written.

A file over `inputfiles.TEXT` (256 MiB) is refused unread; a file that is not UTF-8 is
refused naming its first bad byte.
"""

from __future__ import annotations

from pathlib import Path

from dltrain.kinds.decoders import Decoded, Decoder


class Txt(Decoder):
    name = "txt"
    suffixes = (".txt",)
    formats = ".txt"

    def decode(self, path: Path, where: str) -> Decoded:
        from dltrain.data import inputfiles

        reason = inputfiles.problem(path, inputfiles.TEXT)
        if reason is not None:
            return Decoded(None, [f"{where}: {reason}"])
        try:
            return Decoded(path.read_bytes().decode("utf-8-sig"))
        except UnicodeDecodeError as exc:
            bad = path.read_bytes()[exc.start : exc.start + 4]
            return Decoded(
                None, [f"{where}: not UTF-8 text (byte {exc.start}: {bad!r}); save it as UTF-8"]
            )
        except OSError as exc:
            return Decoded(None, [f"{where}: cannot be read: {exc.strerror or exc}"])


DECODER = Txt()
