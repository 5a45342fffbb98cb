"""DeLong's and McNemar's tests against published worked examples.

DeLong: pROC's own test suite (Robin et al., BMC Bioinformatics 2011;12:77),
tests/testthat/test-roc.test.R, "roc.test statistic and p are as expected with defaults":
on pROC's `aSAH` data (113 patients with aneurysmal subarachnoid haemorrhage, Turck et al.,
Intensive Care Med 2010;36:107; tests/data/asah.csv, see its provenance below),
roc.test(r.wfns, r.s100b) gives Z = 2.20898359144091, p = 0.0271757822291882 and the 95%
CI of the AUC difference 0.0104061769564846 to 0.174214419249478; roc.test(r.wfns, r.ndka)
Z = 2.79777591868904, p = 0.00514557970691098, CI 0.0634011709339876 to
0.3600405634833566; roc.test(r.ndka, r.s100b) Z = -1.39077002573558. pROC's documentation
prints the AUCs: s100b 0.7314, wfns 0.8237.

The CSV is pROC's data/aSAH.RData (github.com/xrobin/pROC) as text, the factors as their
labels; agreeing with pROC's statistics to 1e-12 is also the check that it is the same data.

McNemar:
- Agresti, An Introduction to Categorical Data Analysis (2nd ed., 2007, §8.1), presidential
  approval of 1600 people in two surveys: approve→disapprove 150, disapprove→approve 86;
  z = −4.17 without continuity correction (z² = 17.36). R's `mcnemar.test` documentation
  uses the same table ("Performance"), with continuity correction: McNemar's chi-squared
  = 16.818, p = 4.115e-05.
- Fagerland, Lydersen & Laake, BMC Med Res Methodol 2013;13:91 (Table 1, airway
  hyper-responsiveness before and after stem cell transplantation): discordant 1 and 7;
  exact conditional p = 0.070.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from dltrain.evaluation.paired_tests import delong, mcnemar, mcnemar_counts

ASAH = Path(__file__).resolve().parents[1] / "data" / "asah.csv"


@pytest.fixture(scope="module")
def asah():
    data = pd.read_csv(ASAH)
    assert len(data) == 113
    return (data["outcome"] == "Poor").to_numpy(), data


PROC_ROC_TEST = [  # (A, B, Z, p, CI) of roc.test(roc_B, roc_A)
    ("s100b", "wfns", 2.20898359144091, 0.0271757822291882, 0.0104061769564846, 0.174214419249478),
    ("ndka", "wfns", 2.79777591868904, 0.00514557970691098, 0.0634011709339876, 0.3600405634833566),
    ("s100b", "ndka", -1.39077002573558, None, None, None),
]  # fmt: skip


@pytest.mark.parametrize(("a", "b", "z", "p", "low", "high"), PROC_ROC_TEST)
def test_delong_reproduces_proc_roc_test_on_asah(asah, a, b, z, p, low, high):
    """pROC's roc.test(roc1, roc2) tests AUC1 − AUC2; ours tests B − A, so B is pROC's roc1."""
    y, data = asah
    got = delong(y, data[a].to_numpy(float), data[b].to_numpy(float))
    assert got["z"] == pytest.approx(z, abs=1e-12)
    if p is not None:
        assert got["p"] == pytest.approx(p, abs=1e-12)
        assert (got["low"], got["high"]) == pytest.approx((low, high), abs=1e-12)
    assert got["auc_a"] == pytest.approx(roc_auc_score(y, data[a]), abs=1e-12)
    assert got["auc_b"] == pytest.approx(roc_auc_score(y, data[b]), abs=1e-12)


def test_delong_auc_values_are_procs(asah):
    y, data = asah
    got = delong(y, data["s100b"].to_numpy(float), data["wfns"].to_numpy(float))
    assert round(got["auc_a"], 4) == 0.7314 and round(got["auc_b"], 4) == 0.8237


def test_delong_of_identical_curves_is_p_1_and_needs_both_classes(asah):
    y, data = asah
    same = delong(y, data["wfns"].to_numpy(float), data["wfns"].to_numpy(float))
    assert same["difference"] == 0 and same["p"] == 1.0 and same["z"] is None
    with pytest.raises(ValueError, match="positive and negative"):
        delong(np.ones(5), np.arange(5.0), np.arange(5.0))


def test_mcnemar_agresti_presidential_approval():
    """150 and 86 discordant: chi-square with continuity correction (R's mcnemar.test)."""
    got = mcnemar_counts(150, 86)
    assert got["method"] == "chi-square with continuity correction"
    assert got["statistic"] == pytest.approx(16.818, abs=5e-4)
    assert got["p"] == pytest.approx(4.115e-05, rel=1e-3)


def test_mcnemar_exact_for_few_discordant_pairs():
    """Fagerland et al. (2013): 1 and 7 discordant → exact conditional p = 0.070."""
    got = mcnemar_counts(1, 7)
    assert got["method"] == "exact binomial" and got["statistic"] is None
    assert got["p"] == pytest.approx(18 / 256)  # 2 × P(X ≤ 1), X ~ Bin(8, ½)
    assert round(got["p"], 3) == 0.070
    assert mcnemar_counts(0, 0)["p"] == 1.0
    assert mcnemar_counts(12, 12)["p"] == 1.0  # capped at 1


def test_mcnemar_counts_only_the_discordant_samples():
    right_a = np.array([1, 1, 1, 0, 0, 1, 0], dtype=bool)
    right_b = np.array([1, 0, 0, 1, 0, 1, 0], dtype=bool)
    got = mcnemar(right_a, right_b)
    assert (got["a_only"], got["b_only"]) == (2, 1)
