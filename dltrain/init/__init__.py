"""`dltrain init`: a commented starter config for a dataset, or the bundled examples.

`survey.py` looks at the data (kind, columns and their types, candidate target, id and
group columns, class balance, image sizes, series lengths); `template.py` writes the
experiment file from what it found. The written file trains as it is.
"""

from __future__ import annotations

from pathlib import Path

from dltrain.errors import UsageError
from dltrain.init.survey import Survey, survey
from dltrain.init.template import experiment_name, starter

__all__ = ["Survey", "examples", "write_starter"]


def write_starter(
    data: Path,
    out: Path | None = None,
    *,
    kind: str | None = None,
    target: str | None = None,
    force: bool = False,
) -> tuple[Path, Survey]:
    """Writes a starter experiment file for `data`.

    Args:
        data: a table, an .npy array (labels CSV beside it) or a folder.
        out: the file to write. Defaults to `<name>.yaml` in the working directory.
        kind: the data kind, instead of the guess. Defaults to None.
        target: the column to predict, instead of the guess. Defaults to None.
        force: overwrite `out` if it exists. Defaults to False.

    Returns:
        The file written and the survey it was written from.

    Raises:
        UsageError: the data cannot be read, or `out` exists and `force` is False.
    """
    from dltrain import runs

    found = survey(Path(data), kind, target)
    if found.target is None and found.kind == "text":
        raise UsageError(
            f"{data}: no column looks like the label to predict, and text needs one; name it "
            "with --target COLUMN"
        )
    out = Path(out) if out is not None else Path(f"{experiment_name(found.path)}.yaml")
    if out.exists() and not force:
        raise UsageError(
            f"{out} exists; choose another file with --out, or replace it with --force"
        )
    runs.atomic_write_text(out, starter(found, out))
    return out, found


def examples(folder: Path = Path("configs")) -> list[tuple[Path, str]]:
    """The example configs in `folder` with the first line of their leading comment."""
    found = []
    for path in sorted(folder.glob("*.yaml")) if folder.is_dir() else []:
        first = next(
            (line[1:].strip() for line in path.read_text().splitlines() if line.startswith("#")),
            "",
        )
        found.append((path, first))
    return found
