"""Cohen's kappa of two readers: on ordinal grades (weighted) and on a yes/no call.

Two-reader statistics use the items both readers rated; the others are dropped and counted
in ``n_dropped``. The order of ``labels`` is the ordinal scale used by the weights: label
``i`` and label ``j`` disagree by ``|i - j|`` (linear) or ``(i - j)^2`` (quadratic). A kappa
whose chance-expected disagreement is zero (e.g. both readers gave every item the same grade)
is 0/0: it is returned as NaN with the reason in ``undefined_reason`` instead of raising, so
a summary over many reader pairs still completes.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from fracturelab.errors import InputError
from fracturelab.evaluation._checks import check_same_length
from fracturelab.evaluation.ratings import (
    GENANT_GRADES,
    MISSING,
    check_rating_labels,
    rating_codes,
    show_labels,
)
from fracturelab.typing import IntArray

__all__ = [
    "KAPPA_WEIGHTS",
    "MIN_COMMON_ITEMS",
    "BinaryAgreement",
    "PairAgreement",
    "binary_agreement",
    "kappa_of_common",
    "weighted_kappa",
]

#: Weightings accepted by :func:`weighted_kappa` (``None`` is unweighted Cohen's kappa).
KAPPA_WEIGHTS: tuple[str | None, ...] = ("quadratic", "linear", None)


#: Fewest items both readers must have rated for a kappa.
MIN_COMMON_ITEMS = 2

_CONSTANT_READERS = "both readers gave every common item the same single rating"


@dataclass(frozen=True)
class PairAgreement:
    """Cohen's kappa between two readers on the items both rated.

    Args:
        kappa: Cohen's kappa (weighted as requested), in [-1, 1]; NaN when undefined.
        n_items: Items rated by both readers (used).
        n_dropped: Items left out because at least one reader's rating is missing.
        observed_agreement: Fraction of used items with identical ratings, in [0, 1].
        undefined_reason: Why ``kappa`` is NaN, or ``None`` when it is defined.

    """

    kappa: float
    n_items: int
    n_dropped: int
    observed_agreement: float
    undefined_reason: str | None = None


@dataclass(frozen=True)
class BinaryAgreement:
    """Agreement of two readers on fractured (positive) against not fractured (negative).

    Counts refer to the items both readers rated; ``only_a`` counts items reader a called
    positive and reader b negative.

    Args:
        n_items: Items rated by both readers (used).
        n_dropped: Items left out because at least one reader's rating is missing.
        both_positive: Items both called positive.
        both_negative: Items both called negative.
        only_a: Items only reader a called positive.
        only_b: Items only reader b called positive.
        observed_agreement: Percent agreement as a fraction, (both_positive +
            both_negative) / n_items.
        kappa: Unweighted Cohen's kappa; NaN when undefined.
        positive_agreement: Positive specific agreement 2a / (2a + b + c) with
            a = both_positive, b = only_a, c = only_b; NaN when no item is called positive.
        negative_agreement: Negative specific agreement 2d / (2d + b + c) with
            d = both_negative; NaN when no item is called negative.
        undefined_reason: Why ``kappa`` is NaN, or ``None`` when it is defined.

    """

    n_items: int
    n_dropped: int
    both_positive: int
    both_negative: int
    only_a: int
    only_b: int
    observed_agreement: float
    kappa: float
    positive_agreement: float
    negative_agreement: float
    undefined_reason: str | None = None


def weighted_kappa(
    grades_a: Sequence[Any],
    grades_b: Sequence[Any],
    weights: str | None = "quadratic",
    labels: Sequence[Hashable] = GENANT_GRADES,
) -> PairAgreement:
    """Cohen's (weighted) kappa of two readers, computed by scikit-learn.

    Kappa is ``1 - sum(w * O) / sum(w * E)`` with ``O`` the observed confusion table of the
    common items, ``E`` the table expected from the two readers' marginals and ``w`` the
    disagreement weights ``(i - j)^2`` (quadratic), ``|i - j|`` (linear) or ``i != j``
    (``None``), ``i`` and ``j`` being positions in ``labels`` (Cohen 1968). When ``sum(w * E)``
    is 0, which happens exactly when both readers gave every common item the same single
    label, kappa is 0/0 and NaN is returned with ``undefined_reason`` set.

    Args:
        grades_a: Ratings of reader a, shape ``(n,)``: values of ``labels`` or ``None``/NaN
            for missing ("not assessable").
        grades_b: Ratings of reader b on the same items, shape ``(n,)``.
        weights: One of :data:`KAPPA_WEIGHTS`.
        labels: The allowed ratings in ordinal order, at least 2, distinct.

    Returns:
        Kappa, the numbers of used and dropped items and the observed agreement.

    Raises:
        InputError: For an unknown weighting, invalid labels, a length mismatch, a rating
            outside ``labels`` or fewer than 2 items rated by both readers.

    """
    allowed = check_rating_labels(labels)
    scheme = _check_weights(weights)
    a = rating_codes(grades_a, allowed, "grades_a")
    b = rating_codes(grades_b, allowed, "grades_b")
    check_same_length(("grades_a", a.size), ("grades_b", b.size))
    return _pair_agreement(a, b, len(allowed), scheme, "grades_a and grades_b")


def binary_agreement(
    grades_a: Sequence[Any],
    grades_b: Sequence[Any],
    labels: Sequence[Hashable] = GENANT_GRADES,
    positive_from: Hashable = 1,
) -> BinaryAgreement:
    """Agreement on fractured yes/no, a rating counting as positive from ``positive_from`` on.

    With the default Genant grades an item is fractured when its grade is >= 1. Positive and
    negative specific agreement follow Cicchetti & Feinstein (1990): ``2a / (2a + b + c)``
    and ``2d / (2d + b + c)``. Kappa is unweighted Cohen's kappa (scikit-learn), NaN with a
    reason when both readers call every common item alike.

    Args:
        grades_a: Ratings of reader a, shape ``(n,)``: values of ``labels`` or ``None``/NaN.
        grades_b: Ratings of reader b on the same items, shape ``(n,)``.
        labels: The allowed ratings in ordinal order.
        positive_from: The lowest label that counts as positive; every label after it in
            ``labels`` is positive too.

    Returns:
        The 2x2 counts, percent agreement, kappa and specific agreements.

    Raises:
        InputError: For invalid labels or ``positive_from``, a length mismatch, a rating
            outside ``labels`` or fewer than 2 items rated by both readers.

    """
    allowed = check_rating_labels(labels)
    if positive_from not in allowed:
        raise InputError(
            f"positive_from={positive_from!r} is not a label; allowed: {show_labels(allowed)}"
        )
    cut = allowed.index(positive_from)
    a = rating_codes(grades_a, allowed, "grades_a")
    b = rating_codes(grades_b, allowed, "grades_b")
    check_same_length(("grades_a", a.size), ("grades_b", b.size))
    both = (a != MISSING) & (b != MISSING)
    _check_common(int(both.sum()), a.size, "grades_a and grades_b")
    pos_a = (a[both] >= cut).astype(np.int64)
    pos_b = (b[both] >= cut).astype(np.int64)
    pair = _pair_agreement(pos_a, pos_b, 2, None, "grades_a and grades_b")
    both_positive = int(np.sum((pos_a == 1) & (pos_b == 1)))
    both_negative = int(np.sum((pos_a == 0) & (pos_b == 0)))
    only_a = int(np.sum((pos_a == 1) & (pos_b == 0)))
    only_b = int(np.sum((pos_a == 0) & (pos_b == 1)))
    discordant = only_a + only_b
    return BinaryAgreement(
        n_items=pair.n_items,
        n_dropped=a.size - pair.n_items,
        both_positive=both_positive,
        both_negative=both_negative,
        only_a=only_a,
        only_b=only_b,
        observed_agreement=pair.observed_agreement,
        kappa=pair.kappa,
        positive_agreement=_ratio(2 * both_positive, 2 * both_positive + discordant),
        negative_agreement=_ratio(2 * both_negative, 2 * both_negative + discordant),
        undefined_reason=pair.undefined_reason,
    )


def kappa_of_common(
    a: IntArray, b: IntArray, n_total: int, n_labels: int, weights: str | None, names: str
) -> PairAgreement:
    """Cohen's kappa (scikit-learn) of the codes of the items both readers rated.

    Args:
        a: IntArray (positions in the labels) of reader a on the common items, shape ``(m,)``.
        b: IntArray of reader b on the same items, shape ``(m,)``.
        n_total: Items before the missing ones were dropped (``n_dropped = n_total - m``).
        n_labels: Number of labels (codes run from 0 to ``n_labels - 1``).
        weights: One of :data:`KAPPA_WEIGHTS`.
        names: The two readers or arguments, for the message.

    Raises:
        InputError: Fewer than :data:`MIN_COMMON_ITEMS` common items.

    """
    from sklearn.metrics import cohen_kappa_score

    n_items = int(a.size)
    _check_common(n_items, n_total, names)
    observed = float(np.mean(a == b))
    n_dropped = int(n_total - n_items)
    if np.unique(np.concatenate([a, b])).size == 1:
        return PairAgreement(math.nan, n_items, n_dropped, observed, _CONSTANT_READERS)
    kappa = float(cohen_kappa_score(a, b, labels=list(range(n_labels)), weights=weights))
    return PairAgreement(kappa, n_items, n_dropped, observed)


def _pair_agreement(
    a: IntArray, b: IntArray, n_labels: int, weights: str | None, names: str
) -> PairAgreement:
    both = (a != MISSING) & (b != MISSING)
    return kappa_of_common(a[both], b[both], int(a.size), n_labels, weights, names)


def _check_weights(weights: str | None) -> str | None:
    if weights not in KAPPA_WEIGHTS:
        raise InputError(f"weights={weights!r} is not known; allowed: quadratic, linear, None")
    return weights


def _check_common(n_items: int, n: int, names: str) -> None:
    if n_items < MIN_COMMON_ITEMS:
        raise InputError(
            f"{names} have {n_items} of {n} items rated by both; need at least {MIN_COMMON_ITEMS}"
        )


def _ratio(numerator: int, denominator: int) -> float:
    return numerator / denominator if denominator else math.nan
