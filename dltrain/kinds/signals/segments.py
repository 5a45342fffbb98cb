"""Records cut into samples (`data.segments`): fixed-length windows, or segments around
each annotation (WFDB beats, EDF+ epochs) labelled with it.

- `{by: windows, seconds: S, step: T}`: windows of S seconds every T seconds (T defaults
  to S) from the start of each record; a window that would run past the end is dropped.
  Each window takes its record's labels row (target, group, split), if there is one.
- `{by: annotations, before: B, after: A, keep: [...], annotator: atr}`: one segment per
  annotation whose label is in `keep` (all without it), from B seconds before its onset to
  A seconds after (A defaults to the annotation's duration, as for EDF+ sleep epochs); the
  label fills the target column `data.target`. A segment that would run past either end
  of its record is dropped (counted in the manifest). A labels CSV, if given, holds per-
  record columns (group, split), not the target.

A sample's id is "<record>@<first sample>" at the configured rate; its group is its
record's (a header field such as the WFDB record or the EDF patient, or a labels column),
so a patient-level split keeps a record's segments together. Records are decoded one at a
time when shards are written (the last one kept), so memory does not grow with the data.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from dltrain.errors import ConfigError, DataError
from dltrain.kinds import clinical, files, labels
from dltrain.kinds.signals import SIGNALS


def read(config, root: Path, labels_file: Path | None):
    """(located, get, lengths, channels, decoding info) of the segments of every record."""
    from dltrain.kinds.signals.reader import check_records, decoding_info

    cfg = config.data
    by_annotations = cfg.segments.by == "annotations"
    if by_annotations and isinstance(cfg.target, list):
        raise ConfigError(
            "segments by annotations have one label each; data.target must name one column",
            where=config.where("data.target"),
        )
    decoders = SIGNALS.decoders.configured(cfg)
    field = clinical.header_group(config, decoders)
    update = {"group": None} if field else {}
    if by_annotations:
        update["target"] = None
    located_by = config.model_copy(update={"data": cfg.model_copy(update=update)})
    records = labels.locate_files(located_by, root, labels_file, decoders, "record")
    records.build(located_by)
    checked = check_records(records.paths, records.where, decoders)
    table = records.table
    if field:
        table[field] = clinical.group_values(config, field, checked.headers, records.where)
    cuts, edges = _cuts(
        config, records.paths, records.where, decoders, checked.metas, checked.lengths
    )
    located, get, lengths = _segments(config, records, table, cuts, decoders, labelled=True)
    info = decoding_info(config, checked.metas, field)
    info["segments"] = _described(cfg.segments, cuts, len(records.paths), edges)
    return located, get, lengths, checked.channels, info


def read_new(path: Path, config):
    """Segments of the records given to `predict` (a record file or a folder of them), as
    training cut them; unlabelled. Returns (located, get, lengths, channels per segment)."""
    from dltrain.data import inputfiles
    from dltrain.kinds.signals.reader import check_records

    decoders = SIGNALS.decoders.configured(config.data)
    if path.is_dir():
        found, _ = files.scan_files(path, decoders, recursive=False, what="the folder")
    else:
        inputfiles.check(path)
        found = [path] if decoders.claims(path) else []
    if not found:
        raise DataError(f"no {decoders.formats} records in {path}")
    where = lambda i: str(found[i])  # noqa: E731
    checked = check_records(found, where, decoders)
    ids = [decoders.stem(p) for p in found]
    records = labels.Located(ids, None, where, None, paths=found)
    table = pd.DataFrame({"id": ids})
    cuts, _ = _cuts(config, found, where, decoders, checked.metas, checked.lengths)
    located, get, lengths = _segments(config, records, table, cuts, decoders, labelled=False)
    have = np.full(len(lengths), checked.channels, dtype="int64")
    return located, get, lengths, have


def _cuts(config, paths, where, decoders, metas, lengths):
    """([(record, first sample, length, label) of every segment], segments dropped at a
    record's edge); a `DataError` lists every problem."""
    seg = config.data.segments
    out, problems = [], []
    edges = 0
    for i, path in enumerate(paths):
        rate = metas[i].get("rate")
        if rate is None:
            problems.append(
                f"{where(i)}: its format has no sampling rate, which segments in "
                "seconds need; use WFDB or EDF records"
            )
            continue
        if seg.by == "windows":
            n = max(2, int(round(seg.seconds * rate)))
            step = max(1, int(round((seg.step or seg.seconds) * rate)))
            out += [(i, s, n, None) for s in range(0, int(lengths[i]) - n + 1, step)]
            continue
        try:
            notes = decoders.pick(path).annotations(path, seg.annotator)
        except (DataError, NotImplementedError) as exc:
            problems.append(
                f"{where(i)}: {getattr(exc, 'message', 'its format has no annotations')}"
            )
            continue
        for onset, duration, text in notes:
            if seg.keep is not None and text not in seg.keep:
                continue
            after = seg.after if seg.after is not None else duration
            if after is None:
                problems.append(
                    f"{where(i)}: the annotation {text!r} at {onset:g} s has no "
                    "duration; set data.segments.after"
                )
                break
            first = int(round((onset - seg.before) * rate))
            n = max(2, int(round((seg.before + after) * rate)))
            if first < 0 or first + n > lengths[i]:
                edges += 1
                continue
            out.append((i, first, n, text))
    if problems:
        raise DataError(
            f"{len(problems)} record(s) cannot be cut into segments:",
            details=files.listed(problems),
        )
    if not out:
        raise DataError(
            "no segments: no record is long enough for a window, or no annotation "
            "is kept (data.segments.keep); check data.segments"
        )
    return out, edges


def _segments(config, records, table, cuts, decoders, *, labelled: bool):
    """The sample table of the segments, where each comes from, and their loader."""
    record = np.asarray([c[0] for c in cuts], dtype="int64")
    first = np.asarray([c[1] for c in cuts], dtype="int64")
    lengths = np.asarray([c[2] for c in cuts], dtype="int64")
    frame = table.iloc[record].reset_index(drop=True)
    frame["id"] = [f"{records.ids[r]}@{s}" for r, s in zip(record, first, strict=True)]
    target = config.data.target
    if labelled and config.data.segments.by == "annotations" and isinstance(target, str):
        frame[target] = [c[3] for c in cuts]
    where = lambda i: f"{records.where(int(record[i]))} at sample {first[i]}"  # noqa: E731
    paths = records.paths
    last: dict = {}

    def get(i: int) -> np.ndarray:
        r = int(record[i])
        if last.get("record") != r:  # shards load sorted indices: a record's segments in a row
            last["record"], last["values"] = r, decoders.pick(paths[r]).load(paths[r])
        return last["values"][first[i] : first[i] + lengths[i]]

    if labelled:
        labels.check_unique(list(frame["id"]), where)
    located = labels.Located(list(frame["id"]), None, where, records.labels, paths=list(paths))
    located.table = frame
    located.ignored = records.ignored
    return located, get, lengths


def _described(seg, cuts, n_records: int, edges: int) -> dict:
    out = {**seg.model_dump(), "records": n_records, "segments": len(cuts)}
    if seg.by == "annotations":
        counts: dict[str, int] = {}
        for c in cuts:
            counts[c[3]] = counts.get(c[3], 0) + 1
        out["labels"] = dict(sorted(counts.items()))
        out["dropped_at_record_edges"] = int(edges)
    return out
