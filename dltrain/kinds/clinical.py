"""What the clinical formats (DICOM, NIfTI, WFDB, EDF) share: their optional packages, and
groups read from file headers.

The readers of these formats (pydicom, nibabel, wfdb, pyedflib) are the `clinical` extra
(`pip install 'dltrain[clinical]'`); a config whose data needs one that is not installed
is a `ConfigError` (exit 2) naming the extra. They are imported inside the decoders only.
"""

from __future__ import annotations

import importlib

from dltrain.errors import ConfigError

EXTRA = "pip install 'dltrain[clinical]'"
PACKAGES = {"pydicom": "DICOM", "nibabel": "NIfTI", "wfdb": "WFDB", "pyedflib": "EDF/EDF+"}


def need(module: str):
    """The imported `module`, or a `ConfigError` naming the extra that installs it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise ConfigError(
            f"reading {PACKAGES.get(module, module)} files needs the Python package {module!r}, "
            f"which is not installed; install dltrain's clinical extra: {EXTRA}"
        ) from None


def header_group(config, decoders) -> str | None:
    """The header field `data.group` names (e.g. "PatientID"), or None when it names a
    labels column (or is not set). A field the kind's decoders read is always a header
    field: `Decoders.header_fields`."""
    group = getattr(config.data, "group", None)
    if group is not None and group in decoders.header_fields:
        return group
    return None


def without_group(config):
    """The config with `data.group` unset: the labels CSV is read without the group
    column, which comes from the headers instead."""
    data = config.data.model_copy(update={"group": None})
    return config.model_copy(update={"data": data})


def group_values(config, field: str, headers: list[dict], where) -> list[str]:
    """Each sample's `field` from its decoded header, pseudonymised (`data.pseudonymise`).

    Raises:
        DataError: a file lacks the field (every such file listed).
    """
    from dltrain.errors import DataError
    from dltrain.kinds import pseudonyms
    from dltrain.kinds.files import listed

    missing = [i for i, h in enumerate(headers) if not str(h.get(field) or "").strip()]
    if missing:
        raise DataError(
            f"{len(missing)} file(s) have no {field} in their header, which data.group "
            f"({config.where('data.group') or 'data.group'}) names; fill it in, or give the "
            "group as a column of a labels CSV:",
            details=listed([f"{where(i)}: no {field}" for i in missing]),
        )
    values = [str(h[field]).strip() for h in headers]
    return pseudonyms.pseudonymised(values, config.data.pseudonymise)


def summary(metas: list[dict], keys: tuple[str, ...]) -> dict:
    """For the manifest: each key's distinct values over the samples (at most 5 listed)."""
    out = {}
    for key in keys:
        seen: dict[str, object] = {}
        for meta in metas:
            if key in meta:
                seen.setdefault(repr(meta[key]), meta[key])
        if seen:
            values = list(seen.values())
            out[key] = values[0] if len(values) == 1 else values[:5]
    return out


def group_note(config, field: str) -> str:
    """How the manifest says where the group came from."""
    how = (
        "pseudonymised (HMAC-SHA256)"
        if config.data.pseudonymise
        else "raw ids (pseudonymise: false)"
    )
    return f"header field {field}, {how}"


def match_keys(config, values: list[str], where, csv_file, field: str) -> list[int]:
    """The labels row of each sample whose header `field` (a UID) is `values[i]`: the labels'
    `data.id` column holds those UIDs. Several samples may share a row (a study's label).

    Raises:
        DataError: samples without a row, rows without a sample, missing UIDs (all listed).
    """
    from dltrain.errors import DataError
    from dltrain.kinds.files import listed
    from dltrain.kinds.labels import label_ids

    ids = label_ids(csv_file, config.data.id)
    row_of = {value: i for i, value in enumerate(ids)}
    lines = [f"{where(i)}: no {field} in the header" for i, v in enumerate(values) if not v]
    lines += [
        f"{where(i)}: its {field} has no row in {csv_file.path} (column {config.data.id!r})"
        for i, v in enumerate(values)
        if v and v not in row_of
    ]
    used = set(values)
    lines += [
        f"{csv_file.at(i)}: no file has this {field}" for i, v in enumerate(ids) if v not in used
    ]
    if lines:
        raise DataError(
            f"the labels file and the DICOM files do not match by {field} (data.dicom.key): "
            "every file needs a labels row and every row a file; fix the ids or the files:",
            details=listed(lines),
        )
    return [row_of[v] for v in values]


def match_by_header(config, root, scanned: list, csv_file, key: str):
    """(files, labels row of each) for labels keyed by a DICOM UID (`data.dicom.key`).

    Raises:
        DataError: a file that is not DICOM, or the files and rows do not match.
    """
    from dltrain.errors import DataError
    from dltrain.kinds import dicom
    from dltrain.kinds.files import listed

    field = dicom.KEYS[key]
    values, problems = [], []
    for path in scanned:
        try:
            values.append(dicom.header(dicom.dataset(path, pixels=False))[field])
        except DataError as exc:
            problems.append(f"{path}: {exc.message}")
            values.append("")
    if problems:
        raise DataError(
            f"data.dicom.key is {key!r}, so every file must be DICOM with a {field}:",
            details=listed(problems),
        )
    rows = match_keys(config, values, lambda i: str(scanned[i]), csv_file, field)
    return list(scanned), rows
