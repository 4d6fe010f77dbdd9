"""Calibration of predicted probabilities: reliability curve and expected calibration error.

Cases are binned by predicted probability exactly as :func:`sklearn.calibration.calibration_curve`
bins them: ``uniform`` bins split [0, 1] into equal widths, ``quantile`` bins hold about equal
numbers of cases; a probability on an inner edge goes to the lower bin; empty bins are dropped.
The expected calibration error (ECE) is ``sum_b (n_b / n) * |fraction_positive_b -
mean_predicted_b|`` over the non-empty bins.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from fracturelab.errors import InputError
from fracturelab.evaluation._checks import check_labels, check_scores
from fracturelab.typing import Float64Array, IntArray

__all__ = [
    "BIN_STRATEGIES",
    "ReliabilityCurve",
    "expected_calibration_error",
    "reliability_curve",
]

#: Binning strategies accepted by :func:`reliability_curve`.
BIN_STRATEGIES = ("uniform", "quantile")


@dataclass(frozen=True)
class ReliabilityCurve:
    """Observed against predicted frequency of class 1, per non-empty bin.

    Args:
        mean_predicted: Mean predicted probability in each bin, shape ``(n_bins_used,)``.
        fraction_positive: Fraction of class 1 in each bin, same shape.
        counts: Number of cases in each bin, same shape (int64).
        edges: Bin edges in probability, shape ``(n_bins + 1,)``, empty bins included.
        strategy: ``"uniform"`` or ``"quantile"``.

    """

    mean_predicted: Float64Array
    fraction_positive: Float64Array
    counts: IntArray
    edges: Float64Array
    strategy: str

    @property
    def ece(self) -> float:
        """Expected calibration error: count-weighted mean |observed - predicted|."""
        gaps = np.abs(self.fraction_positive - self.mean_predicted)
        return float(np.sum(self.counts * gaps) / np.sum(self.counts))


def reliability_curve(
    y_true: Any, p: Any, n_bins: int = 10, strategy: str = "uniform"
) -> ReliabilityCurve:
    """Reliability (calibration) curve with the number of cases per bin.

    Args:
        y_true: 0/1 labels, shape ``(n,)``.
        p: Predicted probabilities of class 1, shape ``(n,)``, in [0, 1].
        n_bins: Number of bins, >= 1.
        strategy: One of :data:`BIN_STRATEGIES`.

    Returns:
        The curve; its ``ece`` property gives the expected calibration error.

    Raises:
        InputError: For invalid inputs, ``n_bins`` or ``strategy``.

    """
    from sklearn.calibration import calibration_curve

    if strategy not in BIN_STRATEGIES:
        raise InputError(
            f"strategy={strategy!r} is not known; allowed: {', '.join(BIN_STRATEGIES)}"
        )
    if int(n_bins) != n_bins or n_bins < 1:
        raise InputError(f"n_bins={n_bins!r} must be a positive integer")
    y = check_labels(y_true)
    probabilities = check_scores(p, "p", length=y.size)
    if strategy == "quantile":
        edges = np.percentile(probabilities, np.linspace(0.0, 100.0, int(n_bins) + 1))
    else:
        edges = np.linspace(0.0, 1.0, int(n_bins) + 1)
    bin_of = np.searchsorted(edges[1:-1], probabilities)
    counts = np.bincount(bin_of, minlength=int(n_bins))
    fraction, predicted = calibration_curve(
        y, probabilities, n_bins=int(n_bins), strategy=strategy, pos_label=1
    )
    used = counts[counts > 0]
    if used.size != len(fraction):  # guards the binning replicated above
        raise RuntimeError("reliability bins disagree with sklearn's calibration_curve")
    return ReliabilityCurve(
        mean_predicted=np.asarray(predicted, dtype=np.float64),
        fraction_positive=np.asarray(fraction, dtype=np.float64),
        counts=used.astype(np.int64),
        edges=np.asarray(edges, dtype=np.float64),
        strategy=strategy,
    )


def expected_calibration_error(
    y_true: Any, p: Any, n_bins: int = 10, strategy: str = "uniform"
) -> float:
    """Expected calibration error (ECE) in probability units, in [0, 1].

    Args:
        y_true: 0/1 labels, shape ``(n,)``.
        p: Predicted probabilities of class 1, shape ``(n,)``, in [0, 1].
        n_bins: Number of bins, >= 1.
        strategy: One of :data:`BIN_STRATEGIES`.

    Returns:
        ``sum_b (n_b / n) * |fraction_positive_b - mean_predicted_b|``.

    Raises:
        InputError: For invalid inputs, ``n_bins`` or ``strategy``.

    """
    return reliability_curve(y_true, p, n_bins=n_bins, strategy=strategy).ece
