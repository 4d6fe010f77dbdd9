"""The predictions table of a spine fracture classifier: its columns, reading and checks.

One row per vertebra (:data:`PREDICTION_COLUMNS`): ``case_id``, ``patient_id``, ``level``,
``split`` (``validation``: out-of-fold, ``test``: held-out patients), ``fold``, the truth
(``genant_grade`` 0-3, ``morphology``, may be empty), the model's outputs
(``fracture_probability`` = P(grade >= 1), ``p_grade_ge2``, ``p0``..``p3``,
``predicted_grade``, ``predicted_morphology``) and morphometry's (``height_loss_pct`` and
``morph_grade``, empty where the vertebra was not graded). The training experiment writes it
as ``predictions.csv``; :mod:`fracturelab.spine.learned.evaluation` evaluates it.
"""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from fracturelab.checks import did_you_mean
from fracturelab.errors import InputError
from fracturelab.spine.learned.config import GRADES
from fracturelab.typing import Float64Array, IntArray, PathLike

__all__ = [
    "PREDICTION_COLUMNS",
    "SPLITS",
    "TARGETS",
    "Predictions",
    "StrArray",
    "patient_max",
    "read_predictions",
]

#: Columns of the predictions table (one row per vertebra).
PREDICTION_COLUMNS = (
    "case_id",
    "patient_id",
    "level",
    "split",
    "fold",
    "genant_grade",
    "morphology",
    "fracture_probability",
    "p_grade_ge2",
    "p0",
    "p1",
    "p2",
    "p3",
    "predicted_grade",
    "predicted_morphology",
    "height_loss_pct",
    "morph_grade",
)
#: ``validation``: out-of-fold predictions (thresholds are chosen on them); ``test``: held out.
SPLITS = ("validation", "test")
#: Binary targets: name -> the lowest Genant grade that counts as positive.
TARGETS = {"ge1": 1, "ge2": 2}
_TEXT = ("case_id", "patient_id", "level", "split", "morphology", "predicted_morphology")
#: Numeric columns: kind (``p`` probability, ``g`` grade 0-3, ``x`` number), empty allowed.
_NUMBERS = {
    "genant_grade": ("g", False),
    "fracture_probability": ("p", False),
    "p_grade_ge2": ("p", False),
    "p0": ("p", False),
    "p1": ("p", False),
    "p2": ("p", False),
    "p3": ("p", False),
    "predicted_grade": ("g", False),
    "height_loss_pct": ("x", True),
    "morph_grade": ("g", True),
}
_ALLOWED = {"p": "a probability in [0, 1]", "g": "a Genant grade 0-3", "x": "a number"}

StrArray = npt.NDArray[np.str_]
"""Array of text values (ids, levels, morphologies)."""


@dataclass(frozen=True)
class Predictions:
    """The predictions table as arrays of shape ``(n,)``, read by :func:`read_predictions`.

    Args:
        source: Where the table came from (its path, or ``"rows"``), for messages.
        text: ``case_id``, ``patient_id``, ``level``, ``split``, ``morphology`` and
            ``predicted_morphology`` (lower case; ``""`` when unknown).
        numbers: The numeric columns (:data:`PREDICTION_COLUMNS`) as float64, NaN when empty
            (only ``height_loss_pct`` and ``morph_grade`` may be).

    """

    source: str
    text: dict[str, StrArray]
    numbers: dict[str, Float64Array]

    def __len__(self) -> int:
        return int(self.numbers["genant_grade"].size)

    @property
    def patients(self) -> StrArray:
        """Patient of each vertebra."""
        return self.text["patient_id"]

    @property
    def grade(self) -> IntArray:
        """True Genant grade 0-3 of each vertebra."""
        return self.numbers["genant_grade"].astype(np.int64)

    @property
    def height_loss(self) -> Float64Array:
        """Morphometry's height loss (percent), NaN where it was not measured."""
        return self.numbers["height_loss_pct"]

    def rows(self, split: str) -> IntArray:
        """Indices of the rows of ``split``."""
        return np.flatnonzero(self.text["split"] == split)

    def truth(self, target: str) -> IntArray:
        """0/1 truth for ``target`` (``ge1``: grade >= 1, ``ge2``: grade >= 2)."""
        return (self.grade >= TARGETS[target]).astype(np.int64)

    def summary(self, rows: IntArray) -> dict[str, int]:
        """Counts of ``rows``: vertebrae, cases, patients, vertebrae without a height loss.

        Per target also ``positive_vertebrae_<target>``, ``positive_patients_<target>`` and
        ``negative_patients_<target>``.
        """
        patients = self.patients[rows]
        out = {
            "vertebrae": int(rows.size),
            "cases": int(np.unique(self.text["case_id"][rows]).size),
            "patients": int(np.unique(patients).size),
            "without_height_loss": int(np.isnan(self.height_loss[rows]).sum()),
        }
        for target in TARGETS:
            y = self.truth(target)[rows]
            labels = patient_max(patients, y, y)[1]
            out[f"positive_vertebrae_{target}"] = int(y.sum())
            out[f"positive_patients_{target}"] = int(labels.sum())
            out[f"negative_patients_{target}"] = int(labels.size - labels.sum())
        return out

    def worst_errors(self, n: int) -> list[dict[str, Any]]:
        """The ``n`` vertebrae (test, else validation) with P(grade >= 1) furthest from truth."""
        rows = self.rows("test") if self.rows("test").size else self.rows("validation")
        error = np.abs(self.truth("ge1")[rows] - self.model_score("ge1")[rows])
        return [
            {
                "case_id": str(self.text["case_id"][i]),
                "level": str(self.text["level"][i]),
                "genant_grade": int(self.grade[i]),
                "fracture_probability": float(self.model_score("ge1")[i]),
                "predicted_grade": int(self.numbers["predicted_grade"][i]),
                "height_loss_pct": float(self.height_loss[i]),
            }
            for i in rows[np.argsort(-error, kind="stable")][:n]
        ]

    def model_score(self, target: str) -> Float64Array:
        """The model's P(grade >= 1) or P(grade >= 2) for ``target``."""
        return self.numbers["fracture_probability" if target == "ge1" else "p_grade_ge2"]


