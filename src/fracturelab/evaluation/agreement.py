"""Agreement between readers of a labelling workstation: grades, fracture calls and centres.

Conventions:

* A rating is one of the allowed ``labels`` (by default the Genant grades 0-3) or missing
  (``None`` or NaN: the reader marked the item "not assessable" or skipped it).
* The order of ``labels`` is the ordinal scale used by the weights: label ``i`` and label
  ``j`` disagree by ``|i - j|`` (linear) or ``(i - j)^2`` (quadratic).
* Two-reader statistics use the items both readers rated; the others are dropped and
  counted in ``n_dropped``.
* A kappa whose chance-expected disagreement is zero (e.g. both readers gave every item
  the same grade) is 0/0: it is returned as NaN with the reason in ``undefined_reason``
  instead of raising, so a summary over many reader pairs still completes.
* Points are ``(x, y)`` in pixels and spacing is ``(x, y)`` in mm per pixel, as in
  :mod:`fracturelab.evaluation.localisation` (the reverse of DICOM PixelSpacing).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from fracturelab.errors import InputError
from fracturelab.evaluation._checks import check_same_length

__all__ = [
    "GENANT_GRADES",
    "KAPPA_WEIGHTS",
    "AgreementSummary",
    "BinaryAgreement",
    "CenterDistances",
    "FleissKappa",
    "PairAgreement",
    "binary_agreement",
    "center_distances_mm",
    "fleiss_kappa",
    "pairwise_summary",
    "weighted_kappa",
]

#: Genant semi-quantitative grades: 0 normal, 1 mild, 2 moderate, 3 severe.
GENANT_GRADES: tuple[int, ...] = (0, 1, 2, 3)

#: Weightings accepted by :func:`weighted_kappa` (``None`` is unweighted Cohen's kappa).
KAPPA_WEIGHTS: tuple[str | None, ...] = ("quadratic", "linear", None)

Floats = npt.NDArray[np.float64]
Codes = npt.NDArray[np.int64]

#: Code of a missing rating in the integer arrays used internally.
_MISSING = -1

_CONSTANT_READERS = "both readers gave every common item the same single rating"
_CONSTANT_CATEGORY = "every rating falls in one category, so chance agreement is 1"


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


@dataclass(frozen=True)
class FleissKappa:
    """Fleiss' kappa of several readers, overall and per category.

    Args:
        kappa: Fleiss' kappa; NaN when undefined (all ratings in one category).
        n_items: Items with at least 2 ratings (used).
        n_dropped: Items with fewer than 2 ratings (left out).
        n_ratings: Ratings on the used items.
        observed_agreement: ``1 - D_o``; for a constant number of ratings per item this is
            Fleiss' mean pairwise agreement P-bar.
        expected_agreement: ``sum_j p_j^2``, Fleiss' chance agreement P-bar-e.
        per_category: Category -> kappa of that category against all others (NaN when the
            category is used for no rating or for every rating), in the order of
            ``categories``.
        undefined_reason: Why ``kappa`` is NaN, or ``None`` when it is defined.

    """

    kappa: float
    n_items: int
    n_dropped: int
    n_ratings: int
    observed_agreement: float
    expected_agreement: float
    per_category: dict[Hashable, float]
    undefined_reason: str | None = None


@dataclass(frozen=True)
class AgreementSummary:
    """Agreement of every pair of readers and, for more than two readers, Fleiss' kappa.

    Args:
        readers: Reader names in the order given.
        pairs: ``(reader_a, reader_b)`` -> their agreement, for every pair in reader order.
        mean_kappa: Mean of the pairwise kappas that are defined (NaN pairs left out; NaN
            when none is defined). With unweighted kappas this is Light's kappa.
        fleiss: Fleiss' kappa over all readers (unweighted), or ``None`` for two readers.

    """

    readers: tuple[str, ...]
    pairs: dict[tuple[str, str], PairAgreement]
    mean_kappa: float
    fleiss: FleissKappa | None


@dataclass(frozen=True)
class CenterDistances:
    """Distances between two readers' fracture centres on the same images.

    Args:
        mm: Distance in mm per image, shape ``(n,)``; NaN where a reader marked no centre
            or the spacing is unknown.
        n_items: Images with a finite distance.
        n_dropped: Images with a NaN distance.
        median_mm: Median of the finite distances (NaN when there is none).
        iqr_mm: ``(25th, 75th)`` percentiles of the finite distances (NaN when none).

    """

    mm: Floats
    n_items: int
    n_dropped: int
    median_mm: float
    iqr_mm: tuple[float, float]


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
    allowed = _check_labels(labels)
    scheme = _check_weights(weights)
    a = _codes(grades_a, allowed, "grades_a")
    b = _codes(grades_b, allowed, "grades_b")
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
    allowed = _check_labels(labels)
    if positive_from not in allowed:
        raise InputError(
            f"positive_from={positive_from!r} is not a label; allowed: {_show(allowed)}"
        )
    cut = allowed.index(positive_from)
    a = _codes(grades_a, allowed, "grades_a")
    b = _codes(grades_b, allowed, "grades_b")
    check_same_length(("grades_a", a.size), ("grades_b", b.size))
    both = (a != _MISSING) & (b != _MISSING)
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


def fleiss_kappa(ratings: Any, categories: Sequence[Hashable] = GENANT_GRADES) -> FleissKappa:
    """Fleiss' kappa of several readers, allowing a varying number of ratings per item.

    Let item ``i`` (of the ``N`` items with at least 2 ratings) have ``n_i`` ratings of which
    ``x_ij`` fall in category ``j``; ``n_bar = sum_i n_i / N`` and
    ``p_j = sum_i x_ij / (N n_bar)``. Following Fleiss, Levin & Paik (2003), *Statistical
    Methods for Rates and Proportions*, 3rd ed., ch. 18 (unequal numbers of ratings per
    subject)::

        D_o     = sum_i sum_j x_ij (n_i - x_ij) / n_i / (N (n_bar - 1))
        D_e     = sum_j p_j (1 - p_j)
        kappa   = 1 - D_o / D_e
        kappa_j = 1 - sum_i x_ij (n_i - x_ij) / n_i / (N (n_bar - 1) p_j (1 - p_j))

    so that ``kappa = sum_j p_j q_j kappa_j / sum_j p_j q_j``. When every item has the same
    number of ratings this is exactly Fleiss (1971), ``(P_bar - P_e) / (1 - P_e)``, and with
    two ratings per item it equals Scott's pi. Items with fewer than 2 ratings carry no
    information on agreement and are dropped. The categories are nominal: the order of
    ``categories`` does not matter.

    Args:
        ratings: Ratings, shape ``(items, readers)``: values of ``categories`` or
            ``None``/NaN for missing.
        categories: The allowed ratings, at least 2, distinct.

    Returns:
        Kappa, per-category kappas, the observed and chance agreement and item counts.

    Raises:
        InputError: If ``ratings`` is not 2D with at least 2 readers, holds a value outside
            ``categories``, or fewer than 2 items have at least 2 ratings.

    """
    allowed = _check_labels(categories, "categories")
    table = _as_object_array(ratings, "ratings")
    if table.ndim != 2 or table.shape[1] < 2:
        raise InputError(
            f"ratings has shape {table.shape}; allowed: (items, readers) with >= 2 readers"
        )
    codes = _codes(table.ravel(), allowed, "ratings").reshape(table.shape)
    return _fleiss(codes, allowed)


def pairwise_summary(
    ratings_by_reader: Mapping[str, Sequence[Any]],
    weights: str | None = "quadratic",
    labels: Sequence[Hashable] = GENANT_GRADES,
) -> AgreementSummary:
    """Kappa of every pair of readers, their mean and, for > 2 readers, Fleiss' kappa.

    Pairwise kappas are :func:`weighted_kappa` on the items both readers of the pair rated.
    Fleiss' kappa (:func:`fleiss_kappa`) is nominal, i.e. unweighted, whatever ``weights``.

    Args:
        ratings_by_reader: Reader name -> ratings of the same ``n`` items, each of shape
            ``(n,)``: values of ``labels`` or ``None``/NaN for missing.
        weights: One of :data:`KAPPA_WEIGHTS`, for the pairwise kappas.
        labels: The allowed ratings in ordinal order.

    Returns:
        The per-pair agreements, their mean kappa and Fleiss' kappa.

    Raises:
        InputError: For fewer than 2 readers, unequal lengths, a rating outside ``labels``,
            or a pair of readers with fewer than 2 items rated by both.

    """
    allowed = _check_labels(labels)
    scheme = _check_weights(weights)
    readers = _check_readers(ratings_by_reader, "ratings_by_reader")
    codes = {r: _codes(ratings_by_reader[r], allowed, _entry(r)) for r in readers}
    check_same_length(*((_entry(r), codes[r].size) for r in readers))
    pairs = {
        (ra, rb): _pair_agreement(
            codes[ra], codes[rb], len(allowed), scheme, f"readers {ra!r} and {rb!r}"
        )
        for ra, rb in itertools.combinations(readers, 2)
    }
    kappas = np.array([p.kappa for p in pairs.values()])
    defined = kappas[np.isfinite(kappas)]
    fleiss = None
    if len(readers) > 2:
        fleiss = _fleiss(np.column_stack([codes[r] for r in readers]), allowed)
    return AgreementSummary(
        readers=readers,
        pairs=pairs,
        mean_kappa=float(defined.mean()) if defined.size else math.nan,
        fleiss=fleiss,
    )


def center_distances_mm(
    centers_by_reader: Mapping[str, Any], spacing_xy_mm: Any
) -> dict[tuple[str, str], CenterDistances]:
    """Distances in mm between every pair of readers' fracture centres on the same images.

    The distance is ``sqrt((dx * spacing_x)^2 + (dy * spacing_y)^2)``, so anisotropic
    pixels are handled. It is NaN where either reader marked no centre (a row of NaN) or
    the image's spacing is unknown (a row of NaN in ``spacing_xy_mm``); those images are
    left out of the median and interquartile range.

    Args:
        centers_by_reader: Reader name -> centres ``(x, y)`` in pixels, shape ``(n, 2)``,
            a row of NaN where the reader marked no fracture.
        spacing_xy_mm: Pixel spacing ``(x, y)`` in mm per pixel: shape ``(2,)`` for all
            images or ``(n, 2)`` per image (a row of NaN where unknown).

    Returns:
        ``(reader_a, reader_b)`` -> their distances and summary, for every pair in reader
        order.

    Raises:
        InputError: For fewer than 2 readers, shapes other than ``(n, 2)``, infinite or
            half-missing coordinates, or a spacing that is <= 0, infinite or half-missing.

    """
    readers = _check_readers(centers_by_reader, "centers_by_reader")
    centers = {r: _centres(centers_by_reader[r], _entry(r, "centers_by_reader")) for r in readers}
    check_same_length(*((_entry(r, "centers_by_reader"), centers[r].shape[0]) for r in readers))
    n = centers[readers[0]].shape[0]
    spacing = _spacing(spacing_xy_mm, n)
    result: dict[tuple[str, str], CenterDistances] = {}
    for ra, rb in itertools.combinations(readers, 2):
        scaled = (centers[ra] - centers[rb]) * spacing
        mm = np.hypot(scaled[:, 0], scaled[:, 1])
        finite = mm[np.isfinite(mm)]
        if finite.size:
            q25, q50, q75 = (float(v) for v in np.percentile(finite, [25.0, 50.0, 75.0]))
        else:
            q25 = q50 = q75 = math.nan
        result[(ra, rb)] = CenterDistances(
            mm=mm,
            n_items=int(finite.size),
            n_dropped=int(n - finite.size),
            median_mm=q50,
            iqr_mm=(q25, q75),
        )
    return result


def _pair_agreement(
    a: Codes, b: Codes, n_labels: int, weights: str | None, names: str
) -> PairAgreement:
    from sklearn.metrics import cohen_kappa_score

    both = (a != _MISSING) & (b != _MISSING)
    n_items = int(both.sum())
    _check_common(n_items, a.size, names)
    ca, cb = a[both], b[both]
    observed = float(np.mean(ca == cb))
    n_dropped = int(a.size - n_items)
    if np.unique(np.concatenate([ca, cb])).size == 1:
        return PairAgreement(math.nan, n_items, n_dropped, observed, _CONSTANT_READERS)
    kappa = float(cohen_kappa_score(ca, cb, labels=list(range(n_labels)), weights=weights))
    return PairAgreement(kappa, n_items, n_dropped, observed)


def _fleiss(codes: Codes, categories: tuple[Hashable, ...]) -> FleissKappa:
    k = len(categories)
    rated = codes != _MISSING
    per_item = rated.sum(axis=1)
    used = per_item >= 2
    n_items = int(used.sum())
    if n_items < 2:
        raise InputError(
            f"ratings has {n_items} of {codes.shape[0]} items with >= 2 ratings; need at least 2"
        )
    # x[i, j]: ratings of used item i in category j.
    x = np.stack([(codes[used] == j).sum(axis=1) for j in range(k)], axis=1).astype(np.float64)
    n_i = per_item[used].astype(np.float64)
    n_ratings = float(n_i.sum())
    n_bar = n_ratings / n_items
    p = x.sum(axis=0) / n_ratings
    pq = p * (1.0 - p)
    disagreement = (x * (n_i[:, None] - x) / n_i[:, None]).sum(axis=0) / (n_items * (n_bar - 1))
    with np.errstate(divide="ignore", invalid="ignore"):
        per_category = np.where(pq > 0, 1.0 - disagreement / pq, math.nan)
    chance = float(pq.sum())
    reason = None
    if chance > 0:
        kappa = 1.0 - float(disagreement.sum()) / chance
    else:
        kappa, reason = math.nan, _CONSTANT_CATEGORY
    return FleissKappa(
        kappa=kappa,
        n_items=n_items,
        n_dropped=int(codes.shape[0] - n_items),
        n_ratings=int(n_ratings),
        observed_agreement=1.0 - float(disagreement.sum()),
        expected_agreement=float(np.sum(p**2)),
        per_category={c: float(v) for c, v in zip(categories, per_category, strict=True)},
        undefined_reason=reason,
    )


def _codes(values: Any, labels: tuple[Hashable, ...], name: str) -> Codes:
    """Positions of ``values`` in ``labels``, ``_MISSING`` for None/NaN; shape ``(n,)``."""
    array = _as_object_array(values, name)
    if array.ndim != 1:
        raise InputError(f"{name} must be a 1D sequence of ratings; got shape {array.shape}")
    index = {label: i for i, label in enumerate(labels)}
    codes = np.full(array.size, _MISSING, dtype=np.int64)
    bad: list[Any] = []
    for k, value in enumerate(array.tolist()):
        if _is_missing(value):
            continue
        try:
            codes[k] = index[value]
        except (KeyError, TypeError):
            if value not in bad:
                bad.append(value)
    if bad:
        shown = ", ".join(repr(v) for v in bad[:5])
        raise InputError(
            f"{name} has values [{shown}]; allowed: {_show(labels)}, or None/NaN for missing"
        )
    return codes


def _as_object_array(values: Any, name: str) -> npt.NDArray[np.object_]:
    if isinstance(values, str | bytes):
        raise InputError(f"{name} is a string; allowed: a sequence of ratings")
    try:
        return np.asarray(values, dtype=object)
    except ValueError:
        raise InputError(f"{name} is ragged; allowed: rows of equal length") from None


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float | np.floating) and math.isnan(value))


def _check_labels(labels: Sequence[Hashable], name: str = "labels") -> tuple[Hashable, ...]:
    allowed = tuple(labels)
    if len(allowed) < 2 or len(set(allowed)) != len(allowed) or any(map(_is_missing, allowed)):
        raise InputError(
            f"{name}={allowed!r} is not allowed; need at least 2 distinct, non-missing values"
        )
    return allowed


def _check_weights(weights: str | None) -> str | None:
    if weights not in KAPPA_WEIGHTS:
        raise InputError(f"weights={weights!r} is not known; allowed: quadratic, linear, None")
    return weights


def _check_common(n_items: int, n: int, names: str) -> None:
    if n_items < 2:
        raise InputError(f"{names} have {n_items} of {n} items rated by both; need at least 2")


def _check_readers(by_reader: Mapping[str, Any], name: str) -> tuple[str, ...]:
    readers = tuple(by_reader)
    if len(readers) < 2:
        raise InputError(f"{name} has readers {list(readers)}; need at least 2")
    return readers


def _entry(reader: str, mapping: str = "ratings_by_reader") -> str:
    return f"{mapping}[{reader!r}]"


def _centres(points: Any, name: str) -> Floats:
    try:
        array = np.asarray(points, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError(f"{name} must hold numbers; got {type(points).__name__}") from None
    if array.ndim != 2 or array.shape[1] != 2 or array.shape[0] == 0:
        raise InputError(f"{name} has shape {array.shape}; allowed: (n, 2) points (x, y) in px")
    nan = np.isnan(array)
    if np.isinf(array).any() or np.any(nan[:, 0] != nan[:, 1]):
        raise InputError(
            f"{name} has infinite or half-missing points; allowed: finite (x, y) in px, or a "
            "row of NaN where no centre was marked"
        )
    return array


def _spacing(spacing_xy_mm: Any, n: int) -> Floats:
    try:
        spacing = np.asarray(spacing_xy_mm, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError(
            f"spacing_xy_mm must hold numbers; got {type(spacing_xy_mm).__name__}"
        ) from None
    if spacing.shape not in ((2,), (n, 2)):
        raise InputError(f"spacing_xy_mm has shape {spacing.shape}; allowed: (2,) or ({n}, 2)")
    spacing = np.broadcast_to(spacing, (n, 2))
    nan = np.isnan(spacing)
    known = spacing[~nan]
    if known.size and (known.min() <= 0 or not np.isfinite(known).all()):
        raise InputError(
            f"spacing_xy_mm has values in [{known.min():g}, {known.max():g}]; allowed: "
            "positive finite mm per pixel, or NaN for both x and y where unknown"
        )
    if np.any(nan[:, 0] != nan[:, 1]):
        raise InputError(
            "spacing_xy_mm has rows with one NaN; allowed: two positive numbers (x, y) per "
            "image, or NaN for both where unknown"
        )
    return spacing


def _show(labels: tuple[Hashable, ...]) -> str:
    return ", ".join(repr(v) for v in labels)


def _ratio(numerator: int, denominator: int) -> float:
    return numerator / denominator if denominator else math.nan
