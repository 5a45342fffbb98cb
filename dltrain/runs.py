"""Run directories: ids, atomic creation, the lock, atomic writes, listing.

A run id is `<name>-<n>`; ids are validated and resolved paths must stay inside
the runs folder (`runs/`, or `$DLTRAIN_RUNS`), so `../x` or a symlink cannot
write elsewhere.
"""

from __future__ import annotations

import contextlib
import difflib
import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any

from dltrain.errors import RunError, UsageError

RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$")
_UMASK = os.umask(0o022)
os.umask(_UMASK)
STATUSES = ("running", "completed", "failed", "diverged", "interrupted")


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
        raise RunError(f"cannot create the runs folder {root}: {exc.strerror}") from None
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
            raise RunError(f"cannot create run folder {path}: {exc.strerror}") from None
        return run_id, _inside(root, path)
    raise RunError(f"cannot find a free run id for {name!r} in {root}")


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Writes a file so that readers see the old or the new content, never a part."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.fchmod(fd, 0o666 & ~_UMASK)  # mkstemp makes 0600; a run's files are ordinary files
    except OSError as exc:
        raise RunError(f"cannot write {path}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise RunError(f"cannot write {path}: {exc.strerror or exc}") from None


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


def set_status(run_dir: Path, status: str, **extra: Any) -> None:
    """Updates status.json (atomically), keeping earlier fields such as the start time."""
    import datetime as dt

    path = run_dir / "status.json"
    current = json.loads(path.read_text()) if path.exists() else {}
    now = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    current.setdefault("started", now)
    if status == "completed":  # an earlier attempt's failure message no longer applies
        current.pop("message", None)
    current.update(status=status, updated=now, **extra)
    write_json(path, current)


class RunLock:
    """An exclusive lock on a run folder (`.lock` holding the owner's PID).

    A second process is refused with the owner's PID; a lock whose process no
    longer exists is stale and taken over.
    """

    def __init__(self, run_dir: Path):
        self.path = Path(run_dir) / ".lock"
        self.stale_pid: int | None = None

    def __enter__(self) -> RunLock:
        for _ in range(2):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                pid = self._owner()
                if pid is not None and _alive(pid):
                    raise RunError(
                        f"run {self.path.parent.name} is in use by process {pid}; wait for it to "
                        f"finish or stop it (a lock left by a killed process is removed "
                        "automatically)"
                    ) from None
                self.stale_pid = pid
                with contextlib.suppress(FileNotFoundError):
                    self.path.unlink()
                continue
            with os.fdopen(fd, "w") as f:
                f.write(str(os.getpid()))
            return self
        raise RunError(f"cannot lock {self.path.parent}")

    def ensure_free(self) -> None:
        """Raises `RunError` if a live process holds the lock (checks, does not take it)."""
        pid = self._owner()
        if self.path.exists() and pid is not None and _alive(pid) and pid != os.getpid():
            raise RunError(
                f"run {self.path.parent.name} is in use by process {pid}; wait for it to "
                "finish or stop it (a lock left by a killed process is removed automatically)"
            )

    def __exit__(self, *exc) -> None:
        with contextlib.suppress(FileNotFoundError):
            if self._owner() == os.getpid():
                self.path.unlink()

    def _owner(self) -> int | None:
        try:
            return int(self.path.read_text().strip())
        except (OSError, ValueError):
            return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def list_runs() -> list[dict[str, Any]]:
    """Summary of every run (id, status, task, headline test metric), newest first."""
    root = runs_root()
    if not root.is_dir():
        return []
    rows = []
    for path in root.iterdir():
        if not (path.is_dir() and RUN_ID.match(path.name) and (path / "status.json").exists()):
            continue
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
    rows.sort(key=lambda r: r["mtime"], reverse=True)
    return rows
