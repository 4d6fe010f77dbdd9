"""Binary classification metrics (AFF = 1 against NFF = 0), thresholds and patient aggregation.

Conventions used throughout :mod:`fracturelab.evaluation`:

* labels are 0/1 with 1 the positive class (atypical femur fracture, AFF);
* a case is called positive when its probability is ``>= threshold``;
* the AUC counts a tied positive/negative pair as one half (Mann-Whitney), as
  :func:`sklearn.metrics.roc_auc_score` and DeLong's method do.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from fracturelab.errors import InputError
from fracturelab.evaluation._checks import (
    check_fraction,
    check_labels,
    check_same_length,
    check_scores,
    check_two_classes,
)
from fracturelab.typing import Float64Array, IntArray

__all__ = [
    "THRESHOLD_RULES",
    "aggregate_by_patient",
    "binary_metrics",
    "choose_threshold",
    "roc_auc",
]

#: Rules accepted by :func:`choose_threshold`.
THRESHOLD_RULES = ("youden", "f1")


def roc_auc(y_true: Any, p: Any) -> float:
    """Area under the ROC curve; ties between a positive and a negative count one half.

    Args:
        y_true: 0/1 labels, shape ``(n,)``.
        p: Scores, shape ``(n,)``: probabilities or any finite real score where higher means
            more likely positive.

    Returns:
        The AUC in [0, 1].

    Raises:
        InputError: If the inputs do not match, are not finite, or hold one class only.

    """
    from sklearn.metrics import roc_auc_score

    y = check_labels(y_true)
    scores = check_scores(p, "p", length=y.size, probabilities=False)
    check_two_classes(y)
    return float(roc_auc_score(y, scores))


def binary_metrics(y_true: Any, p: Any, threshold: float = 0.5) -> dict[str, float]:
    """Confusion-matrix metrics at one threshold, plus the Brier score and the AUC.

    Quantities whose denominator is zero (e.g. sensitivity without positives, PPV when no
    case is called positive) are NaN rather than an error, so subgroups can be reported.

    Args:
        y_true: 0/1 labels, shape ``(n,)``.
        p: Predicted probabilities of class 1, shape ``(n,)``, in [0, 1].
        threshold: Cases with ``p >= threshold`` are called positive; in [0, 1].

    Returns:
        ``n``, ``n_positive``, ``n_negative``, ``tp``, ``fp``, ``tn``, ``fn`` (counts, as
        floats), ``threshold``, ``sensitivity`` (recall, TP/(TP+FN)), ``specificity``
        (TN/(TN+FP)), ``balanced_accuracy`` (their mean), ``ppv`` (precision, TP/(TP+FP)),
        ``npv`` (TN/(TN+FN)), ``f1`` (2TP/(2TP+FP+FN)), ``accuracy``, ``brier`` (mean squared
        difference between ``p`` and the label) and ``auc`` (NaN with one class only).

    Raises:
        InputError: If the inputs do not match, ``p`` is not a probability or ``threshold``
            is outside [0, 1].

    """
    from sklearn.metrics import confusion_matrix, f1_score

    y = check_labels(y_true)
    probabilities = check_scores(p, "p", length=y.size)
    cut = check_fraction(threshold, "threshold", closed=True)
    predicted = (probabilities >= cut).astype(np.int64)
    tn, fp, fn, tp = (int(v) for v in confusion_matrix(y, predicted, labels=[0, 1]).ravel())
    sensitivity = _ratio(tp, tp + fn)
    specificity = _ratio(tn, tn + fp)
    n_positive = int(y.sum())
    return {
        "n": float(y.size),
        "n_positive": float(n_positive),
        "n_negative": float(y.size - n_positive),
        "tp": float(tp),
        "fp": float(fp),
        "tn": float(tn),
        "fn": float(fn),
        "threshold": cut,
        "sensitivity": sensitivity,
        "specificity": specificity,
        "balanced_accuracy": (sensitivity + specificity) / 2.0,
        "ppv": _ratio(tp, tp + fp),
        "npv": _ratio(tn, tn + fn),
        "f1": float(f1_score(y, predicted, labels=[0, 1], zero_division=np.nan)),
        "accuracy": (tp + tn) / y.size,
        "brier": float(np.mean((probabilities - y) ** 2)),
        "auc": roc_auc(y, probabilities) if 0 < n_positive < y.size else float("nan"),
    }


def choose_threshold(y_true: Any, p: Any, rule: str = "youden") -> float:
    """Choose a decision threshold from VALIDATION predictions (never from the test set).

    Every distinct probability ``u_i`` (sorted, ``u_0 = 0``) defines an interval
    ``(u_{i-1}, u_i]`` of thresholds that classify all cases alike. The criterion is evaluated
    on each interval and the threshold returned is the midpoint of the best interval, so it
    lies half-way between the scores it separates (e.g. 0.5 for negatives at 0.3 and
    positives at 0.7). When several intervals tie, the middle one in score order is taken
    (the lower of the two middle ones for an even count).

    Rules:
        ``"youden"``: maximise Youden's J = sensitivity + specificity - 1.
        ``"f1"``: maximise F1 = 2TP / (2TP + FP + FN).

    Args:
        y_true: 0/1 labels of the validation cases, shape ``(n,)``; both classes needed.
        p: Predicted probabilities of class 1, shape ``(n,)``, in [0, 1].
        rule: One of :data:`THRESHOLD_RULES`.

    Returns:
        The threshold in [0, 1]; use it as ``p >= threshold`` on the test set.

    Raises:
        InputError: For an unknown rule, mismatched or invalid inputs, or one class only.

    """
    if rule not in THRESHOLD_RULES:
        raise InputError(f"rule={rule!r} is not known; allowed: {', '.join(THRESHOLD_RULES)}")
    y = check_labels(y_true)
    probabilities = check_scores(p, "p", length=y.size)
    check_two_classes(y, purpose="choosing a threshold")
    values = np.unique(probabilities)  # ascending u_1 < ... < u_k
    order = np.argsort(probabilities, kind="stable")
    ranks = np.searchsorted(values, probabilities[order])
    pos_at = np.bincount(ranks, weights=y[order].astype(np.float64), minlength=values.size)
    all_at = np.bincount(ranks, minlength=values.size).astype(np.float64)
    # Threshold u_i calls every case with p >= u_i positive: reverse cumulative sums.
    tp = np.cumsum(pos_at[::-1])[::-1]
    fp = np.cumsum((all_at - pos_at)[::-1])[::-1]
    n_positive = float(y.sum())
    n_negative = float(y.size) - n_positive
    fn = n_positive - tp
    if rule == "youden":
        score = tp / n_positive + (n_negative - fp) / n_negative - 1.0
    else:
        score = 2.0 * tp / (2.0 * tp + fp + fn)
    best = np.flatnonzero(np.isclose(score, score.max(), rtol=0.0, atol=1e-12))
    index = int(best[(best.size - 1) // 2])
    lower = float(values[index - 1]) if index > 0 else 0.0
    return (lower + float(values[index])) / 2.0


def aggregate_by_patient(
    patient_ids: Any, y_true: Any, p: Any
) -> tuple[npt.NDArray[Any], IntArray, Float64Array]:
    """Combine image-level predictions into one prediction per patient.

    A patient's probability is the mean of its images' probabilities. A patient's label is
    the maximum of its images' labels: positive (AFF) if any of its images is positive, so a
    patient with one AFF side and one NFF side counts as an AFF patient.

    Args:
        patient_ids: Patient identifier of each image (strings or integers), shape ``(n,)``.
        y_true: 0/1 label of each image, shape ``(n,)``.
        p: Probability of class 1 of each image, shape ``(n,)``, in [0, 1].

    Returns:
        Sorted unique patient ids ``(n_patients,)``, patient labels ``(n_patients,)`` (int64)
        and mean patient probabilities ``(n_patients,)``.

    Raises:
        InputError: If lengths differ or labels/probabilities are invalid.

    """
    ids = np.asarray(patient_ids)
    if ids.ndim != 1:
        raise InputError(f"patient_ids must be a 1D array; got shape {ids.shape}")
    y = check_labels(y_true)
    probabilities = check_scores(p, "p", length=y.size)
    check_same_length(("y_true", y.size), ("patient_ids", ids.size))
    unique, inverse = np.unique(ids, return_inverse=True)
    counts = np.bincount(inverse, minlength=unique.size)
    mean_p = np.bincount(inverse, weights=probabilities, minlength=unique.size) / counts
    labels = np.zeros(unique.size, dtype=np.int64)
    np.maximum.at(labels, inverse, y)
    return unique, labels, mean_p


def _ratio(numerator: int, denominator: int) -> float:
    return numerator / denominator if denominator else float("nan")
