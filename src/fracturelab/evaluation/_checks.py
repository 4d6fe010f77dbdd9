"""Argument checks shared by the evaluation modules; each failure is one ``InputError`` line."""

from __future__ import annotations

from typing import Any

import numpy as np

from fracturelab.errors import InputError
from fracturelab.typing import Float64Array, IntArray

__all__ = [
    "check_fraction",
    "check_labels",
    "check_same_length",
    "check_scores",
    "check_two_classes",
]


def check_labels(y_true: Any, name: str = "y_true") -> IntArray:
    """Return ``y_true`` as a 1D int64 array of 0/1 labels (1 = positive, e.g. AFF).

    Raises:
        InputError: If it is not 1D and non-empty, or holds anything other than 0 and 1.

    """
    array = np.asarray(y_true)
    if array.ndim != 1 or array.size == 0:
        raise InputError(
            f"{name} must be a non-empty 1D array of 0/1 labels; got shape {array.shape}"
        )
    if array.dtype == np.bool_:
        return array.astype(np.int64)
    if not np.issubdtype(array.dtype, np.number):
        raise InputError(f"{name} has dtype {array.dtype}; allowed: 0/1 numbers or booleans")
    bad = np.unique(array[(array != 0) & (array != 1)])
    if bad.size:
        shown = ", ".join(f"{v:g}" for v in bad[:5].tolist())
        raise InputError(f"{name} has values [{shown}]; allowed labels: 0 and 1")
    return array.astype(np.int64)


def check_scores(
    p: Any, name: str = "p", *, length: int | None = None, probabilities: bool = True
) -> Float64Array:
    """Return scores as a 1D float64 array, finite and, for probabilities, within [0, 1].

    Args:
        p: Scores, shape ``(n,)``.
        name: Argument name used in messages.
        length: Required length (that of ``y_true``), or ``None``.
        probabilities: Whether values must lie in [0, 1].

    Raises:
        InputError: If the shape, length or values are not allowed.

    """
    array = np.asarray(p)
    if array.ndim != 1 or array.size == 0:
        raise InputError(f"{name} must be a non-empty 1D array of scores; got shape {array.shape}")
    if not np.issubdtype(array.dtype, np.number) and array.dtype != np.bool_:
        raise InputError(f"{name} has dtype {array.dtype}; allowed: real numbers")
    values = array.astype(np.float64)
    if length is not None:
        check_same_length(("y_true", length), (name, values.size))
    finite = np.isfinite(values)
    if not finite.all():
        first = int(np.flatnonzero(~finite)[0])
        raise InputError(
            f"{name} has {int((~finite).sum())} NaN or infinite values (first at index {first}); "
            "allowed: finite numbers"
        )
    if probabilities and (values.min() < 0.0 or values.max() > 1.0):
        raise InputError(
            f"{name} has values in [{values.min():g}, {values.max():g}]; "
            "allowed: probabilities in [0, 1]"
        )
    return values


def check_same_length(*named: tuple[str, int]) -> None:
    """Raise unless every ``(name, length)`` pair has the same length."""
    first_name, first = named[0]
    for name, length in named[1:]:
        if length != first:
            raise InputError(
                f"{name} has length {length} but {first_name} has length {first}; they must match"
            )


def check_two_classes(y: IntArray, name: str = "y_true", purpose: str = "the AUC") -> None:
    """Raise unless ``y`` holds at least one 0 and one 1."""
    n_positive = int(y.sum())
    if n_positive == 0 or n_positive == y.size:
        only = 1 if n_positive else 0
        raise InputError(
            f"{name} has only class {only} ({y.size} cases); {purpose} needs both 0 and 1"
        )


def check_fraction(value: float, name: str, *, closed: bool = False) -> float:
    """Return ``value`` as a float in (0, 1), or in [0, 1] when ``closed``."""
    number = float(value)
    inside = 0.0 <= number <= 1.0 if closed else 0.0 < number < 1.0
    if not inside:
        allowed = "[0, 1]" if closed else "(0, 1)"
        raise InputError(f"{name}={value!r} must be in {allowed}")
    return number
