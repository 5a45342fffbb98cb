"""What every file dltrain reads as user data must be, checked before a byte of it is read.

Two checks, shared by every reader (tables, labels, images, signals, text, volumes), the
fingerprint of the cache, and `evaluate` / `predict` inputs:

- **A regular file.** A character or block device (`/dev/zero`), a FIFO, a socket, or a
  symbolic link to one of these is refused with a `DataError` saying what it is: reading
  `/dev/zero` never ends (and a CSV reader grows without bound), opening a FIFO blocks
  until something writes to it. A folder scan refuses such entries too, listing every
  one, rather than skipping them: a sample that silently goes missing changes the data.
- **A size limit per format** (`Limit`), for what is read whole into memory: a file over
  it is refused naming the file, its size and the limit, before it is read. The limits
  have no setting; they are far above any single file of a real dataset of these kinds
  and keep one file from exhausting a 24 GiB machine (docs/decisions.md, "Input size
  limits"). The uncompressed size of an `.npz` member and of a Parquet table comes from
  their headers, so a zip bomb is refused without being decompressed.
"""

from __future__ import annotations

import math
import os
import stat
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dltrain.errors import DataError

MAX_LISTED = 20
DATA_FIX = "point data.path at a file or folder of files"
NO_SETTING = (
    "the limit has no setting: it keeps one file from exhausting the machine's memory "
    "(docs/decisions.md, 'Input size limits')"
)


@dataclass(frozen=True)
class Limit:
    """The largest file of one format dltrain reads, and what to do with a larger one.

    Attributes:
        bytes: the largest size, in bytes.
        what: the kind of file, for the message ("a CSV file").
        advice: how to bring a larger file under the limit.
    """

    bytes: int
    what: str
    advice: str


CSV = Limit(
    1 << 30,
    "a CSV file (read whole into memory)",
    "keep only the rows and columns the model needs, or split the file",
)
PARQUET = Limit(
    1 << 30,
    "a Parquet table (uncompressed; read whole into memory)",
    "keep only the rows and columns the model needs, or split the file",
)
PARQUET_CELLS = 1 << 28  # rows x columns: a repeated value compresses to nothing on disk
TEXT = Limit(
    256 << 20,
    "a text file (read whole into memory)",
    "split it into one file per text, or one text per line of several files",
)
IMAGE = Limit(
    512 << 20,  # the raw size of the largest image within IMAGE_PIXELS: 4 channels x 16 bit
    "an image file",
    "downscale the image (every image is resized to data.size anyway)",
)
IMAGE_PIXELS = 1 << 26  # 67,108,864 pixels (64 megapixels, e.g. 8192 x 8192)
ARRAY = Limit(
    4 << 30,
    "an array loaded whole into memory (one sample, an .npz member, a predict input)",
    "save the samples as one .npy array, which is memory-mapped (only one sample at a time "
    "needs to fit), or split it into several files",
)

_KINDS = (
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISDIR, "a folder"),
)


