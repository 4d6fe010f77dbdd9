"""A predictions table small enough to evaluate by hand (the evaluation and report tests).

6 test vertebrae of 4 patients and 4 validation vertebrae of 3 other patients; the expected
values are worked out in ``test_evaluation_protocol.py``.
"""

from __future__ import annotations

from typing import Any

__all__ = ["hand_rows"]

# split, patient, case, level, grade, morphology, P(>=1), P(>=2), predicted grade,
# predicted morphology, height loss %, morphometry grade
_HAND = [
    ("test", "A", "a", "L1", 2, "wedge", 0.9, 0.8, 3, "wedge", 32.0, 2),
    ("test", "A", "a", "L2", 0, "normal", 0.3, 0.1, 0, "normal", 5.0, 0),
    ("test", "B", "b", "L1", 1, "", 0.4, 0.2, 0, "normal", 21.0, 1),
    ("test", "B", "b", "L2", 0, "normal", 0.5, 0.05, 1, "wedge", 8.0, 0),
    ("test", "C", "c", "L1", 0, "normal", 0.2, 0.1, 0, "normal", 3.0, 0),
    ("test", "D", "d", "L1", 0, "normal", 0.45, 0.3, 0, "normal", None, None),
    ("validation", "E", "e", "L1", 1, "crush", 0.7, 0.3, 1, "wedge", 22.0, 1),
    ("validation", "E", "e", "L2", 0, "normal", 0.2, 0.05, 0, "normal", 4.0, 0),
    ("validation", "F", "f", "L1", 0, "normal", 0.35, 0.1, 0, "normal", 6.0, 0),
    ("validation", "G", "g", "L1", 2, "biconcave", 0.8, 0.9, 2, "biconcave", 35.0, 2),
]


def hand_rows() -> list[dict[str, Any]]:
    """The hand table as row mappings in the pinned predictions format."""
    rows = []
    for split, patient, case, level, grade, morph, p1, p2, pred, pred_morph, loss, mg in _HAND:
        rows.append(
            {
                "case_id": case, "patient_id": patient, "level": level, "split": split,
                "fold": "0" if split == "validation" else "", "genant_grade": grade,
                "morphology": morph, "fracture_probability": p1, "p_grade_ge2": p2,
                "p0": 1 - p1, "p1": max(p1 - p2, 0.0), "p2": p2, "p3": 0.0,
                "predicted_grade": pred, "predicted_morphology": pred_morph,
                "height_loss_pct": "" if loss is None else loss,
                "morph_grade": "" if mg is None else mg,
            }
        )  # fmt: skip
    return rows
