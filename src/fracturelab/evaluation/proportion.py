"""Confidence interval of a proportion (sensitivity, PPV, ...): the Wilson score interval."""

from __future__ import annotations

from fracturelab.errors import InputError

__all__ = ["wilson_interval"]


def wilson_interval(successes: int, total: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of ``successes / total`` (SciPy's ``binomtest``).

    Unlike the normal approximation it stays inside [0, 1] and is not empty at 0 or ``total``
    successes, which matters for the small counts of a review.

    Args:
        successes: Count of successes, ``0 <= successes <= total``.
        total: Count of trials, >= 1.
        confidence: Confidence level in (0, 1).

    Returns:
        ``(low, high)``.

    Raises:
        InputError: For counts out of range.

    """
    if total < 1 or not 0 <= successes <= total:
        raise InputError(f"successes={successes}, total={total}: need 0 <= successes <= total >= 1")
    from scipy.stats import binomtest

    interval = binomtest(successes, total).proportion_ci(
        confidence_level=confidence, method="wilson"
    )
    return float(interval.low), float(interval.high)