def read_predictions(predictions: PathLike | Sequence[Mapping[str, Any]]) -> Predictions:
    """Read and check a predictions table: a CSV path or one mapping per row.

    Raises:
        InputError: One line, ``predictions SOURCE: <every problem>; <fix>``: a missing file
            or column, a bad value (first per column), a case in two patients, a vertebra
            twice in a split, or a patient in both splits.

    """
    if isinstance(predictions, str | os.PathLike):
        path = Path(predictions)
        if not path.is_file():
            raise InputError(f"predictions {path}: file not found; give the predictions CSV")
        with path.open(newline="", encoding="utf-8") as handle:
            source, rows = str(path), [dict(row) for row in csv.DictReader(handle)]
    else:
        source, rows = "rows", [dict(row) for row in predictions]
    if not rows:
        raise InputError(f"predictions {source}: no rows; give one row per vertebra")
    missing = [c for c in PREDICTION_COLUMNS if c not in rows[0]]
    if missing:
        others = [c for c in rows[0] if c not in PREDICTION_COLUMNS]
        hints = "".join(did_you_mean(m, others) for m in missing)
        raise InputError(
            f"predictions {source}: missing column(s) {', '.join(missing)}{hints}; "
            f"required: {', '.join(PREDICTION_COLUMNS)}"
        )
    problems: list[str] = []
    text = {c: np.array([_text(r[c], c) for r in rows], dtype=np.str_) for c in _TEXT}
    bad_split = [(k, s) for k, s in enumerate(text["split"].tolist()) if s not in SPLITS]
    if bad_split:
        k, value = bad_split[0]
        problems.append(
            f"row {k + 2}: split={value!r} is not valid{did_you_mean(value, SPLITS)}"
            f" (allowed: {', '.join(SPLITS)})"
        )
    numbers = {c: _column(rows, c, kind, empty, problems) for c, (kind, empty) in _NUMBERS.items()}
    table = Predictions(source, text, numbers)
    problems += _consistency(table)
    if problems:
        shown = "; ".join(problems[:6]) + (f"; {len(problems) - 6} more" if problems[6:] else "")
        raise InputError(f"predictions {source}: {shown}; fix the table and run again")
    return table


def _text(value: Any, column: str) -> str:
    text = "" if value is None else str(value).strip()
    return text.lower() if "morphology" in column else text


def _column(
    rows: list[dict[str, Any]], column: str, kind: str, empty: bool, problems: list[str]
) -> Float64Array:
    """One numeric column, NaN when empty; its first bad value is added to ``problems``."""
    values = np.full(len(rows), np.nan)
    for k, row in enumerate(rows):
        raw = row[column]
        try:
            value = math.nan if raw is None or str(raw).strip() == "" else float(raw)
        except (TypeError, ValueError):
            value = math.inf  # not a number
        if math.isnan(value) and empty:
            continue
        if (
            not math.isfinite(value)
            or (kind == "p" and not 0.0 <= value <= 1.0)
            or (kind == "g" and value not in GRADES)
        ):
            allowed = _ALLOWED[kind] + (" or empty" if empty else "")
            problems.append(f"row {k + 2}: {column}={raw!r} is not {allowed}")
            break
        values[k] = value
    return values


def _consistency(table: Predictions) -> list[str]:
    """Problems across rows: a case in two patients, duplicates, a patient in both splits."""
    problems = []
    patient_of: dict[str, str] = {}
    for case, patient in zip(table.text["case_id"].tolist(), table.patients.tolist(), strict=True):
        if patient_of.setdefault(case, patient) != patient:
            problems.append(f"case {case} is in two patients ({patient_of[case]}, {patient})")
    seen: set[tuple[str, ...]] = set()
    for key in zip(*(table.text[c].tolist() for c in ("split", "case_id", "level")), strict=True):
        if key in seen:
            problems.append(f"vertebra {key[1]} {key[2]} appears twice in the {key[0]} rows")
        seen.add(key)
    both = set(table.patients[table.rows("validation")].tolist()) & set(
        table.patients[table.rows("test")].tolist()
    )
    if both:
        problems.append(f"patient(s) {', '.join(sorted(both)[:3])} in both validation and test")
    return problems


def patient_max(
    patient_ids: Any, y_true: Any, scores: Any
) -> tuple[npt.NDArray[Any], IntArray, Float64Array]:
    """Per patient: positive when any of its vertebrae is; its score is their maximum.

    Args:
        patient_ids: Patient of each vertebra, shape ``(n,)``.
        y_true: 0/1 truth of each vertebra, shape ``(n,)``.
        scores: Score of each vertebra (probability or height loss), shape ``(n,)``.

    Returns:
        Sorted unique patients ``(m,)``, their 0/1 truth ``(m,)`` and maximum score ``(m,)``.

    """
    ids, inverse = np.unique(np.asarray(patient_ids), return_inverse=True)
    inverse = inverse.ravel()
    labels = np.zeros(ids.size, dtype=np.int64)
    np.maximum.at(labels, inverse, np.asarray(y_true, dtype=np.int64))
    best = np.full(ids.size, -np.inf)
    np.maximum.at(best, inverse, np.asarray(scores, dtype=np.float64))
    return ids, labels, best
