"""The Wilson interval of a proportion against the formula worked by hand."""

import math

import pytest

from fracturelab.errors import InputError
from fracturelab.evaluation import wilson_interval


@pytest.mark.parametrize(("k", "n"), [(1, 2), (0, 5), (9, 10), (30, 40)])
def test_wilson_interval_is_the_score_formula(k: int, n: int) -> None:
    z = 1.959963984540054  # the 97.5 % normal quantile
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    low, high = wilson_interval(k, n)
    assert low == pytest.approx(centre - half, abs=1e-9)
    assert high == pytest.approx(centre + half, abs=1e-9)


def test_counts_out_of_range_are_refused() -> None:
    with pytest.raises(InputError, match="successes=3, total=2"):
        wilson_interval(3, 2)
    with pytest.raises(InputError, match="total=0"):
        wilson_interval(0, 0)
