import numpy as np
import pytest
from sklearn.calibration import calibration_curve

from fracturelab.evaluation import expected_calibration_error, reliability_curve


def test_reliability_and_ece_by_hand():
    y = [0, 0, 1, 1, 1]
    p = [0.05, 0.15, 0.15, 0.85, 0.95]
    # Two uniform bins: [0, 0.5] holds 0.05, 0.15, 0.15 (1 of 3 positive, mean 0.35 / 3);
    # (0.5, 1] holds 0.85, 0.95 (both positive, mean 0.9).
    curve = reliability_curve(y, p, n_bins=2)
    np.testing.assert_allclose(curve.mean_predicted, [0.35 / 3, 0.9])
    np.testing.assert_allclose(curve.fraction_positive, [1 / 3, 1.0])
    assert curve.counts.tolist() == [3, 2]
    # ECE = 3/5 * |1/3 - 0.35/3| + 2/5 * |1 - 0.9| = 0.13 + 0.04
    assert curve.ece == pytest.approx(0.17)
    assert expected_calibration_error(y, p, n_bins=2) == pytest.approx(0.17)


@pytest.mark.parametrize("strategy", ["uniform", "quantile"])
def test_curve_is_sklearns_and_counts_cover_every_case(strategy):
    rng = np.random.default_rng(1)
    p = rng.random(400) ** 2
    y = (rng.random(400) < p).astype(int)
    curve = reliability_curve(y, p, n_bins=8, strategy=strategy)
    fraction, predicted = calibration_curve(y, p, n_bins=8, strategy=strategy)
    np.testing.assert_allclose(curve.fraction_positive, fraction)
    np.testing.assert_allclose(curve.mean_predicted, predicted)
    assert curve.counts.sum() == 400
    assert curve.edges.size == 9


def test_calibrated_probabilities_have_a_small_ece_and_shifted_ones_a_large_one():
    rng = np.random.default_rng(2)
    p = rng.random(20000)
    y = (rng.random(20000) < p).astype(int)
    assert expected_calibration_error(y, p) < 0.02
    assert expected_calibration_error(y, np.clip(p + 0.2, 0, 1)) > 0.15
