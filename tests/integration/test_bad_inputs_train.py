"""A data error met by `train` (after the training code, and TensorFlow, are imported):
the same clear message, exit code and nothing written as `preprocess` gives
(tests/unit/test_bad_inputs.py has the rest, each refused before TensorFlow)."""

from __future__ import annotations

import pytest

from tests.conftest import BASIC_CONFIG, make_table, write_config
from tests.unit.test_bad_inputs import _check, _nothing_written

pytestmark = pytest.mark.slow


def test_unknown_target_column(workdir, cli):
    make_table().rename(columns={"outcome": "Outcome"}).to_csv(workdir / "table.csv", index=False)
    config = write_config(workdir, BASIC_CONFIG)
    _check(
        cli("train", config),
        2,
        "exp.yaml:6: data.target: column 'outcome' is not in the data",
        "Did you mean 'Outcome'?",
    )
    _nothing_written(workdir)
