"""Run directories: ids, atomic creation, the lock, atomic writes, listing.

A run id is `<name>-<n>`; ids are validated and resolved paths must stay inside
the runs folder (`runs/`, or `$DLTRAIN_RUNS`), so `../x` or a symlink cannot
write elsewhere.
"""

from __future__ import annotations

import contextlib
import difflib
import errno
import fcntl
import json
import os
import re
import shutil
import socket
import tempfile
import time
from pathlib import Path
from typing import Any

from dltrain.errors import RunError, UsageError

RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$")
_UMASK = os.umask(0o022)
os.umask(_UMASK)
SUBFOLDERS = (
    "checkpoints",
    "comparisons",
    "evaluations",
    "exports",
    "logs",
    "plots",
    "predictions",
)
_HOST = re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname())[:40] or "host"
# a temporary name made by `temp_tag`: ".<name>.<pid>@<host>.<random>[.tmp]"
_TAGGED = re.compile(r"\.(\d+)@([A-Za-z0-9-]+)\.[a-z0-9_]+(?:\.tmp)?$")
# what atomic writes and the training loop leave when killed: ".x.<...>.tmp",
# ".best.tmp.keras", an export's ".<format>.tmp-<pid>" folder
_TEMPORARY = re.compile(r"^\..+\.tmp(?:$|[.-])")


def runs_root() -> Path:
    """The folder that holds all runs: `$DLTRAIN_RUNS`, or `runs/` in the working directory."""
    return Path(os.environ.get("DLTRAIN_RUNS", "runs"))


def validate_run_id(run_id: str) -> str:
    if not RUN_ID.match(run_id or ""):
        raise UsageError(
            "a run id may contain only letters, digits, '-' and '_' (e.g. breast-cancer-3). "
            f"Received: {run_id!r}"
        )
    return run_id


def _inside(root: Path, path: Path) -> Path:
    resolved = path.resolve()
    if resolved != root.resolve() and root.resolve() not in resolved.parents:
        raise UsageError(
            f"{path} resolves to {resolved}, outside the runs folder {root.resolve()}; "
            "runs must stay inside it (remove the symlink or pick another run)"
        )
    return path


def resolve_run(run_id: str) -> Path:
    """The folder of an existing run; a missing one lists the nearest ids."""
    validate_run_id(run_id)
    root = runs_root()
    path = root / run_id
    if not (path.is_dir() and (path / "config.yaml").exists()):
        ids = [p.name for p in root.iterdir() if p.is_dir()] if root.is_dir() else []
        close = difflib.get_close_matches(run_id, ids, n=3, cutoff=0.5)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        listing = " Run `dltrain runs` to list them." if ids else " There are no runs yet."
        raise UsageError(f"no run {run_id!r} in {root}/.{hint}{listing}")
    return _inside(root, path)


def create_run(name: str) -> tuple[str, Path]:
    """Creates `runs/<name>-<n>` with the next free n, atomically (mkdir is atomic)."""
    validate_run_id(name)
    root = runs_root()
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RunError(f"cannot create the runs folder {root}: {_problem(exc)}") from None
    pattern = re.compile(rf"^{re.escape(name)}-(\d+)$")
    numbers = [int(m.group(1)) for p in root.iterdir() if (m := pattern.match(p.name))]
    n = max(numbers, default=0) + 1
    for _ in range(1000):
        run_id = f"{name}-{n}"
        path = root / run_id
        try:
            path.mkdir()
        except FileExistsError:
            n += 1
            continue
        except OSError as exc:
            raise RunError(f"cannot create run folder {path}: {_problem(exc)}") from None
        return run_id, _inside(root, path)
    raise RunError(f"cannot find a free run id for {name!r} in {root}")


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Writes a file so that readers see the old or the new content, never a part.

    The temporary file beside it carries this process's tag (`temp_tag`), so that
    `clean_temporary` can tell one left by a killed process from one being written.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(
            prefix=f".{path.name[:100]}.{temp_tag()}.", suffix=".tmp", dir=path.parent
        )
        os.fchmod(fd, 0o666 & ~_UMASK)  # mkstemp makes 0600; a run's files are ordinary files
    except OSError as exc:
        raise RunError(f"cannot write {path}: {_problem(exc)}") from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise RunError(f"cannot write {path}: {_problem(exc)}") from None


def _problem(exc: OSError) -> str:
    """An OSError in words, with what to do when the disk is full."""
    text = exc.strerror or str(exc)
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        text += "; free some space on that disk and try again"
    return text


def temp_tag() -> str:
    """`<pid>@<host>`: put in the name of a temporary file or folder to say who writes it."""
    return f"{os.getpid()}@{_HOST}"


