"""The stat record: a source file's SHA-256 kept with what `stat` says of it, so an
unchanged file is not read again (git's index does the same).

A file whose size, modification time, change time, inode and device are those recorded
is taken to hold the bytes it held when it was hashed; any other file is read and hashed.
The change time (ctime) cannot be set back by a program (`touch -d`, `cp -p` and `rsync
-t` set mtime, not ctime), so a rewrite that keeps size and mtime is still seen. A file
changed less than `RACY_SECONDS` before it was hashed is not recorded: a second change
within the file system's timestamp granularity would otherwise look unchanged (git's
"racy" files). `dltrain preprocess --rehash` reads every file again.

The record of one data folder is one JSON file, `<cache root>/.stat/<key>.json`, keyed
by the folder's absolute path; each file's entry is one string, "size mtime_ns ctime_ns
inode device sha256" (strings parse three times faster than lists). It is written
(atomically) only after a preprocess succeeded, so a data error leaves nothing in the
cache. A missing, unreadable or unwritable record only costs a re-read.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import time
from pathlib import Path

from dltrain.data import inputfiles
from dltrain.errors import RunError
from dltrain.runs import atomic_write_text

VERSION = 1
CHUNK = 1 << 20
RACY_SECONDS = 2.0  # FAT's mtime granularity; ext4/XFS/APFS are finer


def located(files: list[Path]) -> tuple[str, list[str]]:
    """(root, names): the deepest folder holding every file (data and labels may be in
    different folders) and each file's path inside it, with "/" between folders."""
    absolute = [os.path.abspath(p) for p in files]
    if not absolute:
        return "", []
    root = os.path.commonpath([os.path.dirname(p) for p in absolute])
    cut = len(root.rstrip(os.sep)) + 1
    names = [full[cut:] for full in absolute]
    if os.sep != "/":
        names = [name.replace(os.sep, "/") for name in names]
    return root, names


class Digests:
    """SHA-256 of source files, through the stat record under `folder`.

    Args:
        folder: where the records are (`<cache root>/.stat`).
        rehash: read every file again (and record what it holds now). Defaults to False.

    Example:
        >>> digests = Digests(Path("data/processed/.stat"))
        >>> digests.of([Path("data/ecg/a.npy")])  # doctest: +SKIP
        ['3b4c...']
        >>> digests.save()  # doctest: +SKIP
    """

    def __init__(self, folder: Path, rehash: bool = False):
        self.folder, self.rehash = folder, rehash
        self.read = 0  # files read and hashed (the rest came from the record)
        self._pending: dict[Path, dict] = {}

    def of(self, files: list[Path], where: tuple[str, list[str]] | None = None) -> list[str]:
        """The SHA-256 of each file, in order; unchanged recorded files are not opened.

        Args:
            files: the files.
            where: `located(files)`, if the caller has it. Defaults to None.

        Raises:
            DataError: a path is not a regular file (checked before it is opened).
        """
        root, names = where if where is not None else located(files)
        record = self._path(root)
        known = {} if self.rehash else _load(record, root)
        entries, digests = {}, []
        racy = time.time_ns() - int(RACY_SECONDS * 1e9)
        for path, name in zip(files, names, strict=True):
            signature, changed = _signature(path)
            recorded, _, digest = known.get(name, "").rpartition(" ")
            if recorded != signature or not signature:
                digest = sha256_stream(path)
                self.read += 1
                if _signature(path)[0] != signature:  # written while it was read
                    signature = ""
            if signature and changed < racy:
                entries[name] = f"{signature} {digest}"
            digests.append(digest)
        if entries != known:
            self._pending[record] = {"version": VERSION, "root": root, "files": entries}
        return digests

    def save(self) -> None:
        """Writes the records that changed (after the caller's work succeeded); a record
        that cannot be written is skipped: it only saves time."""
        for path, record in self._pending.items():
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                atomic_write_text(path, json.dumps(record, separators=(",", ":")))
            except (OSError, RunError):
                pass
        self._pending.clear()

    def _path(self, root: str) -> Path:
        return self.folder / f"{hashlib.sha256(root.encode()).hexdigest()[:16]}.json"


def sha256_stream(path: Path) -> str:
    """SHA-256 of a file's bytes, read in 1 MiB chunks (flat memory, so no size limit).

    Raises:
        DataError: the path is not a regular file (a device such as /dev/zero would be
            read forever, a FIFO would block); checked before opening it.
    """
    inputfiles.check(path)
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _signature(path: Path) -> tuple[str, int]:
    """("size mtime_ns ctime_ns inode device", last change in ns) of a regular file, else
    ("", 0)."""
    try:
        st = os.stat(path)
    except OSError:
        return "", 0
    if not stat.S_ISREG(st.st_mode):
        return "", 0
    signature = f"{st.st_size} {st.st_mtime_ns} {st.st_ctime_ns} {st.st_ino} {st.st_dev}"
    return signature, max(st.st_mtime_ns, st.st_ctime_ns)


def _load(path: Path, root: str) -> dict:
    """The recorded files of `root`, or {} (no record, another version, damaged)."""
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(record, dict) or record.get("version") != VERSION:
        return {}
    files = record.get("files")
    if record.get("root") != root or not isinstance(files, dict):
        return {}
    return {name: entry for name, entry in files.items() if isinstance(entry, str)}
