"""Model files are loaded in Keras safe mode: a model carrying code is refused."""

from __future__ import annotations

import pytest

from tests.conftest import BASIC_CONFIG, make_table, write_config

pytestmark = pytest.mark.slow


def _as_recorded(run_dir) -> None:
    """Records the replaced model's checksum, as if the run had written it."""
    from dltrain import records

    records.record(run_dir, "model.keras")


def test_model_with_a_lambda_layer_is_refused(workdir, cli):
    make_table(n=60).to_csv(workdir / "table.csv", index=False)
    config = write_config(workdir, BASIC_CONFIG)
    assert cli("train", config, "--set", "train.sanity=false").exit_code == 0
    import keras

    inp = keras.Input((7,))
    out = keras.layers.Lambda(lambda x: x[:, :1] * 0 + 1.0)(inp)  # would run arbitrary code
    keras.Model(inp, out).save(workdir / "runs/demo-1/model.keras")
    result = cli("predict", "demo-1", workdir / "table.csv", "--out", workdir / "p.csv")
    assert result.exit_code == 4 and "model.keras is damaged" in result.output  # not its file
    _as_recorded(workdir / "runs/demo-1")  # even a file whose checksum matches is refused
    result = cli("predict", "demo-1", workdir / "table.csv", "--out", workdir / "p.csv")
    assert result.exit_code == 4, result.output
    assert "contains code (a Lambda layer) and is refused" in result.output
    assert not (workdir / "p.csv").exists()


def test_model_with_a_tfsm_layer_is_refused_under_its_own_name(workdir, cli):
    make_table(n=60).to_csv(workdir / "table.csv", index=False)
    config = write_config(workdir, BASIC_CONFIG)
    assert cli("train", config, "--set", "train.sanity=false").exit_code == 0
    import keras

    inp = keras.Input((7,))
    keras.Model(inp, keras.layers.Dense(1)(inp)).export(workdir / "saved", verbose=False)
    layer = keras.layers.TFSMLayer(str(workdir / "saved"), call_endpoint="serve")  # runs its graph
    inp = keras.Input((7,))
    keras.Model(inp, layer(inp)).save(workdir / "runs/demo-1/model.keras")
    _as_recorded(workdir / "runs/demo-1")
    result = cli("predict", "demo-1", workdir / "table.csv", "--out", workdir / "p.csv")
    assert result.exit_code == 4, result.output
    assert "contains a TFSMLayer (it loads an external SavedModel, which can run code)" in (
        " ".join(result.output.split())
    )
    assert "Lambda" not in result.output
    assert not (workdir / "p.csv").exists()
