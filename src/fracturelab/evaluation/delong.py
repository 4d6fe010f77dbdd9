"""DeLong's test for two correlated ROC AUCs measured on the same cases.

DeLong, DeLong & Clarke-Pearson (1988), Biometrics 44:837-845, computed with the fast
midrank algorithm of Sun & Xu (2014), IEEE Signal Processing Letters 21:1389-1393.

For ``m`` positives ``X_i`` and ``n`` negatives ``Y_j`` of one predictor, with the kernel
``psi(x, y) = 1`` if ``x > y``, ``1/2`` if tied, else ``0``, the structural components are
``V10(X_i) = mean_j psi(X_i, Y_j)`` and ``V01(Y_j) = mean_i psi(X_i, Y_j)``; the AUC is their
mean and ``Cov(AUC_r, AUC_s) = S10[r, s] / m + S01[r, s] / n`` with ``S10``, ``S01`` the
sample covariances (ddof = 1) of the components across predictors. Midranks give the
components without the ``m * n`` pair loop, and handle ties exactly.

Numbers agree with R pROC (``roc.test(..., method="delong")``, ``var``, ``ci.auc``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from fracturelab.errors import InputError
from fracturelab.evaluation._checks import (
    check_fraction,
    check_labels,
    check_scores,
    check_two_classes,
)
from fracturelab.typing import Float64Array

__all__ = ["DeLongInterval", "DeLongResult", "delong_ci", "delong_covariance", "delong_test"]


@dataclass(frozen=True)
class DeLongResult:
    """DeLong's two-sided test of ``AUC_a = AUC_b`` on paired predictions.

    Args:
        auc_a: AUC of predictor a.
        auc_b: AUC of predictor b.
        difference: ``auc_a - auc_b``.
        se: Standard error of the difference.
        z: ``difference / se``; 0 when both are 0, +-inf when only ``se`` is 0.
        p_value: Two-sided p-value, ``2 * (1 - Phi(|z|))``; 1 for identical predictors.
        ci_difference: ``(low, high)`` Wald interval of the difference at ``confidence``.
        confidence: Confidence level of ``ci_difference``, e.g. 0.95.
        n_positive: Number of positive cases.
        n_negative: Number of negative cases.

    """

    auc_a: float
    auc_b: float
    difference: float
    se: float
    z: float
    p_value: float
    ci_difference: tuple[float, float]
    confidence: float
    n_positive: int
    n_negative: int


@dataclass(frozen=True)
class DeLongInterval:
    """One AUC with its DeLong variance and Wald confidence interval.

    Args:
        estimate: The AUC.
        variance: DeLong variance of the AUC.
        se: Its square root.
        low: Lower bound, ``estimate - z * se`` clipped to [0, 1].
        high: Upper bound, ``estimate + z * se`` clipped to [0, 1].
        confidence: Confidence level, e.g. 0.95.

    """

    estimate: float
    variance: float
    se: float
    low: float
    high: float
    confidence: float


def delong_covariance(y_true: Any, scores: Any) -> tuple[Float64Array, Float64Array]:
    """AUCs of several predictors on the same cases and their DeLong covariance matrix.

    Args:
        y_true: 0/1 labels, shape ``(n,)``; at least two cases of each class.
        scores: Scores, shape ``(k, n)`` (or ``(n,)`` for one predictor); any finite real,
            higher meaning more likely positive.

    Returns:
        AUCs ``(k,)`` and covariance matrix ``(k, k)``.

    Raises:
        InputError: If shapes or values are invalid or only one class is present.

    """
    from scipy.stats import rankdata

    y = check_labels(y_true)
    check_two_classes(y)
    n_positive = int(y.sum())
    if min(n_positive, y.size - n_positive) < 2:
        raise InputError(
            f"y_true has {n_positive} positives and {y.size - n_positive} negatives; "
            "DeLong's variance needs at least 2 of each"
        )
    matrix = np.atleast_2d(np.asarray(scores))
    if matrix.ndim != 2:
        raise InputError(f"scores must have shape (k, n); got {matrix.shape}")
    rows = np.stack(
        [check_scores(row, f"scores[{i}]", length=y.size, probabilities=False)
         for i, row in enumerate(matrix)]
    )  # fmt: skip
    positives, negatives = rows[:, y == 1], rows[:, y == 0]
    m, n = positives.shape[1], negatives.shape[1]
    rank_all = rankdata(rows, axis=1)  # midranks over all cases
    rank_pos = rankdata(positives, axis=1)
    rank_neg = rankdata(negatives, axis=1)
    # Negatives below (ties halved) each positive, and positives above each negative.
    v10 = (rank_all[:, y == 1] - rank_pos) / n
    v01 = 1.0 - (rank_all[:, y == 0] - rank_neg) / m
    aucs = v10.mean(axis=1)
    covariance = _cov(v10) / m + _cov(v01) / n
    return aucs, covariance


def delong_test(y_true: Any, p_a: Any, p_b: Any, confidence: float = 0.95) -> DeLongResult:
    """Two-sided DeLong test comparing the AUCs of two predictors on the same cases.

    Args:
        y_true: 0/1 labels, shape ``(n,)``; at least two cases of each class.
        p_a: Scores of predictor a (e.g. the patch classifier), shape ``(n,)``.
        p_b: Scores of predictor b (e.g. the downsampling baseline), shape ``(n,)``.
        confidence: Level of the interval of the difference, in (0, 1).

    Returns:
        AUCs, their difference with standard error, z, p-value and confidence interval.

    Raises:
        InputError: If inputs are invalid, of different lengths, or hold one class only.

    """
    from scipy.stats import norm

    level = check_fraction(confidence, "confidence")
    y = check_labels(y_true)
    a = check_scores(p_a, "p_a", length=y.size, probabilities=False)
    b = check_scores(p_b, "p_b", length=y.size, probabilities=False)
    aucs, cov = delong_covariance(y, np.stack([a, b]))
    difference = float(aucs[0] - aucs[1])
    variance = max(float(cov[0, 0] + cov[1, 1] - 2.0 * cov[0, 1]), 0.0)
    se = math.sqrt(variance)
    if se > 0.0:
        z = difference / se
    else:
        z = 0.0 if difference == 0.0 else math.copysign(math.inf, difference)
    p_value = float(min(1.0, 2.0 * norm.sf(abs(z))))
    half = float(norm.ppf(0.5 + level / 2.0)) * se
    ci = (max(-1.0, difference - half), min(1.0, difference + half))
    n_positive = int(y.sum())
    return DeLongResult(
        auc_a=float(aucs[0]),
        auc_b=float(aucs[1]),
        difference=difference,
        se=se,
        z=float(z),
        p_value=p_value,
        ci_difference=ci,
        confidence=level,
        n_positive=n_positive,
        n_negative=y.size - n_positive,
    )


def delong_ci(y_true: Any, p: Any, confidence: float = 0.95) -> DeLongInterval:
    """DeLong variance and Wald confidence interval of one AUC (pROC's ``ci.auc`` default).

    Args:
        y_true: 0/1 labels, shape ``(n,)``; at least two cases of each class.
        p: Scores, shape ``(n,)``.
        confidence: Confidence level in (0, 1).

    Returns:
        The AUC, its variance and standard error, and the interval clipped to [0, 1].

    Raises:
        InputError: If inputs are invalid or hold one class only.

    """
    from scipy.stats import norm

    level = check_fraction(confidence, "confidence")
    y = check_labels(y_true)
    scores = check_scores(p, "p", length=y.size, probabilities=False)
    aucs, cov = delong_covariance(y, scores[None, :])
    estimate, variance = float(aucs[0]), max(float(cov[0, 0]), 0.0)
    se = math.sqrt(variance)
    half = float(norm.ppf(0.5 + level / 2.0)) * se
    return DeLongInterval(
        estimate=estimate,
        variance=variance,
        se=se,
        low=max(0.0, estimate - half),
        high=min(1.0, estimate + half),
        confidence=level,
    )


def _cov(components: Float64Array) -> Float64Array:
    """Covariance (ddof = 1) between the rows of ``(k, cases)``, shape ``(k, k)``."""
    return np.atleast_2d(np.cov(components, ddof=1))
