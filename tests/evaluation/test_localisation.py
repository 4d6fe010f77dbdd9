import numpy as np
import pytest
from scipy.stats import mannwhitneyu

from fracturelab.evaluation import compare_groups, localisation_errors, success_rates


def test_errors_with_anisotropic_spacing_by_hand():
    pred = [[13.0, 24.0], [10.0, 28.0]]
    true = [[10.0, 20.0], [10.0, 20.0]]
    # dx, dy = (3, 4) px and (0, 8) px; spacing x 0.5 mm, y 0.25 mm:
    #   (1.5, 1.0) mm -> sqrt(3.25) mm; (0, 2) mm -> 2 mm
    errors = localisation_errors(pred, true, spacing_xy_mm=(0.5, 0.25))
    np.testing.assert_allclose(errors.px, [5.0, 8.0])
    np.testing.assert_allclose(errors.mm, [np.sqrt(3.25), 2.0])


def test_per_image_spacing_with_an_unknown_one():
    pred = [[3.0, 4.0], [3.0, 4.0], [6.0, 8.0]]
    true = [[0.0, 0.0], [0.0, 0.0], [0.0, 0.0]]
    spacing = [[0.1, 0.1], [np.nan, np.nan], [0.2, 0.1]]
    px, mm = localisation_errors(pred, true, spacing)
    np.testing.assert_allclose(px, [5.0, 5.0, 10.0])
    assert mm[0] == pytest.approx(0.5)
    assert np.isnan(mm[1])
    assert mm[2] == pytest.approx(np.hypot(1.2, 0.8))  # (6 * 0.2, 8 * 0.1)


def test_unknown_spacing_gives_nan_mm():
    errors = localisation_errors([[1.0, 1.0]], [[0.0, 0.0]])
    assert errors.px[0] == pytest.approx(np.sqrt(2.0))
    assert np.isnan(errors.mm).all()


def test_success_rates_by_hand_with_nan_left_out():
    errors = [1.0, 2.0, 3.0, 5.0, 12.0, np.nan]
    # finite: 5 images; <= 2 mm: 1.0 and 2.0 (inclusive); <= 4 mm: three; <= 10 mm: four.
    assert success_rates(errors) == pytest.approx({2.0: 0.4, 4.0: 0.6, 10.0: 0.8})
    assert success_rates(errors, thresholds_mm=(1.5,)) == {1.5: 0.2}


def test_compare_groups_exact_mann_whitney_and_medians():
    a = [1.0, 2.0, 3.0, 4.0, 5.0]
    b = [6.0, 7.0, 8.0, 9.0, 10.0, np.nan]
    result = compare_groups(a, b)
    # Complete separation: U_a = 0; the exact two-sided p is 2 / C(10, 5) = 2 / 252.
    assert result.u_statistic == 0.0
    assert result.p_value == pytest.approx(2 / 252)
    assert (result.median_a, result.median_b) == (3.0, 8.0)
    assert result.iqr_a == (2.0, 4.0) and result.iqr_b == (7.0, 9.0)
    assert (result.n_a, result.n_b) == (5, 5)


def test_compare_groups_equals_scipy_with_ties():
    rng = np.random.default_rng(0)
    a = np.round(rng.gamma(2.0, 2.0, 40), 0)
    b = np.round(rng.gamma(2.0, 3.0, 55), 0)
    result = compare_groups(a, b)
    reference = mannwhitneyu(a, b, alternative="two-sided")
    assert result.p_value == pytest.approx(reference.pvalue)
    assert result.u_statistic == reference.statistic
    assert result.median_b == np.median(b)
