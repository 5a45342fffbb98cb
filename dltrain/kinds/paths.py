"""Where the configured data is: `data.path` and `data.labels`, resolved one way for every kind.

A relative path is taken from the working directory first, then from the folder of the
config file it was written in (`ExperimentConfig.folder`); a path given with `--set` (or
set by dltrain, e.g. evaluate's `--data`) is taken from the working directory only.
"""

from __future__ import annotations

from pathlib import Path

from dltrain.errors import DataError

RELATIVE = "relative paths are taken from the working directory or the config's folder"


def resolve(config, key: str) -> Path:
    """The path at `key` ("data.path" or "data.labels") as written, resolved (see above).

    It is not checked: a path that exists nowhere comes back as written.
    """
    candidate = Path(getattr(config.data, key.split(".")[-1])).expanduser()
    folder = config.folder(key)
    if candidate.is_absolute() or candidate.exists() or folder is None:
        return candidate
    beside = folder / candidate
    return beside if beside.exists() else candidate


def data_path(config) -> Path:
    """`data.path`, resolved; it must be a folder or a regular file.

    Raises:
        DataError: it does not exist, or is not a folder or a regular file (a device, a
            FIFO, a socket).
    """
    from dltrain.data import inputfiles

    where = config.where("data.path")
    root = resolve(config, "data.path")
    if not root.exists():
        raise DataError(f"data not found: {root}. Check data.path ({where}); {RELATIVE}")
    if not root.is_dir():
        inputfiles.check(root, fix=f"point data.path ({where}) at a file or folder of files")
    return root


def labels_path(config) -> Path | None:
    """`data.labels` resolved like `data.path`, or None when it is not set.

    Raises:
        DataError: it does not exist, is not a regular file, or is over the CSV size limit.
    """
    from dltrain.data import inputfiles

    if getattr(config.data, "labels", None) is None:
        return None
    where = config.where("data.labels")
    path = resolve(config, "data.labels")
    if not path.exists() and not path.is_symlink():
        raise DataError(f"labels file not found: {path}. Check data.labels ({where}); {RELATIVE}")
    inputfiles.check(path, inputfiles.CSV, fix=f"point data.labels ({where}) at a CSV file")
    return path


def external_paths(config) -> tuple[Path, Path | None]:
    """`data.external.path` and `.labels`, resolved like `data.path` (from the working
    directory, else beside the config file that wrote them), absolute.

    Raises:
        DataError: either does not exist.
    """
    ext = config.data.external
    out = []
    for key, value in (("path", ext.path), ("labels", ext.labels)):
        if value is None:
            out.append(None)
            continue
        candidate = Path(value).expanduser()
        folder = config.folder(f"data.external.{key}") or config.folder("data.external")
        if not candidate.is_absolute() and not candidate.exists() and folder is not None:
            candidate = folder / candidate if (folder / candidate).exists() else candidate
        if not candidate.exists():
            raise DataError(
                f"external test set not found: {candidate}. Check data.external.{key} "
                f"({config.where(f'data.external.{key}') or 'data.external'}); {RELATIVE}"
            )
        out.append(candidate.resolve())
    return out[0], out[1]


def source_files(config, root: Path | None = None, labels: Path | None = None) -> list[Path]:
    """Every file under data.path (and the labels file): what the fingerprint covers; or
    under `root` (and `labels`) when given (the external test set).

    Raises:
        DataError: data.path or data.labels missing or not a regular file or folder, or an
            entry under data.path that is not a regular file (a FIFO, a socket, a device, a
            broken link): every one listed, before any file is read.
    """
    from dltrain.data import inputfiles

    if root is None:
        root, labels = data_path(config), labels_path(config)
    files = inputfiles.regular_files(root) if root.is_dir() else [root]
    if labels is not None:
        files.append(labels)
    return files


def source_record(config) -> dict:
    """The resolved data path (and labels file), absolute: what `evaluate` reads again."""
    out = {"path": str(data_path(config).resolve())}
    labels = labels_path(config)
    if labels is not None:
        out["labels"] = str(labels.resolve())
    return out
