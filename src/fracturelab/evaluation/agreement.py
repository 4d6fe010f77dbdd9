"""Agreement between readers of a labelling workstation: grades, fracture calls and centres.

Conventions:

* A rating is one of the allowed ``labels`` (by default the Genant grades 0-3) or missing
  (``None`` or NaN: the reader marked the item "not assessable" or skipped it); see
  :mod:`fracturelab.evaluation.ratings`.
* The order of ``labels`` is the ordinal scale used by the weights: label ``i`` and label
  ``j`` disagree by ``|i - j|`` (linear) or ``(i - j)^2`` (quadratic).
* Two-reader statistics use the items both readers rated (:func:`reader_pairs`, the one
  loop over pairs of readers); the others are dropped and counted in ``n_dropped``. The
  kappas themselves live in :mod:`~fracturelab.evaluation.kappa` and
  :mod:`~fracturelab.evaluation.fleiss`.
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

from fracturelab.errors import InputError
from fracturelab.evaluation._checks import check_same_length
from fracturelab.evaluation.fleiss import FleissKappa, fleiss_from_codes
from fracturelab.evaluation.kappa import (
    KAPPA_WEIGHTS,
    PairAgreement,
    kappa_of_common,
)
from fracturelab.evaluation.ratings import (
    GENANT_GRADES,
    MISSING,
    check_rating_labels,
    is_missing,
    rating_codes,
)
from fracturelab.typing import Float64Array

__all__ = [
    "AgreementSummary",
    "CenterDistances",
    "ReaderPair",
    "center_distances_mm",
    "pairwise_summary",
    "reader_pairs",
]


@dataclass(frozen=True)
class ReaderPair:
    """Two readers and what both rated.

    Args:
        reader_a: The reader named first.
        reader_b: The reader named second.
        items: The items both rated (missing ratings left out), sorted.
        ratings_a: Reader a's ratings of ``items``, in the same order.
        ratings_b: Reader b's ratings of ``items``.

    """

    reader_a: str
    reader_b: str
    items: tuple[Hashable, ...]
    ratings_a: tuple[Any, ...]
    ratings_b: tuple[Any, ...]


def reader_pairs(ratings_by_reader: Mapping[str, Mapping[Any, Any]]) -> list[ReaderPair]:
    """Every pair of readers, in reader order, with the items both rated.

    This is the one loop over pairs of readers that the agreement statistics (and the
    workstation's agreement report) use.

    Args:
        ratings_by_reader: Reader name -> item -> rating. A rating that is ``None`` or NaN
            counts as not given. Items must be sortable (names, tuples of names, indices).

    Returns:
        One :class:`ReaderPair` per pair, in the order of ``itertools.combinations`` over the
        readers; a pair with no common item has empty ``items``.

    """
    rated = {
        reader: {item: value for item, value in ratings.items() if not is_missing(value)}
        for reader, ratings in ratings_by_reader.items()
    }
    pairs = []
    for a, b in itertools.combinations(rated, 2):
        items = tuple(sorted(rated[a].keys() & rated[b].keys()))
        pairs.append(
            ReaderPair(
                a,
                b,
                items,
                tuple(rated[a][item] for item in items),
                tuple(rated[b][item] for item in items),
            )
        )
    return pairs


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

    mm: Float64Array
    n_items: int
    n_dropped: int
    median_mm: float
    iqr_mm: tuple[float, float]


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
    allowed = check_rating_labels(labels)
    scheme = _check_weights(weights)
    readers = _check_readers(ratings_by_reader, "ratings_by_reader")
    codes = {r: rating_codes(ratings_by_reader[r], allowed, _entry(r)) for r in readers}
    check_same_length(*((_entry(r), codes[r].size) for r in readers))
    n = codes[readers[0]].size
    given = {r: {i: c for i, c in enumerate(codes[r].tolist()) if c != MISSING} for r in readers}
    pairs = {
        (pair.reader_a, pair.reader_b): kappa_of_common(
            np.array(pair.ratings_a, dtype=np.int64),
            np.array(pair.ratings_b, dtype=np.int64),
            n,
            len(allowed),
            scheme,
            f"readers {pair.reader_a!r} and {pair.reader_b!r}",
        )
        for pair in reader_pairs(given)
    }
    kappas = np.array([p.kappa for p in pairs.values()])
    defined = kappas[np.isfinite(kappas)]
    fleiss = None
    if len(readers) > 2:
        fleiss = fleiss_from_codes(np.column_stack([codes[r] for r in readers]), allowed)
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


def _check_readers(by_reader: Mapping[str, Any], name: str) -> tuple[str, ...]:
    readers = tuple(by_reader)
    if len(readers) < 2:
        raise InputError(f"{name} has readers {list(readers)}; need at least 2")
    return readers


def _entry(reader: str, mapping: str = "ratings_by_reader") -> str:
    return f"{mapping}[{reader!r}]"


def _centres(points: Any, name: str) -> Float64Array:
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


def _spacing(spacing_xy_mm: Any, n: int) -> Float64Array:
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


def _check_weights(weights: str | None) -> str | None:
    if weights not in KAPPA_WEIGHTS:
        raise InputError(f"weights={weights!r} is not known; allowed: quadratic, linear, None")
    return weights
