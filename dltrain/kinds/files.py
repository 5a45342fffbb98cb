"""Files and arrays of the file kinds: finding sample files, opening and checking arrays.

Every entry of a data folder must be a regular file (`inputfiles.regular_files`); which
files are samples is decided by the kind's decoders (`dltrain.kinds.decoders`). Arrays
are memory-mapped where they can be, and checked for NaN, infinities and float32
overflow a chunk at a time, so that a large array is never loaded whole.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dltrain.data import inputfiles, tabular
from dltrain.errors import DataError
from dltrain.kinds.decoders import Decoders

MAX_LISTED = tabular.MAX_LISTED
FLOAT32_MAX = tabular.FLOAT32_MAX
CHECK_BYTES = 64 << 20  # arrays are checked for NaN/Inf this many bytes at a time


def listed(lines: list[str], limit: int = MAX_LISTED) -> list[str]:
    """The first `limit` lines, then "... and N more"."""
    if len(lines) <= limit:
        return list(lines)
    return [*lines[:limit], f"... and {len(lines) - limit} more"]


def is_hidden(relative: Path) -> bool:
    """Whether any part of a relative path starts with a dot (.DS_Store, .ipynb_checkpoints)."""
    return any(part.startswith(".") for part in relative.parts)


def open_array(path: Path):
    """An .npy (memory-mapped) or the single array of an .npz; every failure a `DataError`.

    An .npz member is loaded whole, so its uncompressed size (from the zip directory and
    the array header, before decompressing) must be within `inputfiles.ARRAY`; an .npy of any
    size is mapped, but one sample (a row) must be within it, as `load` copies rows.
    """
    inputfiles.check(path)
    try:
        if inputfiles.is_npz(path):
            with np.load(path, allow_pickle=False) as archive:
                names = list(archive.files)
                if len(names) != 1:
                    raise DataError(
                        f"the .npz file holds {len(names)} arrays ({', '.join(names) or 'none'}); "
                        "dltrain reads an .npz with exactly one array: save the samples alone "
                        "(np.savez(path, x)) or as an .npy",
                        where=str(path),
                    )
                too_large = inputfiles.npz_member(archive, names[0])
                if too_large is not None:
                    raise DataError(too_large, where=str(path))
                return archive[names[0]]
        too_large = inputfiles.npy_problem(path, per_sample=True)  # from the header
        if too_large is not None:
            raise DataError(too_large, where=str(path))
        return np.load(path, mmap_mode="r", allow_pickle=False)
    except DataError:
        raise
    except (OSError, ValueError, EOFError, inputfiles.BAD_ZIP) as exc:
        raise DataError(f"cannot read the file as a NumPy array: {exc}", where=str(path)) from None


def array_problem(array, ndims: tuple[int, ...], expected: str) -> str | None:
    """Why an array cannot be a sample (wrong number of dimensions, not numbers), or None."""
    if array.dtype.kind not in "biuf":
        return f"holds {array.dtype} values, not numbers"
    if array.ndim not in ndims:
        return f"has shape {tuple(array.shape)}; expected {expected}"
    return None


def nonfinite(array, where_item: Callable[[int], str], per_item: bool) -> list[str]:
    """One line per item (row of `array`, or the whole array) holding NaN, Inf or float32 overflow.

    Read a chunk of rows at a time so a memory-mapped array is never loaded whole.
    """
    if array.dtype.kind in "biu":  # integers are always finite and fit float32
        return []
    if not per_item:
        array = array[None]
    row_bytes = max(1, int(np.prod(array.shape[1:], dtype="int64")) * 8)
    chunk = max(1, CHECK_BYTES // row_bytes)
    lines = []
    for start in range(0, len(array), chunk):
        values = np.asarray(array[start : start + chunk], dtype="float64")
        flat = values.reshape(len(values), -1)
        nan = np.isnan(flat).sum(axis=1)
        inf = np.isinf(flat).sum(axis=1)
        big = (np.abs(np.nan_to_num(flat, nan=0.0, posinf=0.0, neginf=0.0)) > FLOAT32_MAX).sum(
            axis=1
        )
        for k in np.flatnonzero(nan + inf + big):
            parts = []
            if nan[k]:
                parts.append(f"{nan[k]} NaN value(s)")
            if inf[k]:
                parts.append(f"{inf[k]} infinite value(s)")
            if big[k]:
                parts.append(f"{big[k]} value(s) too large for 32-bit floats")
            lines.append(f"{where_item(start + k)}: {', '.join(parts)}")
    return lines


def scan_files(
    root: Path,
    decoders,
    *,
    recursive: bool,
    skip: Path | None = None,
    what: str = "the data folder",
):
    """Files under `root` that one of `decoders` reads, hidden ones skipped, sorted.

    An entry that is not a regular file (a FIFO, a socket, a device, a broken link), hidden
    or not, is a `DataError` listing every one (`inputfiles.regular_files`): nothing is opened.

    Args:
        root: the folder.
        decoders: the kind's `Decoders` (a file is a sample when one of them claims it).
        recursive: whether files in sub-folders count.
        skip: a file that is never a sample (the labels CSV). Defaults to None.
        what: the folder in messages. Defaults to "the data folder".

    Returns:
        (files, ignored): the matching files and how many other visible files there were.
    """
    found, ignored = [], 0
    skip = skip.resolve() if skip is not None else None
    for path in inputfiles.regular_files(root, recursive=recursive, what=what):
        if is_hidden(path.relative_to(root)):
            continue
        if skip is not None and path.resolve() == skip:
            continue
        if decoders.claims(path):
            found.append(path)
        else:
            ignored += 1
    return sorted(found), ignored


def class_folders(root: Path, decoders):
    """Folder-per-class files: `root/<class>/<file>` (direct children), sorted by class, name.

    Returns:
        (files, classes, ignored).
    """
    at_top = inputfiles.regular_files(root, recursive=False)  # refuses a FIFO, a socket, ...
    paths, classes, ignored = [], [], 0
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        found, other = scan_files(folder, decoders, recursive=False)
        ignored += other
        paths += found
        classes += [folder.name] * len(found)
    ignored += sum(1 for p in at_top if not p.name.startswith("."))
    return paths, classes, ignored


def summary(values) -> dict:
    """min / median / max of some lengths or sizes, as plain numbers."""
    values = np.asarray(values)
    return {
        "min": int(values.min()),
        "median": float(np.median(values)),
        "max": int(values.max()),
    }


def most_common(values: list) -> object:
    """The most frequent value (the first seen among equals)."""
    counts: dict = {}
    for v in values:
        counts[v] = counts.get(v, 0) + 1
    return max(counts, key=counts.get)


@dataclass
class Batches:
    """The samples of the arrays given to `predict` (see `batches`).

    Attributes:
        files: the array files.
        names: per file, its name as ids show it (relative to the folder given).
        arrays: per file, its samples as a batch (memory-mapped where the file allows).
        index: per sample, (file, row).
    """

    files: list[Path]
    names: list[str]
    arrays: list
    index: list[tuple[int, int]]

    def row(self, i: int):
        f, r = self.index[i]
        return self.arrays[f][r]

    def where(self, i: int) -> str:
        f, r = self.index[i]
        return str(self.files[f]) if len(self.arrays[f]) == 1 else f"{self.files[f]}[{r}]"

    @property
    def ids(self) -> list[str]:
        """The file's name, with "[i]" for the i-th sample of a file holding several."""
        return [
            self.names[f] if len(self.arrays[f]) == 1 else f"{self.names[f]}[{r}]"
            for f, r in self.index
        ]

    def __len__(self) -> int:
        return len(self.index)


