"""A run trained on train+val (`tune.final: train+val`): how it was chosen (refit.json) and
the dataset it sees (one training split of train and val); no TensorFlow."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from dltrain.config import load_config
from dltrain.data.cache import preprocess
from dltrain.errors import ConfigError, RunError
from dltrain.training.refit import REFIT_JSON, Refit, read, train_and_val
from dltrain.tuning.outputs import refit_choice
from tests.conftest import BASIC_CONFIG, make_table, write_config

CHOSEN = Refit(
    epochs=7,
    chosen_by="trial 3 of study 'ecg'",
    epochs_from="its best validation epoch",
    threshold=0.42,
    operating_point={"rule": "youden", "chosen_on": "val", "value": 0.42},
)


def test_refit_json_round_trip_and_summary(tmp_path):
    CHOSEN.write(tmp_path)
    assert read(tmp_path) == CHOSEN
    assert read(tmp_path / "elsewhere") is None  # a run trained as configured
    assert CHOSEN.summary() == (
        "trained on train+val for 7 epochs chosen on validation by trial 3 of study 'ecg' "
        "(its best validation epoch); threshold 0.42 chosen on validation (youden)"
    )
    record = CHOSEN.as_json()
    assert record["trained_on"] == ["train", "val"] and record["epochs"] == 7
    assert record["val_metrics"].startswith("in-sample")
    one = Refit(1, "trial 0 of study 's'", "its best validation epoch")
    assert one.summary().startswith("trained on train+val for 1 epoch chosen")
    assert "threshold" not in one.summary()
    (tmp_path / REFIT_JSON).write_text('{"epochs": 3, "why": "edited"}')
    with pytest.raises(RunError, match="not what dltrain wrote"):
        read(tmp_path)


def test_train_and_val_is_one_training_split(workdir):
    make_table(n=90).to_csv(workdir / "table.csv", index=False)
    data = preprocess(load_config(write_config(workdir, BASIC_CONFIG)))
    both = train_and_val(data)
    split, merged = data.manifest["split"], both.manifest["split"]
    assert both.shards("train") == data.shards("train") + data.shards("val")
    assert both.shards("val") == data.shards("val") and both.shards("test") == data.shards("test")
    assert both.size("train") == data.size("train") + data.size("val")
    assert (
        merged["train"]["shard_sizes"]
        == split["train"]["shard_sizes"] + split["val"]["shard_sizes"]
    )
    counts = merged["train"]["class_counts"]
    assert counts == {
        c: n + split["val"]["class_counts"][c] for c, n in split["train"]["class_counts"].items()
    }
    assert merged["train"]["sha256"] not in (split["train"]["sha256"], split["val"]["sha256"])
    assert merged["val"] == split["val"] and merged["test"] == split["test"]
    assert both.manifest["trained_on"] == ["train", "val"]
    assert "trained_on" not in data.manifest  # the cache's own manifest is untouched
    assert len(both.split("train").y) == both.size("train")


def test_a_trial_without_best_epochs_cannot_be_retrained_on_train_val(workdir):
    make_table(n=90).to_csv(workdir / "table.csv", index=False)
    config = load_config(write_config(workdir, BASIC_CONFIG + "tune:\n  final: train+val\n"))
    old = SimpleNamespace(number=4, user_attrs={"runs": ["s-trial4"]})
    with pytest.raises(ConfigError, match="trial 4 of study 's' did not record its best epochs"):
        refit_choice(config, "s", old)