def left_behind(name: str, *, untagged: bool) -> bool:
    """Whether the temporary file or folder `name` was left by a process that has ended.

    A name with a `temp_tag` is left behind when its host is this machine and its PID
    runs no more; a name made on another machine is never judged left behind (its PID
    cannot be checked from here). A name without a tag gets `untagged`.
    """
    match = _TAGGED.search(name)
    if match is None:
        return untagged
    return match.group(2) == _HOST and not process_alive(int(match.group(1)))


def run_subdir(run_dir: Path, name: str) -> Path:
    """The run's subfolder `name` (plots, evaluations, ...), created if missing.

    Whatever dltrain writes about a run stays inside the run folder: a subfolder that
    is a symbolic link, or resolves outside the run folder, is refused rather than
    written through.

    Args:
        run_dir: the run folder.
        name: one of `SUBFOLDERS`.

    Returns:
        `run_dir / name`.

    Raises:
        RunError: the subfolder is a link, not a folder, or cannot be created (exit 4).
    """
    if name not in SUBFOLDERS:
        raise ValueError(f"not a run subfolder: {name!r}; use one of {', '.join(SUBFOLDERS)}")
    run_dir = Path(run_dir)
    path = run_dir / name
    if path.is_symlink():
        raise RunError(
            f"{path} is a symbolic link (to {os.readlink(path)}); dltrain writes a run's files "
            f"only inside the run folder. Remove the link (rm {path}; what it points to is "
            "kept), then run the command again"
        )
    try:
        path.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise RunError(
            f"{path} is a file, not a folder; move it out of the run folder, then run the "
            "command again"
        ) from None
    except OSError as exc:
        raise RunError(f"cannot create {path}: {_problem(exc)}") from None
    resolved, root = path.resolve(), run_dir.resolve()
    if root not in resolved.parents:
        raise RunError(
            f"{path} resolves to {resolved}, outside the run folder {root}; dltrain writes a "
            "run's files only inside it. Replace it by a plain folder, then run the command again"
        )
    return path


def clean_temporary(run_dir: Path) -> list[Path]:
    """Removes the temporary files and folders that a killed process left in a run.

    That is what an atomic write leaves (`.<name>.<pid>@<host>.<random>.tmp`), the
    training loop's `.best.tmp.keras` and an export's `.<format>.tmp-<pid>` folder,
    in the run folder and its subfolders (links are not followed). A name whose
    process still runs on this machine (an `evaluate` writing now), or that was made
    on another machine, is kept; one without a `temp_tag` is removed, as only the
    holder of the run's lock writes those: call this holding the lock.

    Args:
        run_dir: the run folder.

    Returns:
        The paths removed.
    """
    removed: list[Path] = []
    for folder, dirs, files in os.walk(run_dir):
        for name in (*dirs, *files):
            if not (_TEMPORARY.match(name) and left_behind(name, untagged=True)):
                continue
            path = Path(folder) / name
            try:
                if path.is_dir() and not path.is_symlink():
                    shutil.rmtree(path)
                else:
                    path.unlink()
            except OSError:
                continue
            removed.append(path)
        dirs[:] = [d for d in dirs if Path(folder) / d not in removed]
    return removed


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def write_json(path: Path, data: Any) -> None:
    atomic_write_text(path, json.dumps(data, indent=2, default=_jsonable) + "\n")


def read_json(path: Path) -> Any:
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise RunError(f"{path} is missing; the run is incomplete") from None
    except (OSError, ValueError) as exc:
        raise RunError(f"cannot read {path}: {exc}") from None


def _jsonable(value: Any) -> Any:
    if hasattr(value, "tolist"):  # numpy arrays and scalars
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot store {type(value).__name__} in JSON")


