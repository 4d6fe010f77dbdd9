"""Fleiss' kappa of several readers, with a varying number of ratings per item."""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from fracturelab.errors import InputError
from fracturelab.evaluation.ratings import (
    GENANT_GRADES,
    MISSING,
    as_object_array,
    check_rating_labels,
    rating_codes,
)
from fracturelab.typing import IntArray

__all__ = ["FleissKappa", "fleiss_from_codes", "fleiss_kappa"]

_CONSTANT_CATEGORY = "every rating falls in one category, so chance agreement is 1"


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
    allowed = check_rating_labels(categories, "categories")
    table = as_object_array(ratings, "ratings")
    if table.ndim != 2 or table.shape[1] < 2:
        raise InputError(
            f"ratings has shape {table.shape}; allowed: (items, readers) with >= 2 readers"
        )
    codes = rating_codes(table.ravel(), allowed, "ratings").reshape(table.shape)
    return fleiss_from_codes(codes, allowed)


def fleiss_from_codes(codes: IntArray, categories: tuple[Hashable, ...]) -> FleissKappa:
    """Fleiss' kappa of a table of codes, shape ``(items, readers)`` (see :func:`fleiss_kappa`).

    Raises:
        InputError: Fewer than 2 items have at least 2 ratings.

    """
    k = len(categories)
    rated = codes != MISSING
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