ARRAYS = (".npy", ".npz")


def batches(path: Path, shape: tuple[int, ...], what: str, plural: str, records=()) -> Batches:
    """The arrays given to `predict`: an .npy/.npz (a file, or every one in a folder at any
    depth, hidden ones skipped) holding one sample or a batch of samples of the fitted
    `shape`; and files of one sample each that a decoder of `records` reads.

    A file's array is one sample when it has the sample's dimensions, with or without the
    channel axis (a 2-D array is a batch of one-channel samples when `shape` has one
    channel); a batch when it has one dimension more. Arrays are opened by `open_array`.

    Args:
        path: the file or folder given.
        shape: one sample's fitted shape, channels last.
        what: one sample in words ("signal", "volume").
        plural: samples in words ("series", "volume(s)").
        records: the kind's decoders of other formats (one sample per file, channels
            last), e.g. EDF records. Defaults to ().

    Raises:
        DataError: no array, an array of other dimensions or not numbers, a file its
            decoder refuses, or samples with NaN, infinite or too-large values (every one
            listed).
    """
    records = Decoders(records)
    found, arrays, decoded_by = [], [], []
    unreadable: list[str] = []
    for file in _new_files(path, records):
        decoder = None if file.suffix.lower() in ARRAYS else records.pick(file)
        if decoder is None:
            found.append(file)
            arrays.append(_as_batch(open_array(file), file, shape, what))
        else:
            decoded = decoder.decode(file, str(file))  # its values are checked there
            unreadable += decoded.problems
            if decoded.sample is None:
                continue
            found.append(file)
            arrays.append(np.asarray(decoded.sample)[None])
        decoded_by.append(decoder)
    if unreadable:
        raise DataError(
            f"{len(unreadable)} problem(s) in the files; fix or remove them:",
            details=listed(unreadable),
        )
    names = [f.name if path.is_file() else f.relative_to(path).as_posix() for f in found]
    index = [(f, r) for f, batch in enumerate(arrays) for r in range(len(batch))]
    out = Batches(found, names, arrays, index)
    bad, first = [], 0
    for batch, decoder in zip(arrays, decoded_by, strict=True):
        if decoder is None:
            bad += nonfinite(batch, lambda r, first=first: out.where(first + r), per_item=True)
        first += len(batch)
    if bad:
        raise DataError(
            f"{len(bad)} {plural} hold values that are not finite numbers; fix or remove them:",
            details=listed(bad),
        )
    return out


