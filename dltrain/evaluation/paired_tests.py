"""The classic paired tests medical reviewers expect beside the paired bootstrap.

- DeLong's test for two correlated ROC curves (DeLong, DeLong & Clarke-Pearson, Biometrics
  1988;44:837), computed with the fast algorithm of Sun & Xu (IEEE Signal Processing
  Letters 2014;21:1389): each curve's placement values from midranks, their covariance
  across the two curves, and z = (AUC_B − AUC_A) / SE of the difference. Checked against
  pROC's `roc.test` on its `aSAH` data (tests/unit/test_paired_tests.py).
- McNemar's test of paired accuracy (McNemar, Psychometrika 1947;12:153): only the
  discordant samples count, n₁₀ (A right, B wrong) and n₀₁ (A wrong, B right). With fewer
  than 25 discordant samples, the exact binomial test (two-sided, p = 2·P(X ≤ min) for
  X ~ Bin(n₁₀ + n₀₁, ½), at most 1); otherwise the chi-square with continuity correction,
  (|n₁₀ − n₀₁| − 1)² / (n₁₀ + n₀₁), 1 degree of freedom. This is what statsmodels'
  `mcnemar` computes (exact or corrected); it is written here with scipy, which dltrain
  already depends on, rather than adding statsmodels (and patsy) for two formulas.

Both assume independent samples. With a group column (several samples per patient) they
ignore the clustering; the paired bootstrap, which resamples whole groups, does not.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

EXACT_BELOW = 25
"""McNemar: the exact binomial test when fewer discordant samples than this."""


def _midranks(x: np.ndarray) -> np.ndarray:
    """Ranks 1..n, tied values sharing the mean of their ranks."""
    return stats.rankdata(x, method="average")


def delong(y: np.ndarray, scores_a: np.ndarray, scores_b: np.ndarray, confidence=0.95) -> dict:
    """DeLong's test of AUC_B − AUC_A for two score vectors on the same samples.

    Args:
        y: 0/1 truth (1 = positive).
        scores_a, scores_b: each model's score (higher = more likely positive).
        confidence: coverage of the interval of the difference. Defaults to 0.95.

    Returns:
        {"auc_a", "auc_b", "difference", "se", "z", "p", "low", "high"}; z and p are None
        when the difference has no variance (identical curves: p = 1).

    Raises:
        ValueError: `y` lacks a positive or a negative sample.
    """
    y = np.asarray(y).astype(bool)
    m, n = int(y.sum()), int((~y).sum())
    if m == 0 or n == 0:
        raise ValueError("DeLong's test needs positive and negative samples")
    aucs, v10, v01 = [], [], []
    for s in (np.asarray(scores_a, dtype="float64"), np.asarray(scores_b, dtype="float64")):
        pos, neg = s[y], s[~y]
        tx, ty, tz = _midranks(pos), _midranks(neg), _midranks(np.concatenate([pos, neg]))
        aucs.append((tz[:m].sum() - m * (m + 1) / 2) / (m * n))
        v10.append((tz[:m] - tx) / n)  # each positive's share of negatives below it
        v01.append(1.0 - (tz[m:] - ty) / m)  # each negative's share of positives above it
    s10 = np.cov(np.vstack(v10)) if m > 1 else np.zeros((2, 2))
    s01 = np.cov(np.vstack(v01)) if n > 1 else np.zeros((2, 2))
    cov = s10 / m + s01 / n
    variance = max(float(cov[0, 0] + cov[1, 1] - 2 * cov[0, 1]), 0.0)
    difference = float(aucs[1] - aucs[0])
    se = float(np.sqrt(variance))
    half = float(stats.norm.ppf(0.5 + confidence / 2)) * se
    if se == 0:
        z, p = (None, 1.0) if difference == 0 else (None, None)
    else:
        z = difference / se
        p = float(2 * stats.norm.sf(abs(z)))
    return {
        "auc_a": float(aucs[0]),
        "auc_b": float(aucs[1]),
        "difference": difference,
        "se": se,
        "z": z,
        "p": p,
        "low": difference - half,
        "high": difference + half,
    }


def mcnemar(right_a: np.ndarray, right_b: np.ndarray) -> dict:
    """McNemar's test of paired accuracy from whether each model was right on each sample.

    Returns:
        {"a_only" (n₁₀: A right, B wrong), "b_only" (n₀₁), "method" ("exact binomial" or
        "chi-square with continuity correction"), "statistic" (chi-square; None for the
        exact test), "p"}.
    """
    right_a, right_b = np.asarray(right_a, dtype=bool), np.asarray(right_b, dtype=bool)
    a_only = int(np.sum(right_a & ~right_b))
    b_only = int(np.sum(~right_a & right_b))
    return {"a_only": a_only, "b_only": b_only, **mcnemar_counts(a_only, b_only)}


def mcnemar_counts(a_only: int, b_only: int) -> dict:
    """McNemar's test from the two discordant counts (see the module's docstring)."""
    discordant = a_only + b_only
    if discordant == 0:
        return {"method": "exact binomial", "statistic": None, "p": 1.0}
    if discordant < EXACT_BELOW:
        p = min(1.0, 2 * float(stats.binom.cdf(min(a_only, b_only), discordant, 0.5)))
        return {"method": "exact binomial", "statistic": None, "p": p}
    statistic = (abs(a_only - b_only) - 1) ** 2 / discordant
    return {
        "method": "chi-square with continuity correction",
        "statistic": float(statistic),
        "p": float(stats.chi2.sf(statistic, 1)),
    }
