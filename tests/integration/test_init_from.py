"""`train.init_from`: a run starts from an earlier run's weights (all layers or the
backbone/encoder only); mismatches are listed layer by layer."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest

from tests.conftest import BASIC_CONFIG, make_table, write_config
from tests.integration.test_kinds import make_signals
from tests.integration.test_pretrained import resume_from_first_epoch

QUIET = ["--set", "train.sanity=false", "--set", "evaluate.bootstrap=20"]


def _weights(run):
    import keras

    return keras.saving.load_model(run / "model.keras", safe_mode=True).get_weights()


@pytest.mark.slow
def test_init_from_a_tabular_run(workdir, cli):
    make_table(n=90).to_csv(workdir / "table.csv", index=False)
    make_table(n=90, task="multiclass").to_csv(workdir / "three.csv", index=False)
    config = write_config(workdir, BASIC_CONFIG.replace("epochs: 2", "epochs: 1"))
    assert cli("train", config, *QUIET).exit_code == 0  # demo-1
    # Same architecture, a learning rate too small to move: the weights are demo-1's.
    still = ["--set", "train.optimizer.learning_rate=1e-9"]
    result = cli("train", config, *QUIET, *still, "--set", "train.init_from=demo-1")
    assert result.exit_code == 0, result.output
    record = json.loads((workdir / "runs/demo-2/init_from.json").read_text())
    assert record["run"] == "demo-1" and record["copied"] == ["dense_0", "output"]
    for a, b in zip(
        _weights(workdir / "runs/demo-1"), _weights(workdir / "runs/demo-2"), strict=True
    ):
        np.testing.assert_allclose(a, b, atol=1e-5)

    three = ["--set", "data.path=three.csv"]
    head = cli("train", config, *QUIET, *three, "--set", "train.init_from=demo-1")
    assert head.exit_code == 2
    assert "output: (8, 1) + (1,) in run demo-1, (8, 3) + (3,) here" in head.output
    assert "train.init_from.layers: backbone" in head.output and "nothing was copied" in head.output
    body = cli(
        "train", config, *QUIET, *three, "--set", "train.init_from={run: demo-1, layers: backbone}"
    )
    assert body.exit_code == 0, body.output
    run = sorted((workdir / "runs").glob("demo-*"), key=lambda p: int(p.name.split("-")[1]))[-1]
    assert json.loads((run / "init_from.json").read_text())["copied"] == ["dense_0"]

    wider = cli("train", config, *QUIET, "--set", "model.hidden_units=[6, 4]",
                "--set", "train.init_from=demo-1")  # fmt: skip
    assert wider.exit_code == 2
    assert "dense_0: (5, 8) + (8,) in run demo-1, (5, 6) + (6,) here" in wider.output
    assert "dense_1: not in run demo-1" in wider.output
    before = sorted(p.name for p in (workdir / "runs").iterdir())
    unknown = cli("train", config, *QUIET, "--set", "train.init_from=demo-99")
    assert unknown.exit_code == 2 and "no run 'demo-99'" in unknown.output
    assert sorted(p.name for p in (workdir / "runs").iterdir()) == before  # no run created
    bad = cli("train", config, *QUIET, "--set", "train.init_from=../demo-1")
    assert bad.exit_code == 2 and "init_from" in bad.output


@pytest.mark.slow
def test_encoder_of_an_autoencoder_frozen_then_fine_tuned_and_resumed(workdir, cli):
    make_signals(workdir, n=40, length=24)
    config = write_config(
        workdir,
        """
        name: ae
        data: {kind: signals, path: signals.npy, labels: labels.csv, target: null,
               split: {method: random}}
        model: {architecture: autoencoder, kind: conv, filters: [4], latent: 4}
        train: {epochs: 2, batch_size: 8, early_stopping: null}
        """,
    )
    assert cli("train", config, *QUIET).exit_code == 0  # ae-1
    reuse = [
        "--set",
        "train.init_from={run: ae-1, layers: backbone}",
        "--set",
        "train.fine_tune={frozen_epochs: 1, learning_rate: 0.0001}",
    ]
    result = cli("train", config, *QUIET, *reuse)
    assert result.exit_code == 0, result.output
    run = workdir / "runs/ae-2"
    copied = json.loads((run / "init_from.json").read_text())["copied"]
    assert copied and all(name.startswith("encoder_") for name in copied)
    assert (run / "history.csv").read_text().splitlines()[0].split(",").count("stage") == 1

    import keras

    source = keras.saving.load_model(workdir / "runs/ae-1/model.keras")
    source = source.get_layer("autoencoder").get_layer("encoder")
    model = keras.saving.load_model(run / "model.keras")
    position = {id(v): i for i, v in enumerate(model.variables)}
    data = (run / "checkpoints/state-000001-000000.npz").read_bytes()
    with np.load(io.BytesIO(data)) as f:
        after_stage_1 = [f[k] for k in sorted(f.files) if k.startswith("v")]
    encoder = model.get_layer("autoencoder").get_layer("encoder")
    for mine, theirs in zip(encoder.variables, source.variables, strict=True):
        if "seed_generator" not in mine.path:  # copied, then frozen through stage 1
            assert np.array_equal(after_stage_1[position[id(mine)]], theirs.numpy()), mine.path

    # dltrain resume continues exactly across the stage boundary
    resume_from_first_epoch(workdir, cli, "ae-2", "ae-3")
