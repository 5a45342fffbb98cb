"""Clinical formats read as samples, and every bad input a clear error naming the file:
DICOM (images, series), NIfTI, WFDB, EDF; header groups, pseudonyms, the missing extra."""

from __future__ import annotations

import shutil
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest

from dltrain.config import load_config
from dltrain.errors import ConfigError, DataError
from dltrain.kinds import pseudonyms, read
from tests.clinical_files import (
    ct_pixels,
    dicom_images,
    dicom_series,
    dicom_slice,
    edf_set,
    nifti,
    nifti_set,
    wfdb_set,
)

pytest.importorskip("pydicom")


@pytest.fixture(autouse=True)
def key(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DLTRAIN_PSEUDONYM_KEY", str(tmp_path / "key" / "pseudonym.key"))


def config(tmp_path, data: str, model: str = "cnn"):
    path = tmp_path / "exp.yaml"
    path.write_text(textwrap.dedent(f"name: t\ndata: {data}\nmodel: {{architecture: {model}}}\n"))
    return load_config(path)


def labels(tmp_path, rows, name="labels.csv"):
    pd.DataFrame(rows, columns=["id", "label"]).to_csv(tmp_path / name, index=False)


def problems(exc) -> str:
    return exc.value.message + "\n" + "\n".join(exc.value.details)


def test_dicom_images_windowed_grouped_by_pseudonymised_patient(tmp_path):
    labels(tmp_path, dicom_images(tmp_path / "dcm", 6))
    samples = read(
        config(
            tmp_path,
            "{kind: images, path: dcm, labels: labels.csv, group: PatientID, size: [16, 16],"
            " dicom: {window: lung}}",
        )
    )
    assert samples.info["dicom"]["window"] == [-600.0, 1500.0]
    groups = samples.table["PatientID"].tolist()
    assert groups[0] == groups[1] != groups[2] and all(g.startswith("pid-") for g in groups)
    x = samples.load(np.arange(6))
    assert x.shape == (6, 16, 16, 1) and x.dtype == np.uint8


def test_dicom_without_suffix_is_found_by_its_preamble(tmp_path):
    rng = np.random.default_rng(0)
    for label in ("a", "b"):
        for i in range(2):
            dicom_slice(
                tmp_path / "dcm" / label / f"x{i}.dcm",
                ct_pixels(rng, 0),
                patient="P1",
                series="1.2",
                suffix=False,
            )
    (tmp_path / "dcm" / "a" / "notes.txt").write_text("not an image")
    samples = read(config(tmp_path, "{kind: images, path: dcm, size: [8, 8]}"))
    assert sorted(samples.table["id"]) == ["a/x0", "a/x1", "b/x0", "b/x1"]


def test_labels_keyed_by_sop_instance_uid(tmp_path):
    rng = np.random.default_rng(0)
    rows = []
    for i in range(4):
        uid = f"1.2.3.4.{i}"
        dicom_slice(
            tmp_path / "dcm" / f"f{i}.dcm", ct_pixels(rng, 0), patient="P", series="9", sop=uid
        )
        rows.append((uid, "ab"[i % 2]))
    labels(tmp_path, rows)
    cfg = "{kind: images, path: dcm, labels: labels.csv, size: [8, 8], dicom: {key: sop}}"
    samples = read(config(tmp_path, cfg))
    assert samples.table["label"].tolist() == ["a", "b", "a", "b"]
    labels(tmp_path, [*rows[:3], ("1.2.3.4.99", "a")])
    with pytest.raises(DataError) as exc:
        read(config(tmp_path, cfg))
    assert "f3.dcm: its SOPInstanceUID has no row" in problems(exc)
    assert "no file has this SOPInstanceUID" in problems(exc)


def test_dicom_without_pixel_data_is_refused_naming_the_file(tmp_path):
    rows = dicom_images(tmp_path / "dcm", 4)
    dicom_slice(
        tmp_path / "dcm" / "report.dcm",
        np.zeros((4, 4)),
        patient="P",
        series="1",
        with_pixels=False,
    )
    labels(tmp_path, [*rows, ("report.dcm", "clear")])
    with pytest.raises(DataError) as exc:
        read(config(tmp_path, "{kind: images, path: dcm, labels: labels.csv}"))
    assert "dcm/report.dcm (labels.csv:6): the DICOM file has no pixel data" in problems(exc)


def test_unsupported_transfer_syntax_names_the_decoder_to_install(tmp_path):
    from pydicom.data import get_testdata_file

    (tmp_path / "dcm" / "a").mkdir(parents=True)
    (tmp_path / "dcm" / "b").mkdir()
    shutil.copy(get_testdata_file("MR_small_jpeg_ls_lossless.dcm"), tmp_path / "dcm/a/jls.dcm")
    shutil.copy(get_testdata_file("MR_small.dcm"), tmp_path / "dcm/b/plain.dcm")
    try:
        import pylibjpeg  # noqa: F401

        pytest.skip("a JPEG-LS decoder is installed")
    except ImportError:
        pass
    with pytest.raises(DataError) as exc:
        read(config(tmp_path, "{kind: images, path: dcm}"))
    text = problems(exc)
    assert "jls.dcm: its pixel data is compressed as 'JPEG-LS Lossless" in text
    assert "pylibjpeg" in text and "plain.dcm" not in text


def test_a_header_field_named_in_group_that_a_file_lacks(tmp_path):
    rows = dicom_images(tmp_path / "dcm", 4)
    dicom_slice(
        tmp_path / "dcm" / "anon.dcm",
        ct_pixels(np.random.default_rng(0), 0),
        patient="",
        series="1",
    )
    labels(tmp_path, [*rows, ("anon.dcm", "clear")])
    with pytest.raises(DataError) as exc:
        read(config(tmp_path, "{kind: images, path: dcm, labels: labels.csv, group: PatientID}"))
    assert "dcm/anon.dcm (labels.csv:6): no PatientID" in problems(exc)


def test_dicom_series_ordered_by_position_into_volumes(tmp_path):
    labels(tmp_path, dicom_series(tmp_path / "ser", 4, slices=5))
    samples = read(config(tmp_path, "{kind: volumes, path: ser, labels: labels.csv}", "cnn3d"))
    assert samples.shape == (5, 16, 16, 1)
    assert samples.info["layout"] == "dicom series"


def test_series_with_mixed_shapes_or_a_missing_slice_is_refused(tmp_path):
    rows = dicom_series(tmp_path / "ser", 3, slices=5)
    (tmp_path / "ser" / "s01" / "2.dcm").unlink()  # a gap
    rng = np.random.default_rng(0)
    dicom_slice(
        tmp_path / "ser/s02/9.dcm",
        ct_pixels(rng, 0, size=12),
        patient="MRN00102",
        series="1.2.8.1.2",
        position=30.0,
    )
    labels(tmp_path, rows)
    with pytest.raises(DataError) as exc:
        read(config(tmp_path, "{kind: volumes, path: ser, labels: labels.csv}", "cnn3d"))
    text = problems(exc)
    assert "s01: a gap of 5 mm between 1.dcm and 3.dcm" in text and "a slice is missing" in text
    assert "s02: slices of different shapes (12x12, 16x16)" in text


def test_nifti_volumes_canonical_and_resampled(tmp_path):
    labels(tmp_path, nifti_set(tmp_path / "nii", 4))
    cfg = "{kind: volumes, path: nii, labels: labels.csv, spacing: [4.0, 1.0, 1.0]}"
    samples = read(config(tmp_path, cfg, "cnn3d"))
    assert samples.shape == (3, 6, 6, 1)
    assert samples.info["spacing"] == [4.0, 1.0, 1.0] and samples.table["id"][0] == "v00"


def test_nifti_with_nan_is_refused_naming_the_file(tmp_path):
    rows = nifti_set(tmp_path / "nii", 4)
    bad = np.zeros((6, 6, 6))
    bad[1, 2, 3] = np.nan
    nifti(tmp_path / "nii" / "broken.nii", bad)
    labels(tmp_path, [*rows, ("broken", "normal")])
    with pytest.raises(DataError) as exc:
        read(config(tmp_path, "{kind: volumes, path: nii, labels: labels.csv}", "cnn3d"))
    assert "broken.nii" in problems(exc) and "1 NaN value(s)" in problems(exc)


def test_wfdb_beats_and_a_record_without_its_dat(tmp_path):
    wfdb_set(tmp_path / "ecg", 3)
    cfg = (
        "{kind: signals, path: ecg, target: beat, group: record, channels: [V1], rate: 125,"
        " segments: {by: annotations, before: 0.2, after: 0.2}}"
    )
    samples = read(config(tmp_path, cfg, "cnn1d"))
    assert samples.shape == (50, 1) and set(samples.table["beat"]) <= {"N", "V"}
    (tmp_path / "ecg" / "rec01.dat").unlink()
    with pytest.raises(DataError) as exc:
        read(config(tmp_path, cfg, "cnn1d"))
    assert "rec01.hea: its signal file rec01.dat is missing" in problems(exc)


def test_wfdb_channel_not_in_the_record(tmp_path):
    wfdb_set(tmp_path / "ecg", 2)
    cfg = "{kind: signals, path: ecg, target: null, channels: [II]}"
    with pytest.raises(DataError) as exc:
        read(config(tmp_path, cfg, "cnn1d"))
    assert "rec00.hea: no channel 'II' (data.channels); its channels are MLII, V1" in problems(exc)


def test_edf_channels_of_different_rates_need_data_rate(tmp_path):
    edf_set(tmp_path / "edf", 2)
    cfg = "{kind: signals, path: edf, target: null}"
    with pytest.raises(DataError) as exc:
        read(config(tmp_path, cfg, "cnn1d"))
    assert (
        "night00.edf: its channels have different sampling rates (EEG Fpz-Cz 100 Hz, EOG 50 Hz)"
        in problems(exc)
    )
    samples = read(config(tmp_path, "{kind: signals, path: edf, target: null, rate: 50}", "cnn1d"))
    assert samples.shape == (120 * 50, 2)
    epochs = read(
        config(
            tmp_path,
            "{kind: signals, path: edf, target: stage, group: patient,"
            " channels: [EOG], segments: {by: annotations}}",
            "cnn1d",
        )
    )
    assert epochs.shape == (1500, 1) and len(epochs) == 8
    assert epochs.table["patient"].nunique() == 1


def test_a_missing_package_is_a_config_error_naming_the_extra(tmp_path, monkeypatch):
    labels(tmp_path, dicom_images(tmp_path / "dcm", 2))
    monkeypatch.setitem(sys.modules, "pydicom", None)
    with pytest.raises(ConfigError) as exc:
        read(config(tmp_path, "{kind: images, path: dcm, labels: labels.csv}"))
    assert "pip install 'dltrain[clinical]'" in exc.value.message
    assert exc.value.exit_code == 2


def test_pseudonyms_are_keyed_stable_and_can_be_turned_off(tmp_path, monkeypatch):
    first = pseudonyms.pseudonymised(["MRN1", "MRN1", "MRN2"], True)
    assert first[0] == first[1] != first[2] and "MRN" not in "".join(first)
    assert pseudonyms.key_path().stat().st_mode & 0o777 == 0o600
    assert pseudonyms.pseudonymised(["MRN1"], True) == first[:1]
    monkeypatch.setenv("DLTRAIN_PSEUDONYM_KEY", str(tmp_path / "other.key"))
    assert pseudonyms.pseudonymised(["MRN1"], True) != first[:1]
    assert pseudonyms.pseudonymised(["MRN1"], False) == ["MRN1"]


def test_preprocess_of_a_bad_dicom_exits_3_and_writes_nothing(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from dltrain.cli import app

    monkeypatch.setenv("DLTRAIN_CACHE", str(tmp_path / "cache"))
    rows = dicom_images(tmp_path / "dcm", 4)
    (tmp_path / "dcm" / "junk.dcm").write_bytes(b"\0" * 128 + b"DICM" + b"\x01" * 20)
    labels(tmp_path, [*rows, ("junk.dcm", "clear")])
    config(tmp_path, "{kind: images, path: dcm, labels: labels.csv}")
    result = CliRunner().invoke(app, ["preprocess", "exp.yaml"])
    assert result.exit_code == 3, result.output
    assert "junk.dcm" in result.output and "Traceback" not in result.output
    cache = tmp_path / "cache"
    assert not cache.exists() or not [p for p in cache.iterdir() if not p.name.startswith(".")]


def test_a_split_by_pseudonymised_patients_does_not_depend_on_the_key(tmp_path, monkeypatch):
    # the pseudonyms differ with the key; the split must not (the same data, config and
    # seed give every user the same test patients)
    from typer.testing import CliRunner

    from dltrain.cli import app

    labels(tmp_path, dicom_images(tmp_path / "dcm", 40))
    config(
        tmp_path,
        "{kind: images, path: dcm, labels: labels.csv, group: PatientID, size: [16, 16],"
        " split: {method: group, val: 0.25, test: 0.25}}",
    )
    splits = []
    for name in ("one", "two"):
        monkeypatch.setenv("DLTRAIN_PSEUDONYM_KEY", str(tmp_path / f"{name}.key"))
        monkeypatch.setenv("DLTRAIN_CACHE", str(tmp_path / f"cache-{name}"))
        result = CliRunner().invoke(app, ["preprocess", "exp.yaml"])
        assert result.exit_code == 0, result.output
        (folder,) = (tmp_path / f"cache-{name}").glob("images-*")
        found = {}
        for split in ("train", "val", "test"):
            shards = sorted(folder.glob(f"{split}-*.npz"))
            found[split] = sorted(i for p in shards for i in np.load(p)["ids"].tolist())
            groups = {g for p in shards for g in np.load(p)["groups"].tolist()}
            found[split + " groups"] = groups
        splits.append(found)
    one, two = splits
    assert all(one[s] == two[s] for s in ("train", "val", "test"))
    assert not one["test groups"] & two["test groups"]  # the pseudonyms themselves differ