class RunLock:
    """An exclusive lock on a run folder: an OS lock (`flock`) on `run_dir/.lock`.

    The kernel holds the lock while the file is open and drops it when the process
    ends, however it ends: a lock left by a killed process (kill -9, a crash) is
    simply free, and the PID still written in it is reported as `stale_pid`. The
    file holds the owner's PID for the message that refuses a second process. On
    release the file is removed while still locked; a process that locked it just
    before sees that the path no longer names its file and tries again, so two
    processes can never hold locks on two different files.

    Args:
        run_dir: the run folder.
        new: the caller has just created `run_dir` (`create_run`): if the lock cannot
            be written (a full disk), or the folder holds nothing else when the lock is
            released (the run never started), the folder is removed again. Defaults to
            False.

    Example:
        >>> with RunLock(Path("runs/breast-cancer-3")) as lock:  # doctest: +SKIP
        ...     print(lock.stale_pid)  # the PID of a killed owner, or None
    """

    _TRIES = 200  # × 5 ms: how long a new owner may take to write its PID

    def __init__(self, run_dir: Path, *, new: bool = False):
        self.dir = Path(run_dir)
        self.path = self.dir / ".lock"
        self.new = new
        self.stale_pid: int | None = None
        self._fd: int | None = None

    def __enter__(self) -> RunLock:
        try:
            self._acquire()
        except BaseException:
            if self.new:
                self._discard()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self._release()
        if self.new:
            self._discard()

    def ensure_free(self) -> None:
        """Raises `RunError` if a live process holds the lock (checks, does not take it)."""
        pid = self._owner()
        if pid is None or pid == os.getpid() or not process_alive(pid):
            return
        try:  # the PID may have been reused since its owner died: is the file locked?
            fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
        except OSError:
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            raise self._busy(pid) from None
        except OSError:
            return
        finally:
            os.close(fd)  # also drops the shared lock, if it was taken

    def _acquire(self) -> None:
        for _ in range(self._TRIES):
            try:
                fd = os.open(
                    self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o644
                )
            except OSError as exc:
                raise RunError(
                    f"cannot create the lock file {self.path}: {_problem(exc)}"
                ) from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                pid = self._owner()
                if pid is not None and process_alive(pid):
                    raise self._busy(pid) from None
                time.sleep(0.005)  # its owner has not written its PID yet, or is leaving
                continue
            except OSError as exc:
                os.close(fd)
                raise RunError(f"cannot lock {self.path}: {_problem(exc)}") from None
            if not self._names(fd):  # released and removed meanwhile: lock the new file
                os.close(fd)
                continue
            self._fd = fd
            self._claim()
            return
        raise self._busy(None)

    def _claim(self) -> None:
        """Notes a killed owner's PID and writes ours in its place (truncate, then one write)."""
        fd = self._fd
        try:
            self.stale_pid = _pid_in(os.pread(fd, 32, 0))
            if self.stale_pid == os.getpid():
                self.stale_pid = None
            os.ftruncate(fd, 0)
            data = str(os.getpid()).encode()
            if os.pwrite(fd, data, 0) != len(data):
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            os.fsync(fd)  # a full disk shows here at the latest, not in the middle of a run
        except OSError as exc:
            self._release()
            raise RunError(f"cannot write the lock file {self.path}: {_problem(exc)}") from None

    def _names(self, fd: int) -> bool:
        """Whether `.lock` is still the file open as `fd`."""
        try:
            return os.path.samestat(os.fstat(fd), os.stat(self.path, follow_symlinks=False))
        except FileNotFoundError:
            return False

    def _release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            if self._names(fd):
                os.unlink(self.path)  # still locked: see the class docstring
        except OSError:
            pass
        finally:
            os.close(fd)

    def _discard(self) -> None:
        """Removes a new run folder that holds nothing (the run never started)."""
        with contextlib.suppress(OSError):
            os.rmdir(self.dir)

    def _busy(self, pid: int | None) -> RunError:
        who = f"process {pid}" if pid is not None else "another process"
        return RunError(
            f"run {self.dir.name} is in use by {who}; wait for it to finish or stop it "
            "(a lock left by a killed process is freed automatically)"
        )

    def _owner(self) -> int | None:
        try:
            return _pid_in(self.path.read_bytes())
        except OSError:
            return None


def _pid_in(data: bytes) -> int | None:
    text = data.decode("ascii", "replace").strip()
    return int(text) if text.isdigit() and 0 < int(text) < 2**31 else None


def process_alive(pid: int) -> bool:
    """Whether a process with this PID exists on this machine (one we may not signal counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def run_folders() -> list[Path]:
    """Every run folder (one holding status.json, inside the runs folder), newest first."""
    root = runs_root()
    if not root.is_dir():
        return []
    inside = root.resolve()
    found = [
        path
        for path in root.iterdir()
        if path.is_dir()
        and RUN_ID.match(path.name)
        and (path / "status.json").exists()
        and inside in path.resolve().parents  # not a link to a folder elsewhere
    ]
    return sorted(found, key=lambda p: p.stat().st_mtime, reverse=True)


def list_runs() -> list[dict[str, Any]]:
    """Summary of every run (id, status, task, headline test metric), newest first."""
    rows = []
    for path in run_folders():
        try:
            status = json.loads((path / "status.json").read_text())
        except (OSError, ValueError):
            status = {"status": "unreadable"}
        metrics = {}
        if (path / "metrics.json").exists():
            with contextlib.suppress(OSError, ValueError):
                metrics = json.loads((path / "metrics.json").read_text())
        rows.append(
            {"id": path.name, "status": status, "metrics": metrics, "mtime": path.stat().st_mtime}
        )
    return rows
