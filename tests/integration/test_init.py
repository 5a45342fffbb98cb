"""`dltrain init DATA` on every bundled dataset writes a commented config that trains."""

from __future__ import annotations

import pytest

from dltrain.config import load_config
from tests.conftest import REPO

QUICK = ["--set", "train.epochs=1", "--set", "train.sanity=false", "--set", "evaluate.bootstrap=10"]
BUNDLED = {
    "breast_cancer.csv": ("tabular", "diagnosis", "mlp"),
    "digits": ("images", "label", "cnn"),
    "shoulder_exercises": ("signals", "label", "cnn1d"),
    "ecg_mitdb208": ("signals", None, "autoencoder"),
    "icd9_diagnoses": ("text", "label", "gru"),
    "brain_patches": ("volumes", "label", "cnn3d"),
}


@pytest.mark.slow
@pytest.mark.parametrize("data", list(BUNDLED))
def test_init_writes_a_config_that_trains(workdir, cli, data):
    kind, target, architecture = BUNDLED[data]
    out = workdir / "starter.yaml"
    result = cli("init", REPO / "data" / data, "--out", out)
    assert result.exit_code == 0, result.output
    text = out.read_text()
    assert text.startswith("# Starter config written by `dltrain init`")
    config = load_config(out)  # valid as written
    assert (config.data.kind, config.data.target, config.model.architecture) == (
        kind,
        target,
        architecture,
    )
    result = cli("train", out, *QUICK)
    assert result.exit_code == 0, result.output
    assert "Run folder:" in result.output


def test_init_without_data_lists_the_examples_and_never_overwrites(workdir, cli, monkeypatch):
    monkeypatch.chdir(REPO)
    listed = cli("init")
    assert listed.exit_code == 0 and "configs/breast_cancer.yaml" in listed.output
    monkeypatch.chdir(workdir)
    (workdir / "breast_cancer.yaml").write_text("mine\n")
    refused = cli("init", REPO / "data" / "breast_cancer.csv")
    assert refused.exit_code == 2 and "--force" in refused.output
    assert (workdir / "breast_cancer.yaml").read_text() == "mine\n"
    bad = cli("init", REPO / "data" / "breast_cancer.csv", "--target", "diagnosys")
    assert bad.exit_code == 2 and "diagnosis" in bad.output
