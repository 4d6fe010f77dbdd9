import time

import numpy as np
import pytest
from scipy.stats import norm

from fracturelab.evaluation import bootstrap_ci, roc_auc


def _binormal(rng, n_negative, n_positive, d):
    y = np.r_[np.zeros(n_negative, dtype=int), np.ones(n_positive, dtype=int)]
    p = np.r_[rng.normal(0.0, 1.0, n_negative), rng.normal(d, 1.0, n_positive)]
    return y, p


def test_95_percent_interval_covers_the_true_binormal_auc():
    # Negatives N(0, 1), positives N(d, 1): true AUC = P(X > Y) = Phi(d / sqrt(2)).
    d = 1.0
    true_auc = norm.cdf(d / np.sqrt(2.0))
    n_sets = 150
    covered = 0
    for seed in range(n_sets):
        y, p = _binormal(np.random.default_rng(seed), 120, 30, d)
        ci = bootstrap_ci(y, p, n_resamples=200, seed=seed)
        covered += ci.low <= true_auc <= ci.high
    assert 0.88 <= covered / n_sets <= 0.99


def test_identical_copies_of_a_patient_count_once_when_resampling_patients():
    rng = np.random.default_rng(7)
    y_patient, p_patient = _binormal(rng, 30, 15, 1.0)
    copies = 5  # every patient has five identical images
    y = np.repeat(y_patient, copies)
    p = np.repeat(p_patient, copies)
    patient = np.repeat(np.arange(y_patient.size), copies)
    by_patient = bootstrap_ci(y, p, groups=patient, n_resamples=1000)
    by_image = bootstrap_ci(y, p, n_resamples=1000)
    one_image_each = bootstrap_ci(y_patient, p_patient, n_resamples=1000)
    width = lambda ci: ci.high - ci.low  # noqa: E731
    # Copies add no information: with the same seed, resampling patients draws the same
    # patients as resampling one image per patient, so the intervals are identical, while
    # treating the copies as independent shrinks the width by about sqrt(5).
    assert (by_patient.low, by_patient.high) == pytest.approx(
        (one_image_each.low, one_image_each.high), abs=1e-12
    )
    assert width(by_patient) > 1.7 * width(by_image)
    assert by_patient.estimate == pytest.approx(one_image_each.estimate)


def test_one_class_resamples_are_skipped_and_counted():
    # One positive patient among five: a resample misses it with probability (4/5)^5.
    y = [1, 0, 0, 0, 0]
    p = [0.9, 0.1, 0.2, 0.3, 0.4]
    ci = bootstrap_ci(y, p, n_resamples=4000, seed=1)
    assert ci.n_resamples == 4000
    assert ci.n_failed / 4000 == pytest.approx(0.8**5, abs=0.025)
    assert ci.estimate == 1.0 and ci.low == ci.high == 1.0


def test_vectorised_auc_equals_calling_the_statistic_per_resample():
    rng = np.random.default_rng(2)
    y = (rng.random(150) < 0.25).astype(int)
    p = np.round(rng.random(150) + 0.3 * y, 1)  # ties across classes
    groups = rng.integers(0, 60, 150)
    fast = bootstrap_ci(y, p, groups=groups, n_resamples=300, seed=5)
    slow = bootstrap_ci(y, p, groups=groups, statistic=lambda a, b: roc_auc(a, b),
                        n_resamples=300, seed=5)  # fmt: skip
    assert (fast.low, fast.high, fast.estimate) == pytest.approx(
        (slow.low, slow.high, slow.estimate), abs=1e-12
    )
    assert fast.n_failed == slow.n_failed


def test_other_statistics_and_seeds():
    rng = np.random.default_rng(4)
    y = (rng.random(200) < 0.3).astype(int)
    p = np.clip(0.3 + 0.3 * y + rng.normal(0, 0.2, 200), 0, 1)
    brier = lambda a, b: float(np.mean((b - a) ** 2))  # noqa: E731
    first = bootstrap_ci(y, p, statistic=brier, n_resamples=200, seed=3, confidence=0.9)
    again = bootstrap_ci(y, p, statistic=brier, n_resamples=200, seed=3, confidence=0.9)
    other = bootstrap_ci(y, p, statistic=brier, n_resamples=200, seed=4, confidence=0.9)
    assert first == again and first != other
    assert first.low < first.estimate < first.high
    assert first.estimate == pytest.approx(brier(y, p))


def test_2000_resamples_of_1000_images_take_under_two_seconds():
    rng = np.random.default_rng(0)
    y = (rng.random(1000) < 0.2).astype(int)
    p = rng.random(1000) * 0.6 + 0.3 * y
    patients = rng.integers(0, 400, 1000)
    start = time.perf_counter()
    ci = bootstrap_ci(y, p, groups=patients, n_resamples=2000)
    assert time.perf_counter() - start < 2.0
    assert ci.low < ci.estimate < ci.high and ci.n_failed == 0
