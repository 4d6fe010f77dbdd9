"""Ratings of several readers as integer codes: one place for labels and missing ratings.

A rating is one of the allowed ``labels`` (by default the Genant grades 0-3) or missing
(``None`` or NaN: the reader marked the item "not assessable" or skipped it). Internally a
rating becomes its position in ``labels``, and a missing rating :data:`MISSING`.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from fracturelab.errors import InputError
from fracturelab.typing import IntArray

__all__ = [
    "GENANT_GRADES",
    "MISSING",
    "as_object_array",
    "check_rating_labels",
    "is_missing",
    "rating_codes",
    "show_labels",
]

#: Genant semi-quantitative grades: 0 normal, 1 mild, 2 moderate, 3 severe.
GENANT_GRADES: tuple[int, ...] = (0, 1, 2, 3)

#: Code of a missing rating in the integer arrays used internally.
MISSING = -1


def rating_codes(values: Any, labels: tuple[Hashable, ...], name: str) -> IntArray:
    """Positions of ``values`` in ``labels``, ``MISSING`` for None/NaN; shape ``(n,)``."""
    array = as_object_array(values, name)
    if array.ndim != 1:
        raise InputError(f"{name} must be a 1D sequence of ratings; got shape {array.shape}")
    index = {label: i for i, label in enumerate(labels)}
    codes = np.full(array.size, MISSING, dtype=np.int64)
    bad: list[Any] = []
    for k, value in enumerate(array.tolist()):
        if is_missing(value):
            continue
        try:
            codes[k] = index[value]
        except (KeyError, TypeError):
            if value not in bad:
                bad.append(value)
    if bad:
        shown = ", ".join(repr(v) for v in bad[:5])
        raise InputError(
            f"{name} has values [{shown}]; allowed: {show_labels(labels)}, or None/NaN for missing"
        )
    return codes


def as_object_array(values: Any, name: str) -> npt.NDArray[np.object_]:
    """``values`` as an object array (strings and ragged rows refused)."""
    if isinstance(values, str | bytes):
        raise InputError(f"{name} is a string; allowed: a sequence of ratings")
    try:
        return np.asarray(values, dtype=object)
    except ValueError:
        raise InputError(f"{name} is ragged; allowed: rows of equal length") from None


def is_missing(value: Any) -> bool:
    """Whether a rating is missing: ``None`` or a NaN float."""
    return value is None or (isinstance(value, float | np.floating) and math.isnan(value))


def check_rating_labels(labels: Sequence[Hashable], name: str = "labels") -> tuple[Hashable, ...]:
    """``labels`` as a tuple: at least 2 distinct, non-missing values."""
    allowed = tuple(labels)
    if len(allowed) < 2 or len(set(allowed)) != len(allowed) or any(map(is_missing, allowed)):
        raise InputError(
            f"{name}={allowed!r} is not allowed; need at least 2 distinct, non-missing values"
        )
    return allowed


def show_labels(labels: tuple[Hashable, ...]) -> str:
    """The labels for a message: ``0, 1, 2, 3``."""
    return ", ".join(repr(v) for v in labels)
