"""The VerSe evaluation protocol, checked against numbers computed by hand.

The hand table (``hand_table.hand_rows``) has 6 test vertebrae of 4 patients and 4 validation
vertebrae of 3 other patients; every expected value below is worked out in the comments.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from fracturelab.errors import InputError
from fracturelab.evaluation import bootstrap_ci, delong_test
from fracturelab.outputs import write_csv
from fracturelab.spine.learned.evaluation import evaluate
from fracturelab.spine.learned.predictions_table import (
    PREDICTION_COLUMNS,
    patient_max,
    read_predictions,
)
from tests.spine.learned.hand_table import hand_rows


def _row(result: Any, **key: str) -> dict[str, Any]:
    found = [r for r in result["binary"] if all(r[k] == v for k, v in key.items())]
    assert len(found) == 1, key
    return found[0]


@pytest.fixture(scope="module")
def hand() -> Any:
    return evaluate(hand_rows(), n_boot=300, seed=0)


def test_vertebra_and_patient_auc_by_hand(hand: Any) -> None:
    # Test vertebrae, grade >= 1: positives 0.9, 0.4; negatives 0.3, 0.5, 0.2, 0.45.
    # 0.9 beats all 4; 0.4 beats 0.3 and 0.2: 6 of 8 pairs.
    vertebra = _row(hand, method="model", target="ge1", level="vertebra", split="test")
    assert vertebra["auc"] == pytest.approx(6 / 8)
    assert (vertebra["n"], vertebra["n_positive"], vertebra["n_patients"]) == (6, 2, 4)
    # Patients (max): A 0.9 +, B 0.5 +, C 0.2 -, D 0.45 -: every positive beats every negative.
    patient = _row(hand, method="model", target="ge1", level="patient", split="test")
    assert patient["auc"] == pytest.approx(1.0)
    assert (patient["n"], patient["n_positive"]) == (4, 2)
    # Grade >= 2: the one positive (0.8) beats the 5 others.
    assert _row(hand, method="model", target="ge2", level="vertebra", split="test")["auc"] == 1.0


def test_threshold_chosen_on_validation_and_applied_to_test(hand: Any) -> None:
    # Validation P(>=1): negatives 0.2, 0.35; positives 0.7, 0.8: Youden's J = 1 between
    # 0.35 and 0.7, threshold the midpoint 0.525.
    assert hand["thresholds"]["model_ge1"] == {
        "value": pytest.approx(0.525),
        "source": "Youden's J on the validation rows",
    }
    # Test: only 0.9 >= 0.525, so 1 of 2 fractures found and all 4 normals called normal.
    test = _row(hand, method="model", target="ge1", level="vertebra", split="test")
    assert (test["sensitivity"], test["specificity"]) == (0.5, 1.0)
    assert (test["tp"], test["fn"], test["tn"], test["fp"]) == (1, 1, 4, 0)
    # Validation P(>=2): the one positive 0.9 against 0.3 at most: threshold 0.6.
    assert hand["thresholds"]["model_ge2"]["value"] == pytest.approx(0.6)
    # Morphometry uses Genant's cut: >= 20 % height loss; 32 and 21 are the fractures.
    morph = _row(hand, method="morphometry", target="ge1", level="vertebra", split="test")
    assert morph["threshold"] == 20.0 and (morph["sensitivity"], morph["specificity"]) == (1, 1)
    assert morph["n"] == 5  # D has no height loss


def test_quadratic_kappa_and_confusion_by_hand(hand: Any) -> None:
    # Truth 2,0,1,0,0,0 against predicted 3,0,0,1,0,0. Quadratic disagreement observed:
    # (1 + 1 + 1) / 6 = 18/36. Marginals truth (4,1,1,0), predicted (4,1,0,1):
    # sum r_i c_j (i - j)^2 = 40 + 8 + 18 = 66, expected 66/36. Kappa = 1 - 18/66 = 8/11.
    model = next(g for g in hand["grades"] if g["method"] == "model" and g["split"] == "test")
    assert model["kappa_quadratic"] == pytest.approx(8 / 11)
    assert model["confusion"] == [[3, 1, 0, 0], [1, 0, 0, 0], [0, 0, 0, 1], [0, 0, 0, 0]]
    assert model["exact_agreement"] == pytest.approx(3 / 6)
    # Morphometry graded 5 vertebrae, every one right: kappa 1.
    morph = next(g for g in hand["grades"] if g["method"] == "morphometry" and g["split"] == "test")
    assert (morph["n"], morph["kappa_quadratic"]) == (5, pytest.approx(1.0))


def test_morphology_accuracy_on_known_fractures(hand: Any) -> None:
    by_split = {m["split"]: m for m in hand["morphology"]}
    # Test: A L1 wedge predicted wedge; B L1 is fractured but of unknown morphology.
    assert (by_split["test"]["n"], by_split["test"]["accuracy"]) == (1, 1.0)
    # Validation: crush called wedge, biconcave called biconcave.
    assert (by_split["validation"]["n"], by_split["validation"]["accuracy"]) == (2, 0.5)


def test_patient_max_by_hand() -> None:
    ids, labels, scores = patient_max(["b", "a", "b", "a"], [0, 0, 1, 0], [0.2, 0.7, 0.1, 0.3])
    assert ids.tolist() == ["a", "b"]
    assert labels.tolist() == [0, 1]  # b has a fractured vertebra
    assert scores.tolist() == [0.7, 0.2]  # the maximum, not the mean


def test_interval_resamples_patients(hand: Any) -> None:
    table = read_predictions(hand_rows())
    rows = table.rows("test")
    expected = bootstrap_ci(
        table.truth("ge1")[rows], table.model_score("ge1")[rows], table.patients[rows],
        n_resamples=300, seed=0,
    )  # fmt: skip
    row = _row(hand, method="model", target="ge1", level="vertebra", split="test")
    assert (row["auc_low"], row["auc_high"]) == (expected.low, expected.high)
    assert row["auc_low"] <= row["auc"] <= row["auc_high"]
    again = evaluate(hand_rows(), n_boot=300, seed=0)
    assert again.to_dict() == hand.to_dict()


def test_delong_on_the_same_vertebrae(hand: Any) -> None:
    # D has no height loss: the paired rows are the other 5. Model on them: positives 0.9,
    # 0.4; negatives 0.3, 0.5, 0.2: 5 of 6 pairs. Morphometry ranks them perfectly.
    row = next(
        c for c in hand["comparisons"]
        if (c["a"], c["b"], c["target"], c["level"], c["split"])
        == ("model", "morphometry", "ge1", "vertebra", "test")
    )  # fmt: skip
    assert (row["auc_a"], row["auc_b"], row["n"]) == (pytest.approx(5 / 6), 1.0, 5)
    y = [1, 0, 1, 0, 0]
    direct = delong_test(y, [0.9, 0.3, 0.4, 0.5, 0.2], [32.0, 5.0, 21.0, 8.0, 3.0])
    assert row["p_value"] == pytest.approx(direct.p_value)
    assert hand["counts"]["test"]["without_height_loss"] == 1


def test_combination_follows_its_rule(hand: Any) -> None:
    from sklearn.linear_model import LogisticRegression

    loss = np.array([22.0, 4.0, 6.0, 35.0])  # validation rows E L1, E L2, F, G
    z = (loss - loss.mean()) / loss.std()
    fit = LogisticRegression(C=1.0).fit(z[:, None], [1, 0, 0, 1])
    a, b = fit.intercept_[0], fit.coef_[0, 0]
    assert hand["combination"]["ge1"]["slope"] == pytest.approx(b)
    logistic = 1 / (1 + np.exp(-(a + b * (32.0 - loss.mean()) / loss.std())))
    assert hand.combined["ge1"][0] == pytest.approx((0.9 + logistic) / 2)
    assert np.isnan(hand.combined["ge1"][5])  # D: no height loss, no combination


def test_json_has_no_nan(hand: Any) -> None:
    text = json.dumps(hand.to_dict(), allow_nan=False)
    assert '"source": "rows"' in text


def test_csv_file_reads_like_rows(tmp_path: Path, hand: Any) -> None:
    path = write_csv(tmp_path / "predictions.csv", PREDICTION_COLUMNS, hand_rows())
    assert evaluate(path, n_boot=300).to_dict()["binary"] == hand.to_dict()["binary"]


def test_thresholds_given_for_a_test_only_table() -> None:
    rows = [r for r in hand_rows() if r["split"] == "test"]
    result = evaluate(rows, threshold_from={"model_ge1": 0.35, "model_ge2": 0.5}, n_boot=50)
    assert result["thresholds"]["model_ge1"] == {"value": 0.35, "source": "given"}
    # Called positive: 0.9, 0.4 (both fractures) and 0.5, 0.45 (2 of the 4 normals).
    test = _row(result, method="model", target="ge1", level="vertebra", split="test")
    assert (test["sensitivity"], test["specificity"]) == (1.0, 0.5)
    assert result["combination"]["ge1"]["unavailable"].startswith("the 0 validation")


def _edited(**changes: Any) -> list[dict[str, Any]]:
    rows = hand_rows()
    rows[0].update(changes)
    return rows


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        (_edited(genant_grade=4), "row 2: genant_grade=4 is not a Genant grade 0-3"),
        (_edited(fracture_probability=1.5), "fracture_probability=1.5 is not a probability"),
        (_edited(split="valid"), "split='valid' is not valid (did you mean 'validation'?)"),
        (_edited(patient_id="B"), "case a is in two patients (B, A)"),
        (_edited(height_loss_pct="n/a"), "height_loss_pct='n/a' is not a number or empty"),
        ([{k: v for k, v in r.items() if k != "p3"} | {"p_3": 0} for r in hand_rows()],
         "missing column(s) p3 (did you mean 'p_3'?)"),
        ([*hand_rows(), hand_rows()[0]], "vertebra a L1 appears twice in the test rows"),
        ([*hand_rows(), {**hand_rows()[0], "split": "validation", "level": "T12"}],
         "patient(s) A in both validation and test"),
        ([{**r, "genant_grade": 0} for r in hand_rows()], "no vertebra has genant_grade >= 1"),
        ([], "no rows"),
    ],
)  # fmt: skip
def test_bad_table_is_one_line(rows: list[dict[str, Any]], expected: str) -> None:
    with pytest.raises(InputError) as caught:
        evaluate(rows, n_boot=10)
    message = str(caught.value)
    assert expected in message and "\n" not in message and message.startswith("predictions")


def test_bad_arguments_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"threshold_from='valdation' is not valid \(did you"):
        evaluate(hand_rows(), threshold_from="valdation")
    with pytest.raises(InputError, match="n_boot=0 is not valid"):
        evaluate(hand_rows(), n_boot=0)
    with pytest.raises(InputError, match=r"predictions .*missing\.csv: file not found"):
        evaluate(tmp_path / "missing.csv")


def test_worst_errors_by_hand(hand: Any) -> None:
    # |truth - P(>=1)| on the test rows: b L1 0.6, b L2 0.5, d L1 0.45, a L2 0.3, c 0.2, a L1 0.1.
    order = [(w["case_id"], w["level"]) for w in hand["worst_errors"]]
    assert order == [("b", "L1"), ("b", "L2"), ("d", "L1"), ("a", "L2"), ("c", "L1"), ("a", "L1")]
    assert np.isnan(hand["worst_errors"][2]["height_loss_pct"])  # d has no height loss
