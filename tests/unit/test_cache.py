"""The processed-data cache: content-addressed folders, complete manifests, nothing half-written."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dltrain import runs
from dltrain.config import load_config
from dltrain.data import cache
from dltrain.data.cache import preprocess
from dltrain.data.transforms import TabularTransform
from dltrain.errors import DataError, RunError
from tests.conftest import BASIC_CONFIG, make_table, write_config

CACHE = Path("data/processed")
SPLIT_FILES = {"train-00000.npz", "val-00000.npz", "test-00000.npz"}


def config_with(workdir: Path, old: str, new: str, name: str = "other.yaml"):
    assert old in BASIC_CONFIG
    return load_config(write_config(workdir, BASIC_CONFIG.replace(old, new), name))


def cache_entries() -> list[str]:
    """Everything under data/processed, temporary (dot) folders included, except the stat
    record of source files (`.stat`, tests/unit/test_statcache.py)."""
    return sorted(p.name for p in CACHE.iterdir() if p.name != ".stat") if CACHE.exists() else []


def test_first_call_writes_the_folder_and_second_is_a_hit(tabular_experiment):
    first = preprocess(load_config(tabular_experiment))
    assert not first.hit
    assert first.path.parent == CACHE
    assert re.fullmatch(r"tabular-[0-9a-f]{16}", first.path.name)
    assert {p.name for p in first.path.iterdir()} == {
        "manifest.json",
        "preprocessing.json",
        *SPLIT_FILES,
    }
    assert json.loads((first.path / "manifest.json").read_text()) == first.manifest
    second = preprocess(load_config(tabular_experiment))
    assert second.hit and second.path == first.path
    assert second.manifest == first.manifest
    assert cache_entries() == [first.path.name]


def test_one_changed_byte_gives_another_folder(tabular_experiment, workdir):
    first = preprocess(load_config(tabular_experiment))
    text = (workdir / "table.csv").read_text()
    at = text.index(",", text.index("\n")) + 1  # first digit of the first row's age
    digit = "1" if text[at] != "1" else "2"
    changed = text[:at] + digit + text[at + 1 :]
    assert len(changed) == len(text) and changed != text
    (workdir / "table.csv").write_text(changed)
    second = preprocess(load_config(tabular_experiment))
    assert not second.hit and second.path != first.path
    assert second.manifest["source"]["sha256"] != first.manifest["source"]["sha256"]
    assert sorted(cache_entries()) == sorted([first.path.name, second.path.name])


def test_data_settings_change_the_folder_other_settings_do_not(tabular_experiment, workdir):
    first = preprocess(load_config(tabular_experiment))
    scaled = preprocess(config_with(workdir, "id: patient", "id: patient\n  scale: minmax"))
    assert not scaled.hit and scaled.path != first.path
    reseeded = preprocess(config_with(workdir, "seed: 3", "seed: 4"))
    assert not reseeded.hit and reseeded.path not in (first.path, scaled.path)
    longer = preprocess(config_with(workdir, "epochs: 2", "epochs: 5"))
    assert longer.hit and longer.path == first.path


def test_bad_cell_leaves_nothing_behind(workdir):
    table = make_table()
    table["marker"] = table["marker"].astype(str)
    table.loc[10, "marker"] = "12,5"
    table.to_csv(workdir / "table.csv", index=False)
    config = load_config(write_config(workdir, BASIC_CONFIG))
    with pytest.raises(DataError) as info:
        preprocess(config)
    assert info.value.details == ["table.csv:12: column 'marker': value '12,5' is not a number"]
    assert cache_entries() == []


def test_missing_source_leaves_nothing_behind(workdir):
    config = load_config(write_config(workdir, BASIC_CONFIG))
    with pytest.raises(DataError, match="data file not found: table.csv"):
        preprocess(config)
    assert cache_entries() == []


def test_failed_write_leaves_no_temporary_folder(tabular_experiment, monkeypatch):
    def broken_save(self, path):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(TabularTransform, "save", broken_save)
    with pytest.raises(RunError, match="No space left on device"):
        preprocess(load_config(tabular_experiment))
    assert cache_entries() == []


def test_manifest_records_source_splits_and_hashes(tabular_experiment, workdir):
    processed = preprocess(load_config(tabular_experiment))
    manifest = processed.manifest
    table = pd.read_csv(workdir / "table.csv")
    source_sha = hashlib.sha256((workdir / "table.csv").read_bytes()).hexdigest()
    assert manifest["source"]["sha256"] == source_sha
    assert manifest["source"]["rows"] == 90
    assert manifest["source"]["path"] == str((workdir / "table.csv").resolve())
    assert (manifest["task"], manifest["classes"]) == ("binary", ["healthy", "sick"])
    assert manifest["features"] == ["age", "marker", "noise", "sex=f", "sex=m"]
    assert manifest["split"]["method"] == "stratified" and manifest["split"]["seed"] == 3
    all_rows = []
    for name in ("train", "val", "test"):
        info, part = manifest["split"][name], processed.split(name)
        assert info["rows"] == len(part.rows) == len(part.x) == len(part.y) == len(part.ids)
        assert part.x.shape[1] == 5 and part.groups is None
        assert info["sha256"] == cache.split_hash(part.rows, part.x, part.y)
        counts = np.bincount(part.y, minlength=2)
        assert info["class_counts"] == {"healthy": int(counts[0]), "sick": int(counts[1])}
        expected = (table["outcome"].iloc[part.rows] == "sick").astype(int).to_numpy()
        assert np.array_equal(part.y, expected)
        assert part.ids.tolist() == table["patient"].iloc[part.rows].tolist()
        all_rows += part.rows.tolist()
    assert sorted(all_rows) == list(range(90))
    assert sum(manifest["split"][n]["rows"] for n in ("train", "val", "test")) == 90
    assert len({manifest["split"][n]["sha256"] for n in ("train", "val", "test")}) == 3


def test_statistics_are_fitted_on_the_training_split(tabular_experiment, workdir):
    processed = preprocess(load_config(tabular_experiment))
    table = pd.read_csv(workdir / "table.csv")
    train_rows = processed.split("train").rows
    saved = json.loads((processed.path / "preprocessing.json").read_text())
    assert saved["center"]["age"] == pytest.approx(table["age"].iloc[train_rows].mean())
    assert saved["center"]["age"] != pytest.approx(table["age"].mean())
    assert processed.transform.center == saved["center"]


def test_groups_stay_whole(workdir):
    make_table(groups=18).to_csv(workdir / "table.csv", index=False)
    config = config_with(workdir, "id: patient", "group: patient")
    processed = preprocess(config)
    table = pd.read_csv(workdir / "table.csv")
    seen = {}
    for name in ("train", "val", "test"):
        part = processed.split(name)
        assert part.groups.tolist() == table["patient"].iloc[part.rows].tolist()
        seen[name] = set(part.groups.tolist())
        assert processed.manifest["split"][name]["groups"] == len(seen[name])
    assert not seen["train"] & seen["val"]
    assert not seen["train"] & seen["test"]
    assert not seen["val"] & seen["test"]
    assert set().union(*seen.values()) == {f"p{i}" for i in range(18)}


def test_bad_regression_targets_are_listed_by_file_line(workdir):
    table = make_table(task="regression")
    table["outcome"] = table["outcome"].astype(str)
    table.loc[40, "outcome"] = "abc"
    table.loc[70, "outcome"] = "inf"
    table.to_csv(workdir / "table.csv", index=False)
    config = config_with(workdir, "id: patient", "id: patient\n  task: regression")
    with pytest.raises(DataError, match="regression target 'outcome'") as info:
        preprocess(config)
    assert info.value.details == [
        "table.csv:42: column 'outcome': value 'abc' is not a number",
        "table.csv:72: column 'outcome': value 'inf' is infinite",
    ]
    assert cache_entries() == []


def test_in_memory_sample_is_capped_by_bytes():
    from dltrain.data.cache import sample_size

    assert sample_size({"features": ["a"] * 30}) == 5000  # a table: all of a small split
    assert sample_size({"input_shape": [64, 64, 1]}) == 1024  # 16 MiB of 64x64 float32
    assert sample_size({"input_shape": [224, 224, 3]}) == 500  # never fewer than 500


def test_fingerprint_sees_a_file_moved_to_another_class_folder(tmp_path, monkeypatch):
    """Same names, same bytes, another folder: a relabelled image is not a cache hit."""
    from dltrain.data.cache import sha256_files

    for layout in ("before", "after"):
        for folder in ("a", "b"):
            (tmp_path / layout / folder).mkdir(parents=True)
    for layout, folder_of_1 in (("before", "a"), ("after", "b")):
        (tmp_path / layout / folder_of_1 / "1.png").write_bytes(b"one")
        (tmp_path / layout / "b" / "2.png").write_bytes(b"two")
    before = sorted(p for p in (tmp_path / "before").rglob("*") if p.is_file())
    after = sorted(p for p in (tmp_path / "after").rglob("*") if p.is_file())
    assert [p.name for p in before] == [p.name for p in after]
    digest = sha256_files(before)
    assert digest != sha256_files(after)
    moved = tmp_path / "moved"
    (tmp_path / "before").rename(moved)  # the same data in another place: still a hit
    assert sha256_files(sorted(p for p in moved.rglob("*") if p.is_file())) == digest
    # a labels file given by an absolute path beside relative image paths
    labels = tmp_path / "labels.csv"
    labels.write_text("id,label\n")
    relative = [p.relative_to(tmp_path) for p in sorted(moved.rglob("*")) if p.is_file()]
    monkeypatch.chdir(tmp_path)
    assert sha256_files([*relative, labels]) != digest


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_the_temporary_folder_names_its_writer(tabular_experiment, monkeypatch):
    seen = []
    real = cache.write_json

    def spy(path, data):
        seen.append(Path(path).parent.name)
        real(path, data)

    monkeypatch.setattr(cache, "write_json", spy)
    done = preprocess(load_config(tabular_experiment))
    assert seen == [seen[0]]
    assert seen[0].startswith(f".{done.path.name}.{os.getpid()}@{runs._HOST}.")


def test_folders_of_killed_preprocesses_are_removed_by_the_next(tabular_experiment, workdir):
    config = load_config(tabular_experiment)
    name = f"tabular-{cache.fingerprint(config, cache.sha256_file(workdir / 'table.csv'))}"
    old = time.time() - 2 * 86400
    left = {
        f".{name}.{_dead_pid()}@{runs._HOST}.k2j4_5g6": None,  # killed on this machine
        f".demo-{'0' * 16}.ab_12xyz": old,  # an older dltrain's name, two days old
    }
    kept = {
        f".demo-{'1' * 16}.{os.getpid()}@{runs._HOST}.x1y2z3w4": None,  # being written now
        f".demo-{'2' * 16}.{_dead_pid()}@another-host.abcdefgh": None,  # another machine's
        f".demo-{'3' * 16}.cdefghij": None,  # an older dltrain's name, made just now
        ".not-a-cache-folder": old,
    }
    for folder, mtime in {**left, **kept}.items():
        (CACHE / folder).mkdir(parents=True)
        (CACHE / folder / "train-00000.npz").write_bytes(b"half")
        if mtime is not None:
            os.utime(CACHE / folder, (mtime, mtime))
    done = preprocess(config)
    assert cache_entries() == sorted([done.path.name, *kept])
