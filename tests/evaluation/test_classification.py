import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from fracturelab.evaluation import aggregate_by_patient, binary_metrics, choose_threshold, roc_auc


def test_auc_equals_sklearn_on_random_scores_with_ties():
    rng = np.random.default_rng(0)
    y = (rng.random(500) < 0.2).astype(int)
    p = np.round(np.clip(0.3 + 0.2 * y + rng.normal(0, 0.2, 500), 0, 1), 2)
    assert roc_auc(y, p) == pytest.approx(roc_auc_score(y, p), abs=1e-15)


def test_auc_of_a_hand_counted_example_with_ties():
    # positives 0.9, 0.6, 0.4 against negatives 0.6, 0.4, 0.2, 0.1 (12 pairs):
    #   0.9 beats all 4                          -> 4
    #   0.6 beats 0.4, 0.2, 0.1, ties 0.6        -> 3 + 0.5
    #   0.4 beats 0.2, 0.1, ties 0.4             -> 2 + 0.5
    # AUC = 10 / 12
    y = [1, 1, 1, 0, 0, 0, 0]
    p = [0.9, 0.6, 0.4, 0.6, 0.4, 0.2, 0.1]
    assert roc_auc(y, p) == pytest.approx(10 / 12)


def test_binary_metrics_on_a_hand_computed_confusion_matrix():
    y = [1, 1, 1, 1, 0, 0, 0, 0, 0, 0]
    p = [0.9, 0.8, 0.6, 0.3, 0.7, 0.5, 0.4, 0.2, 0.1, 0.05]
    # At 0.5 (p >= 0.5 is positive): TP = 3 (0.9, 0.8, 0.6), FN = 1 (0.3),
    # FP = 2 (0.7 and 0.5 on the threshold), TN = 4.
    m = binary_metrics(y, p, threshold=0.5)
    assert (m["tp"], m["fn"], m["fp"], m["tn"]) == (3, 1, 2, 4)
    assert (m["n"], m["n_positive"], m["n_negative"]) == (10, 4, 6)
    assert m["sensitivity"] == pytest.approx(3 / 4)
    assert m["specificity"] == pytest.approx(4 / 6)
    assert m["balanced_accuracy"] == pytest.approx((3 / 4 + 4 / 6) / 2)
    assert m["ppv"] == pytest.approx(3 / 5)
    assert m["npv"] == pytest.approx(4 / 5)
    assert m["f1"] == pytest.approx(2 * 3 / (2 * 3 + 2 + 1))
    assert m["accuracy"] == pytest.approx(7 / 10)
    # squared errors: .01 .04 .16 .49 | .49 .25 .16 .04 .01 .0025 -> 1.6525 / 10
    assert m["brier"] == pytest.approx(0.16525)
    # pairs won: 0.9 -> 6, 0.8 -> 6, 0.6 -> 5, 0.3 -> 3 of 24
    assert m["auc"] == pytest.approx(20 / 24)
    assert m["threshold"] == 0.5


def test_binary_metrics_gives_nan_for_undefined_ratios():
    m = binary_metrics([0, 0, 0], [0.1, 0.2, 0.3], threshold=0.5)
    assert np.isnan(m["sensitivity"]) and np.isnan(m["ppv"]) and np.isnan(m["auc"])
    assert m["specificity"] == 1.0 and m["npv"] == 1.0


@pytest.mark.parametrize("rule", ["youden", "f1"])
def test_threshold_lies_half_way_in_the_gap_of_a_separable_case(rule):
    y = [0, 0, 0, 1, 1, 1]
    p = [0.1, 0.2, 0.3, 0.7, 0.8, 0.9]
    threshold = choose_threshold(y, p, rule=rule)
    assert threshold == pytest.approx(0.5)
    assert binary_metrics(y, p, threshold)["accuracy"] == 1.0


def test_tied_youden_optima_take_the_lower_middle_interval():
    # J: (0, 0.1] -> 0, (0.1, 0.2] -> 0.5, (0.2, 0.3] -> 0, (0.3, 0.4] -> 0.5.
    # Two optima: the lower of the two middle ones, (0.1, 0.2], midpoint 0.15.
    assert choose_threshold([0, 1, 0, 1], [0.1, 0.2, 0.3, 0.4]) == pytest.approx(0.15)


def test_f1_ignores_true_negatives_where_youden_does_not():
    # Ten negatives (three of them at 0.55-0.65), two positives at 0.5 and 0.9.
    y = [0] * 10 + [1, 1]
    p = [0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.4, 0.55, 0.6, 0.65, 0.5, 0.9]
    # t in (0.4, 0.5]:  sens 1,   spec 7/10 -> J = 0.7;  F1 = 4 / (4 + 3)     = 0.571
    # t in (0.65, 0.9]: sens 1/2, spec 1    -> J = 0.5;  F1 = 2 / (2 + 0 + 1) = 0.667
    assert choose_threshold(y, p, "youden") == pytest.approx(0.45)
    assert choose_threshold(y, p, "f1") == pytest.approx(0.775)


def test_patient_aggregation_by_hand():
    ids = ["b", "a", "b", "c", "a"]
    y = [0, 0, 1, 0, 0]
    p = [0.2, 0.4, 0.6, 0.1, 0.8]
    patients, labels, probabilities = aggregate_by_patient(ids, y, p)
    assert patients.tolist() == ["a", "b", "c"]
    assert labels.tolist() == [0, 1, 0]  # b has one positive image -> positive
    np.testing.assert_allclose(probabilities, [0.6, 0.4, 0.1])
