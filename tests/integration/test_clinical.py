"""Clinical formats end to end through the CLI: DICOM images (with an external test set),
DICOM series and NIfTI as volumes, WFDB beats and EDF+ sleep epochs as signals. Each trains
a tiny model once (module fixture), then evaluates, predicts and exports; the run folders
and the cache hold none of the identifying header fields the files carry."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.clinical_files import (
    PHI,
    dicom_images,
    dicom_series,
    edf_set,
    nifti_set,
    patient_id,
    wfdb_set,
)
from tests.conftest import write_config

pytest.importorskip("pydicom")

TRAIN = "train: {epochs: 1, batch_size: 8, sanity: false}\nevaluate: {bootstrap: 20}\n"
CONFIGS = {
    "dcm": """
        name: dcm
        data: {kind: images, path: dcm, labels: dcm.csv, group: PatientID, size: [16, 16],
               split: {method: group, val: 0.25, test: 0.25}, dicom: {window: lung},
               external: {path: dcm_ext, labels: dcm_ext.csv}}
        model: {architecture: cnn, filters: [4]}
        """,
    "series": """
        name: series
        data: {kind: volumes, path: series, labels: series.csv, group: PatientID,
               dicom: {window: lung}, split: {method: stratified, val: 0.25, test: 0.25}}
        model: {architecture: cnn3d, filters: [4]}
        """,
    "nii": """
        name: nii
        data: {kind: volumes, path: nii, labels: nii.csv, spacing: [2.0, 1.5, 1.5],
               split: {method: stratified, val: 0.25, test: 0.25}}
        model: {architecture: cnn3d, filters: [4]}
        """,
    "ecg": """
        name: ecg
        data: {kind: signals, path: ecg, target: beat, group: record, channels: [MLII],
               rate: 200, segments: {by: annotations, before: 0.2, after: 0.3, keep: [N, V]},
               split: {method: group, val: 0.25, test: 0.25}}
        model: {architecture: cnn1d, filters: [4]}
        """,
    "edf": """
        name: edf
        data: {kind: signals, path: edf, labels: edf.csv, target: stage, group: patient,
               rate: 50, segments: {by: annotations},
               split: {method: column, column: split, val_fraction: 0.3}}
        model: {architecture: cnn1d, filters: [4]}
        """,
}


def _write_data(root: Path) -> None:
    pd.DataFrame(dicom_images(root / "dcm", 24), columns=["id", "label"]).to_csv(
        root / "dcm.csv", index=False
    )
    ext = dicom_images(root / "dcm_ext", 8, first_patient=50, seed=9)
    pd.DataFrame(ext, columns=["id", "label"]).to_csv(root / "dcm_ext.csv", index=False)
    rows = dicom_series(root / "series", 12)
    pd.DataFrame(rows, columns=["id", "label"]).to_csv(root / "series.csv", index=False)
    pd.DataFrame(nifti_set(root / "nii", 12), columns=["id", "label"]).to_csv(
        root / "nii.csv", index=False
    )
    wfdb_set(root / "ecg", 8)
    rows = edf_set(root / "edf", 10)
    pd.DataFrame(rows, columns=["id", "split"]).to_csv(root / "edf.csv", index=False)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Every format trained once: {name: run id}, in a folder with its own key."""
    from typer.testing import CliRunner

    from dltrain.cli import app

    root = tmp_path_factory.mktemp("clinical")
    mp = pytest.MonkeyPatch()
    mp.chdir(root)
    mp.setenv("DLTRAIN_RUNS", str(root / "runs"))
    mp.setenv("DLTRAIN_CACHE", str(root / "cache"))
    mp.setenv("DLTRAIN_PSEUDONYM_KEY", str(root / "secrets" / "pseudonym.key"))
    _write_data(root)
    runner = CliRunner()
    runs = {}
    for name, text in CONFIGS.items():
        config = write_config(root, textwrap.dedent(text) + TRAIN, f"{name}.yaml")
        result = runner.invoke(app, ["train", str(config)], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        runs[name] = f"{name}-1"
    yield root, runs
    mp.undo()


@pytest.mark.slow
@pytest.mark.parametrize("name", list(CONFIGS))
def test_each_format_evaluates_predicts_and_exports(trained, cli, name):
    root, runs = trained
    run = root / "runs" / runs[name]
    metrics = (run / "metrics.json").read_text()
    assert '"test"' in metrics
    data = {"dcm": "dcm_ext", "series": "series", "nii": "nii", "ecg": "ecg", "edf": "edf"}
    labels = {"dcm": "dcm_ext.csv", "series": "series.csv", "nii": "nii.csv", "edf": "edf.csv"}
    if name in labels:
        args = ["--data", root / data[name], "--labels", root / labels[name]]
        result = cli("evaluate", runs[name], *args)
        assert result.exit_code == 0, result.output
    out = root / f"{name}-pred.csv"
    result = cli("predict", runs[name], root / data[name], "--out", out)
    assert result.exit_code == 0, result.output
    assert len(pd.read_csv(out)) > 0
    result = cli("export", runs[name], "--format", "keras", "--out", root / f"{name}-export")
    assert result.exit_code == 0, result.output
    sidecar = (root / f"{name}-export" / "export.json").read_text()
    expected = {"dcm": "window center -600", "series": "window", "nii": "RAS+", "ecg": "200 Hz"}
    assert expected.get(name, "50 Hz") in sidecar


@pytest.mark.slow
def test_external_test_set_is_scored_once_and_reported_apart(trained):
    root, runs = trained
    import json

    run = root / "runs" / runs["dcm"]
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["n"]["external"] == 8
    assert "auc" in metrics["external"]["metrics"] or metrics["external"]["metrics"]
    assert (run / "predictions" / "external.csv").exists()
    assert "External test set" in (run / "report.html").read_text()


@pytest.mark.slow
def test_column_split_without_val_carves_validation_and_says_so(trained):
    root, runs = trained
    import json

    dataset = json.loads((root / "runs" / runs["edf"] / "dataset.json").read_text())
    assert dataset["split"]["val"]["rows"] > 0
    assert "validation is 30% of the train rows" in dataset["split"]["val_from"]


@pytest.mark.slow
@pytest.mark.parametrize("name", ["dcm", "series", "ecg", "edf"])
def test_no_patient_in_two_splits(trained, name):
    root, runs = trained
    groups = {}
    for split in ("train", "val", "test"):
        preds = root / "runs" / runs[name] / "predictions" / f"{split}.csv"
        if split == "train":
            run = root / "runs" / runs[name]
            cache = Path(json.loads((run / "dataset.json").read_text())["cache"])
            found = [np.load(p)["groups"] for p in cache.glob("train-*.npz")]
            groups[split] = set(np.concatenate(found).tolist())
        else:
            groups[split] = set(pd.read_csv(preds)["group"].astype(str))
    assert all(g.startswith("pid-") for g in groups["test"])
    assert not groups["train"] & groups["val"]
    assert not groups["train"] & groups["test"]
    assert not groups["val"] & groups["test"]


@pytest.mark.slow
def test_no_identifying_header_field_in_any_file_of_the_runs_or_the_cache(trained):
    root, _ = trained
    secrets = [*PHI.values(), *(patient_id(i) for i in range(260))]
    needles = [(s, enc) for s in secrets for enc in ("utf-8", "utf-32-le")]
    checked = 0
    for folder in (root / "runs", root / "cache"):
        for path in folder.rglob("*"):
            if not path.is_file():
                continue
            data = path.read_bytes()
            checked += 1
            for secret, encoding in needles:
                assert secret.encode(encoding) not in data, f"{secret!r} in {path}"
    assert checked > 50