def size_text(n: int) -> str:
    """A byte count as people read it: 512 bytes, 3.2 MiB, 1 GiB."""
    if n < 1024:
        return f"{n} bytes"
    for unit, shift in (("TiB", 40), ("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if n >= 1 << shift:
            value = n / (1 << shift)
            return f"{value:.0f} {unit}" if value == int(value) else f"{value:.1f} {unit}"
    return f"{n} bytes"  # unreachable


def not_regular(path: Path) -> str | None:
    """Why `path` is not a regular file to read (symbolic links followed), or None.

    Only `os.stat` is called: nothing is opened, so a FIFO cannot block.

    Example:
        >>> not_regular(Path("/dev/zero"))
        'is a character device, not a regular file'
    """
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        if os.path.islink(path):
            return f"is a broken symbolic link (to {os.readlink(path)})"
        return "does not exist"
    except OSError as exc:
        return f"cannot be examined: {exc.strerror or exc}"
    if stat.S_ISREG(mode):
        return None
    what = next((name for test, name in _KINDS if test(mode)), "a special file")
    if os.path.islink(path):
        return f"is a symbolic link to {os.path.realpath(path)}, {what}, not a regular file"
    return f"is {what}, not a regular file"


def too_large(size: int, limit: Limit, measured: str = "") -> str | None:
    """Why a file of `size` bytes is over `limit`, or None."""
    if size <= limit.bytes:
        return None
    return (
        f"is {size:,} bytes ({size_text(size)}){measured}, over dltrain's limit of "
        f"{size_text(limit.bytes)} for {limit.what}: {limit.advice}; {NO_SETTING}"
    )


def problem(path: Path, limit: Limit | None = None) -> str | None:
    """Why `path` cannot be read (not a regular file, or over `limit`), or None."""
    reason = not_regular(path)
    if reason is None and limit is not None:
        reason = too_large(os.stat(path).st_size, limit)
    return reason


def check(path: Path, limit: Limit | None = None, *, fix: str = DATA_FIX) -> int:
    """Refuses a path that is not a regular file, or is larger than `limit`.

    Args:
        path: the file, before it is opened.
        limit: the format's size limit. Defaults to None (any size: streamed reads).
        fix: what to do about a path that is not a regular file. Defaults to pointing
            data.path at a file or folder of files.

    Returns:
        The file's size in bytes.

    Raises:
        DataError: naming the path and what it is, or its size and the limit (exit 3).
    """
    reason = not_regular(path)
    if reason is not None:
        raise DataError(f"{reason}; {fix}", where=str(path))
    size = os.stat(path).st_size
    reason = too_large(size, limit) if limit is not None else None
    if reason is not None:
        raise DataError(reason, where=str(path))
    return size


def regular_files(
    root: Path, *, recursive: bool = True, what: str = "the data folder"
) -> list[Path]:
    """Every regular file under `root` (hidden ones too), sorted; folders are walked.

    An entry that is not a regular file or a folder (a FIFO, a socket, a device, a broken
    link, a link to one of these) is refused, all of them listed in one `DataError`.
    """
    entries = root.rglob("*") if recursive else root.iterdir()
    files, bad = [], []
    for path in entries:
        try:
            mode = os.stat(path).st_mode  # one stat per entry: a cache hit lists them all
        except OSError:
            mode = 0
        if stat.S_ISDIR(mode):
            continue
        reason = None if stat.S_ISREG(mode) else not_regular(path)
        if reason is None:
            files.append(path)
        else:
            bad.append(f"{path}: {reason}")
    if bad:
        shown = bad[:MAX_LISTED] + (
            [f"... and {len(bad) - MAX_LISTED} more"] if len(bad) > MAX_LISTED else []
        )
        raise DataError(
            f"{len(bad)} entr{'y' if len(bad) == 1 else 'ies'} in {what} {root} cannot be read "
            "as files; dltrain refuses them rather than skip them (a sample that silently goes "
            "missing changes the data): move them out of the folder, or replace links with the "
            "files they should point to:",
            details=shown,
        )
    return sorted(files, key=lambda p: p.parts)  # Path order (POSIX), without Path.__lt__


def array_bytes(shape: tuple[int, ...], dtype) -> int:
    """The memory an array of `shape` and `dtype` takes."""
    return math.prod(int(s) for s in shape) * np.dtype(dtype).itemsize


def _header(f) -> tuple[tuple[int, ...], np.dtype] | None:
    """(shape, dtype) from an open .npy stream's header, or None for a version-3 header."""
    version = np.lib.format.read_magic(f)
    if version == (1, 0):
        shape, _, dtype = np.lib.format.read_array_header_1_0(f)
    elif version == (2, 0):
        shape, _, dtype = np.lib.format.read_array_header_2_0(f)
    else:  # (3, 0): utf-8 field names, rare; the file's own size still bounds it
        return None
    return tuple(shape), dtype


def npy_header(path: Path) -> tuple[tuple[int, ...], np.dtype] | None:
    """(shape, dtype) of an .npy file from its header alone (nothing mapped or loaded).

    Raises:
        ValueError: not an .npy file (as `np.load` would).
    """
    with open(path, "rb") as f:
        return _header(f)


def npy_problem(path: Path, *, per_sample: bool = False) -> str | None:
    """Why an .npy, read whole (or one row at a time), is over `ARRAY`, from its header.

    Args:
        path: a regular file.
        per_sample: the array is memory-mapped and read a row (sample) at a time, so
            only a row must fit. Defaults to False (the whole array is loaded).
    """
    found = npy_header(path)
    if found is None:
        return too_large(os.stat(path).st_size, ARRAY)
    shape, dtype = found
    if not per_sample:
        return too_large(array_bytes(shape, dtype), ARRAY, " as an array")
    if len(shape) < 2:
        return None
    reason = too_large(array_bytes(shape[1:], dtype), ARRAY)
    return f"one sample (a row of the array of shape {shape}) {reason}" if reason else None


def is_npz(path: Path) -> bool:
    """Whether `np.load` would read `path` as an .npz (a zip), by its first bytes as numpy does."""
    with open(path, "rb") as f:
        return f.read(4) in (b"PK\x03\x04", b"PK\x05\x06")


def npz_member(archive, name: str) -> str | None:
    """Why member `name` of an open `np.load`-ed .npz must not be loaded, or None.

    Reads only the zip directory and the member's .npy header: the uncompressed size
    declared by both is checked against `ARRAY` before anything is decompressed.
    """
    names = archive.zip.namelist()
    info = archive.zip.getinfo(name if name in names else f"{name}.npy")
    reason = too_large(info.file_size, ARRAY, " uncompressed")
    if reason is not None:
        return f"member {name!r} {reason}"
    with archive.zip.open(info) as member:
        found = _header(member)
    if found is None:
        return None
    shape, dtype = found
    reason = too_large(array_bytes(shape, dtype), ARRAY, f" as an array of shape {shape}")
    return f"member {name!r} {reason}" if reason is not None else None


def parquet_problem(path: Path) -> str | None:
    """Why a Parquet file is too large to read whole, from its footer only, or None."""
    import pyarrow.parquet as pq

    meta = pq.ParquetFile(path).metadata
    total = sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))
    reason = too_large(total, PARQUET, " of uncompressed data")
    cells = meta.num_rows * meta.num_columns
    if reason is None and cells > PARQUET_CELLS:
        reason = (
            f"has {meta.num_rows:,} rows x {meta.num_columns:,} columns = {cells:,} cells, over "
            f"dltrain's limit of {PARQUET_CELLS:,} cells for {PARQUET.what}: {PARQUET.advice}; "
            f"{NO_SETTING}"
        )
    return reason


BAD_ZIP = zipfile.BadZipFile  # not an OSError or ValueError: readers catch it by name
