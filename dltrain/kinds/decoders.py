"""Per-format decoders: how a data kind turns one file into a sample.

A kind that reads files (images, signals, text, volumes) has a `decoders` package, e.g.
`dltrain/kinds/images/decoders/`. Every module in it (names not starting with "_") is one
file format and defines `DECODER`, an instance of a `Decoder` subclass. Discovery is a
scan of that package in sorted module-name order, so adding a format is adding one module
(and its test): no list to edit, no import side effect, and the order is the names' order.

Which decoder reads a file:
1. the decoder whose `suffixes` end the file's name (any case; the longest wins, so
   ".nii.gz" is NIfTI's, not another ".gz"); two decoders of one kind claiming the same
   suffix is an error found at discovery;
2. for a suffix no decoder claims: the first decoder whose `sniff` recognises the file's
   first `SNIFF_BYTES` bytes (e.g. DICOM's "DICM" at byte 128). Only decoders that define
   `sniff` make a reader open such files, so a folder's other files are not read otherwise.
A file no decoder claims is not a sample (folder layouts count it as ignored).

What a decoder returns is the kind's: see the `Decoder` base class of each kind (e.g.
`dltrain.kinds.images.ImageDecoder`). No decoder imports Pillow, NumPy or pandas at
module level.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SNIFF_BYTES = 132  # DICOM: a 128-byte preamble, then "DICM"


@dataclass
class Decoded:
    """One file, decoded.

    Attributes:
        sample: the kind's raw sample, or None when the file cannot be used.
        problems: why it cannot be used (each line starts with where the file is); a
            sample may come with problems (e.g. bad cells of a CSV record).
        meta: what the file's header says about the sample (sampling rate, voxel
            spacing, ...). Never identifying fields (names, birth dates). Defaults to {}.
        header: the header fields that can name a group or match a labels row (DICOM
            PatientID and UIDs, the EDF patient code, the WFDB record), raw: identifying,
            so a reader pseudonymises them (`dltrain.kinds.pseudonyms`) and never records
            them as they are. Defaults to {}.
    """

    sample: Any
    problems: list[str] = field(default_factory=list)
    meta: dict = field(default_factory=dict)
    header: dict = field(default_factory=dict)


class Decoder:
    """One file format of a data kind.

    Attributes:
        name: the module's name, e.g. "png_jpeg".
        suffixes: the file name suffixes it reads, lower case with the dot (".png").
        formats: the format(s) in words, for messages ("PNG or JPEG").
    """

    name: str = ""
    suffixes: tuple[str, ...] = ()
    formats: str = ""
    header_fields: tuple[str, ...] = ()
    """The `Decoded.header` fields it reads, which `data.group` may name."""

    def configured(self, data) -> Decoder:
        """This decoder with the options of the config's `data:` section (DICOM windowing,
        signal channels and rate). Defaults to itself: a format without options."""
        return self

    def sniff(self, head: bytes) -> bool:
        """Whether a file whose suffix no decoder claims is this format, from its first
        `SNIFF_BYTES` bytes. Defaults to False: the suffix alone decides."""
        return False

    def decode(self, path: Path, where: str) -> Decoded:
        """Reads and checks one file; `where` starts each problem line."""
        raise NotImplementedError

    def load(self, path: Path):
        """The sample of a file `decode` accepted (a reader calls it once per use, e.g.
        per cache shard). Defaults to `decode(path, ...).sample`."""
        return self.decode(path, str(path)).sample


class Decoders(tuple):
    """A kind's decoders, in discovery order."""

    @property
    def suffixes(self) -> set[str]:
        return {s for d in self for s in d.suffixes}

    @property
    def formats(self) -> str:
        return " or ".join(d.formats for d in self)

    @property
    def header_fields(self) -> set[str]:
        return {f for d in self for f in d.header_fields}

    def configured(self, data) -> Decoders:
        """Every decoder with the options of the `data:` section (`Decoder.configured`)."""
        return Decoders(d.configured(data) for d in self)

    def suffix(self, path: Path) -> str | None:
        """The longest suffix a decoder claims that ends the file's name (any case)."""
        name = Path(path).name.lower()
        claimed = [s for s in self.suffixes if name.endswith(s) and len(name) > len(s)]
        return max(claimed, key=len) if claimed else None

    def stem(self, path: Path) -> str:
        """The file's name without the claimed suffix ("a.nii.gz" → "a"), else `Path.stem`."""
        suffix = self.suffix(path)
        return Path(path).name[: -len(suffix)] if suffix else Path(path).stem

    def pick(self, path: Path) -> Decoder | None:
        """The decoder of `path` (see the module docstring), or None when none claims it."""
        suffix = self.suffix(path)
        for decoder in self:
            if suffix in decoder.suffixes:
                return decoder
        sniffers = [d for d in self if type(d).sniff is not Decoder.sniff]
        if not sniffers:
            return None
        try:
            with open(path, "rb") as f:
                head = f.read(SNIFF_BYTES)
        except OSError:
            return None
        return next((d for d in sniffers if d.sniff(head)), None)

    def claims(self, path: Path) -> bool:
        return self.pick(path) is not None


def discover(package: str) -> Decoders:
    """The `DECODER` of every module of `package`, in sorted module-name order.

    Raises:
        TypeError: a module defines no `DECODER` (a bug, found by the tests).
        ValueError: two decoders claim the same suffix.
    """
    module = importlib.import_module(package)
    return _discover(package, tuple(module.__path__))


@functools.cache
def _discover(package: str, path: tuple[str, ...]) -> Decoders:
    names = sorted({m.name for m in pkgutil.iter_modules(list(path)) if not m.name.startswith("_")})
    found = []
    for name in names:
        decoder = getattr(importlib.import_module(f"{package}.{name}"), "DECODER", None)
        if not isinstance(decoder, Decoder):
            raise TypeError(
                f"{package}.{name} defines no DECODER; every module of a decoders package "
                "is one file format and must define DECODER = <a Decoder instance>"
            )
        found.append(decoder)
    owner: dict[str, str] = {}
    for decoder in found:
        for suffix in decoder.suffixes:
            if suffix in owner:
                raise ValueError(
                    f"decoders {owner[suffix]!r} and {decoder.name!r} of {package} both claim "
                    f"{suffix!r}; one suffix has one decoder"
                )
            owner[suffix] = decoder.name
    return Decoders(found)
