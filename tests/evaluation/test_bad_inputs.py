"""One test per bad input: each error is an InputError whose message names the argument."""

import numpy as np
import pytest

from fracturelab.errors import InputError
from fracturelab.evaluation import (
    aggregate_by_patient,
    binary_metrics,
    bootstrap_ci,
    choose_threshold,
    compare_groups,
    delong_ci,
    delong_test,
    localisation_errors,
    plot_roc,
    reliability_curve,
    roc_auc,
    success_rates,
)

Y = [0, 1, 0, 1, 0, 1]
P = [0.1, 0.8, 0.3, 0.6, 0.2, 0.9]


def test_length_mismatch_names_both_arguments():
    with pytest.raises(InputError, match=r"^p has length 5 but y_true has length 6"):
        binary_metrics(Y, P[:5])


def test_labels_other_than_0_and_1():
    with pytest.raises(InputError, match=r"^y_true has values \[2\]; allowed labels: 0 and 1"):
        roc_auc([0, 1, 2, 1, 0, 1], P)


def test_text_labels():
    with pytest.raises(InputError, match=r"^y_true has dtype"):
        roc_auc(["AFF", "NFF"], [0.1, 0.2])


def test_one_class_only():
    with pytest.raises(InputError, match=r"^y_true has only class 1 \(3 cases\)"):
        roc_auc([1, 1, 1], [0.2, 0.4, 0.6])


def test_nan_probability():
    with pytest.raises(InputError, match=r"^p has 1 NaN or infinite values \(first at index 2\)"):
        binary_metrics(Y, [0.1, 0.8, np.nan, 0.6, 0.2, 0.9])


def test_probability_outside_0_1():
    with pytest.raises(InputError, match=r"^p has values in \[0.1, 1.2\]; allowed: prob"):
        binary_metrics(Y, [0.1, 0.8, 0.3, 0.6, 0.2, 1.2])


@pytest.mark.parametrize("threshold", [-0.1, 1.5])
def test_threshold_outside_0_1(threshold):
    with pytest.raises(InputError, match=rf"^threshold={threshold} must be in \[0, 1\]"):
        binary_metrics(Y, P, threshold=threshold)


@pytest.mark.parametrize("confidence", [0.0, 1.0, 95])
def test_confidence_outside_0_1(confidence):
    with pytest.raises(InputError, match=rf"^confidence={confidence} must be in \(0, 1\)"):
        bootstrap_ci(Y, P, confidence=confidence)
    with pytest.raises(InputError, match=rf"^confidence={confidence} must be in \(0, 1\)"):
        delong_test(Y, P, P, confidence=confidence)


def test_unknown_threshold_rule():
    with pytest.raises(InputError, match=r"^rule='accuracy' is not known; allowed: youden, f1"):
        choose_threshold(Y, P, rule="accuracy")


def test_groups_length_mismatch():
    with pytest.raises(InputError, match=r"^groups has length 2 but y_true has length 6"):
        bootstrap_ci(Y, P, groups=["a", "b"])


def test_non_positive_resample_count():
    with pytest.raises(InputError, match=r"^n_resamples=0 must be a positive integer"):
        bootstrap_ci(Y, P, n_resamples=0)


def test_patient_ids_length_mismatch():
    with pytest.raises(InputError, match=r"^patient_ids has length 3 but y_true has length 6"):
        aggregate_by_patient(["a", "b", "c"], Y, P)


def test_delong_second_predictor_length_mismatch():
    with pytest.raises(InputError, match=r"^p_b has length 4 but y_true has length 6"):
        delong_test(Y, P, P[:4])


def test_delong_needs_two_cases_per_class():
    with pytest.raises(InputError, match=r"^y_true has 1 positives and 3 negatives"):
        delong_ci([1, 0, 0, 0], [0.9, 0.1, 0.2, 0.3])


def test_unknown_bin_strategy():
    with pytest.raises(InputError, match=r"^strategy='equal' is not known; allowed: uniform"):
        reliability_curve(Y, P, strategy="equal")


def test_point_shapes_differ():
    with pytest.raises(InputError, match=r"^pred_xy_px has shape \(2, 2\) but true_xy_px"):
        localisation_errors([[0, 0], [1, 1]], [[0, 0]])


def test_points_not_n_by_2():
    with pytest.raises(InputError, match=r"^true_xy_px has shape \(3,\); allowed: \(n, 2\)"):
        localisation_errors([[0, 0]], [0, 0, 0])


def test_negative_spacing():
    with pytest.raises(InputError, match=r"^spacing_xy_mm must hold two positive numbers"):
        localisation_errors([[0, 0]], [[1, 1]], spacing_xy_mm=(0.1, -0.1))


def test_non_positive_success_threshold():
    with pytest.raises(InputError, match=r"^thresholds_mm=\(0.0, 4.0\) must be positive"):
        success_rates([1.0, 2.0], thresholds_mm=(0.0, 4.0))


def test_group_without_finite_errors():
    with pytest.raises(InputError, match=r"^errors_b has no finite error \(2 values\)"):
        compare_groups([1.0, 2.0], [np.nan, np.nan])


def test_empty_plot_input(tmp_path):
    with pytest.raises(InputError, match=r"^curves is empty"):
        plot_roc({}, tmp_path / "roc.png")