def _new_files(path: Path, records) -> list[Path]:
    """The files of `batches`: `path` itself, or the arrays and records in the folder."""
    if not path.is_dir():
        return [path]
    found = [
        p
        for p in inputfiles.regular_files(path, what="the folder")
        if not is_hidden(p.relative_to(path)) and (p.suffix.lower() in ARRAYS or records.claims(p))
    ]
    if not found:
        raise DataError(f"no .npy or .npz files in {path}")
    return found


def _as_batch(array, file: Path, shape: tuple[int, ...], what: str):
    """One sample or a batch of samples, with the channel axis: (n, *sample shape)."""
    ndim, channels = len(shape), shape[-1]
    if array.dtype.kind not in "biuf":
        raise DataError(f"the array holds {array.dtype} values, not numbers", where=str(file))
    if array.ndim == ndim + 1:
        return array
    if array.ndim not in (ndim - 1, ndim):
        raise DataError(
            f"{file} has shape {tuple(array.shape)}; expected one {what} of shape "
            f"{tuple(shape)} or a batch of them"
        )
    if array.ndim == ndim and channels == 1:  # a batch of samples without the channel axis
        return array[..., None]
    if not inputfiles.is_npz(file):  # one sample: read whole
        too_large = inputfiles.npy_problem(file)
        if too_large is not None:
            raise DataError(too_large, where=str(file))
    return array[None, ..., None] if array.ndim == ndim - 1 else array[None]


def refuse_nonfinite(array, located, items: str) -> None:
    """Refuses the located rows of an array file whose items hold a value that is not a
    finite number, each named where its sample's label is (`located`: `labels.Located`).

    Args:
        items: what the array holds, for the message ("series", "volume(s)").

    Raises:
        DataError: items hold NaN or infinite values (listed).
    """
    sample_of_row = np.empty(len(array), dtype="int64")
    sample_of_row[located.rows] = np.arange(len(located.rows))
    bad = nonfinite(array, lambda r: located.where(sample_of_row[r]), per_item=True)
    if bad:
        raise DataError(
            f"{len(bad)} {items} hold values that are not finite numbers; fix or remove them:",
            details=listed(bad),
        )
