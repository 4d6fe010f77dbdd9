"""Percentile bootstrap confidence intervals that resample whole patients (cluster bootstrap).

Images of one patient are correlated (both femurs, repeat views), so resampling images as if
independent makes intervals too narrow. Here each resample draws as many groups as there are,
with replacement, and keeps every image of each drawn group (non-stratified: the number of
positives varies between resamples). Resamples that contain one class only cannot give an
AUC; they are skipped and counted in ``n_failed``.

The AUC is computed for blocks of resamples at once as a weighted Mann-Whitney statistic
(each image weighted by how often its group was drawn); other statistics are called once per
resample on the resampled cases.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from fracturelab.errors import InputError
from fracturelab.evaluation._checks import (
    check_fraction,
    check_labels,
    check_same_length,
    check_scores,
)
from fracturelab.evaluation.classification import roc_auc
from fracturelab.typing import Float64Array, IntArray

__all__ = ["ConfidenceInterval", "bootstrap_ci"]


#: Resamples drawn and evaluated together (bounds memory to ``_BLOCK * n`` floats).
_BLOCK = 256


@dataclass(frozen=True)
class ConfidenceInterval:
    """A statistic with its percentile bootstrap interval.

    Args:
        estimate: The statistic on the full data.
        low: Lower percentile ``(1 - confidence) / 2`` of the resampled statistics.
        high: Upper percentile ``(1 + confidence) / 2``.
        n_resamples: Resamples drawn.
        n_failed: Resamples skipped (one class only, or a NaN statistic).
        confidence: Confidence level, e.g. 0.95.

    """

    estimate: float
    low: float
    high: float
    n_resamples: int
    n_failed: int
    confidence: float = 0.95


def bootstrap_ci(
    y_true: Any,
    p: Any,
    groups: Any = None,
    statistic: Callable[[Any, Any], float] = roc_auc,
    n_resamples: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> ConfidenceInterval:
    """Percentile confidence interval of ``statistic(y_true, p)`` by cluster bootstrap.

    Args:
        y_true: 0/1 labels, shape ``(n,)``.
        p: Scores or probabilities, shape ``(n,)``, finite.
        groups: Group (patient) id of each case, shape ``(n,)``; ``None`` treats every case
            as its own group (ordinary bootstrap).
        statistic: Function of ``(y_true, p)`` returning a float; :func:`roc_auc` (the
            default) is computed vectorised.
        n_resamples: Number of resamples, >= 1.
        confidence: Confidence level in (0, 1).
        seed: Seed of the random generator; equal seeds give equal intervals.

    Returns:
        The estimate on all data and the interval from the successful resamples.

    Raises:
        InputError: For invalid arguments, or when every resample failed.

    """
    level = check_fraction(confidence, "confidence")
    if int(n_resamples) != n_resamples or n_resamples < 1:
        raise InputError(f"n_resamples={n_resamples!r} must be a positive integer")
    y = check_labels(y_true)
    scores = check_scores(p, "p", length=y.size, probabilities=False)
    if groups is None:
        group_of = np.arange(y.size)
    else:
        ids = np.asarray(groups)
        if ids.ndim != 1:
            raise InputError(f"groups must be a 1D array of group ids; got shape {ids.shape}")
        check_same_length(("y_true", y.size), ("groups", ids.size))
        group_of = np.unique(ids, return_inverse=True)[1].ravel()
    n_groups = int(group_of.max()) + 1
    estimate = float(statistic(y, scores))
    blocks = _draw_blocks(np.random.default_rng(seed), n_groups, int(n_resamples))
    if statistic is roc_auc:
        values = np.concatenate([_resampled_auc(y, scores, group_of, b) for b in blocks])
    else:
        values = np.concatenate(
            [_resampled_generic(y, scores, group_of, b, statistic) for b in blocks]
        )
    good = values[np.isfinite(values)]
    if good.size == 0:
        raise InputError(
            f"all {n_resamples} bootstrap resamples failed (one class only or NaN statistic); "
            "y_true needs more cases of each class"
        )
    low, high = np.quantile(good, [(1.0 - level) / 2.0, (1.0 + level) / 2.0])
    return ConfidenceInterval(
        estimate=estimate,
        low=float(low),
        high=float(high),
        n_resamples=int(n_resamples),
        n_failed=int(values.size - good.size),
        confidence=level,
    )


def _draw_blocks(rng: np.random.Generator, n_groups: int, n_resamples: int) -> Iterator[IntArray]:
    """How often each group is drawn, in blocks of resamples ``(<= _BLOCK, n_groups)``.

    Drawing ``n_groups`` groups with replacement is a multinomial with equal probabilities.
    """
    pvals = np.full(n_groups, 1.0 / n_groups)
    for start in range(0, n_resamples, _BLOCK):
        size = min(_BLOCK, n_resamples - start)
        yield rng.multinomial(n_groups, pvals, size=size).astype(np.int64)


def _resampled_auc(
    y: IntArray, scores: Float64Array, group_of: IntArray, draws: IntArray
) -> Float64Array:
    """AUC of each resample in ``draws`` (NaN for one class only), shape ``(len(draws),)``."""
    order = np.argsort(scores, kind="stable")
    sorted_scores = scores[order]
    starts = np.flatnonzero(np.r_[True, sorted_scores[1:] != sorted_scores[:-1]])
    # Each image counts as often as its group was drawn; sum those weights per distinct score.
    weights = draws[:, group_of[order]].astype(np.float64)  # (block, n)
    positive = y[order] == 1
    pos = np.add.reduceat(np.where(positive, weights, 0.0), starts, axis=1)  # (block, levels)
    neg = np.add.reduceat(np.where(positive, 0.0, weights), starts, axis=1)
    below = np.cumsum(neg, axis=1) - neg  # negative weight strictly below each score
    pairs = np.sum(pos * (below + 0.5 * neg), axis=1)
    total = pos.sum(axis=1) * neg.sum(axis=1)
    values = np.full(draws.shape[0], np.nan)
    np.divide(pairs, total, out=values, where=total > 0)
    return values


def _resampled_generic(
    y: IntArray,
    scores: Float64Array,
    group_of: IntArray,
    draws: IntArray,
    statistic: Callable[[Any, Any], float],
) -> Float64Array:
    """``statistic`` on each resample (NaN for one class only), shape ``(len(draws),)``."""
    n_groups = draws.shape[1]
    members = np.argsort(group_of, kind="stable")
    starts = np.searchsorted(group_of[members], np.arange(n_groups + 1))
    values = np.full(draws.shape[0], np.nan)
    for b, counts in enumerate(draws):
        index = np.concatenate(
            [np.tile(members[starts[g] : starts[g + 1]], counts[g]) for g in np.flatnonzero(counts)]
        )
        labels = y[index]
        n_positive = int(labels.sum())
        if 0 < n_positive < labels.size:
            values[b] = float(statistic(labels, scores[index]))
    return values
