"""Inter-reader agreement of the workstation's finished readings, per pair of readers.

The statistics and the loop over pairs of readers come from :mod:`fracturelab.evaluation`
(:func:`~fracturelab.evaluation.reader_pairs`); this module gathers the answers (finished
readings, like the export) and shapes the report.

- Spine: the items are (case, level) pairs. A pair of readers is compared on the levels both
  graded (not "not assessable", grade given): quadratic-weighted Cohen's kappa of the Genant
  grades, and percent agreement with Cohen's kappa on fractured yes/no (grade >= 1). With more
  than two readers, Fleiss' kappa (nominal) of the grades over the levels every reader graded.
- Femur: the items are cases. Label agreement and Cohen's kappa on AFF against NFF over the
  cases both readers labelled; the distance between their fracture centres where both placed
  one, in mm from the case's ``pixel_spacing_mm`` (in pixels, and said so, when a case
  lacks it).

A statistic that cannot be computed (fewer than 2 common items, or kappa 0/0 because every
rating is the same) is NaN, with the reason in the report's notes.
"""

from __future__ import annotations

import json
import math
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from fracturelab.errors import InputError
from fracturelab.evaluation import (
    GENANT_GRADES,
    MIN_COMMON_ITEMS,
    BinaryAgreement,
    FleissKappa,
    PairAgreement,
    binary_agreement,
    center_distances_mm,
    fleiss_kappa,
    reader_pairs,
    weighted_kappa,
)
from fracturelab.femur.contract import AFF, NFF
from fracturelab.outputs import atomic_write_text, csv_text
from fracturelab.workstation.answers import FEMUR_KEY
from fracturelab.workstation.exporter import gather_readings
from fracturelab.workstation.worklist import check_task

__all__ = [
    "FEMUR_CSV_COLUMNS",
    "FEMUR_LABELS",
    "SPINE_CSV_COLUMNS",
    "AgreementReport",
    "FemurPair",
    "SpinePair",
    "agreement_report",
    "femur_agreement",
    "spine_agreement",
    "write_report",
]

#: Femur labels in the order used for kappa; AFF counts as the positive call.
FEMUR_LABELS = (NFF, AFF)
#: Columns of ``agreement.csv`` for the spine (one row per pair of readers).
SPINE_CSV_COLUMNS = (
    "reader_a", "reader_b", "n_levels", "grade_kappa_quadratic", "grade_exact_agreement",
    "fractured_agreement", "fractured_kappa", "both_fractured", "both_not_fractured",
    "only_a_fractured", "only_b_fractured",
)  # fmt: skip
#: Columns of ``agreement.csv`` for the femur (one row per pair of readers).
FEMUR_CSV_COLUMNS = (
    "reader_a", "reader_b", "n_cases", "n_labelled", "label_agreement", "label_kappa",
    "both_aff", "both_nff", "only_a_aff", "only_b_aff", "n_centres", "distance_unit",
    "distance_median", "distance_mean", "distance_max",
)  # fmt: skip
Item = tuple[str, str]  # (case name, answer key)


@dataclass(frozen=True)
class SpinePair:
    """Agreement of two readers on the vertebrae both graded.

    Attributes:
        reader_a: First reader (alphabetical order).
        reader_b: Second reader.
        n_levels: Levels (case, vertebra) both readers graded.
        grades: Quadratic-weighted kappa of the grades; ``None`` with fewer than 2 levels.
        fractured: Agreement on fractured (grade >= 1) yes/no; ``None`` with fewer than 2.

    """

    reader_a: str
    reader_b: str
    n_levels: int
    grades: PairAgreement | None
    fractured: BinaryAgreement | None


@dataclass(frozen=True)
class FemurPair:
    """Agreement of two readers on the femur cases both answered.

    Attributes:
        reader_a: First reader (alphabetical order).
        reader_b: Second reader.
        n_cases: Cases both readers answered (anything, "not assessable" included).
        labels: Agreement on AFF (positive) against NFF over the cases both labelled;
            ``None`` with fewer than 2 such cases.
        n_labelled: Cases both readers labelled AFF or NFF.
        distances: Centre distance per case where both placed a centre, in ``unit``.
        unit: ``"mm"`` or ``"px"`` (the report's unit).

    """

    reader_a: str
    reader_b: str
    n_cases: int
    labels: BinaryAgreement | None
    n_labelled: int
    distances: tuple[float, ...]
    unit: str

    @property
    def distance_median(self) -> float:
        """Median centre distance (NaN when no case has two centres)."""
        return float(np.median(self.distances)) if self.distances else math.nan

    @property
    def distance_mean(self) -> float:
        """Mean centre distance (NaN when no case has two centres)."""
        return float(np.mean(self.distances)) if self.distances else math.nan

    @property
    def distance_max(self) -> float:
        """Largest centre distance (NaN when no case has two centres)."""
        return float(np.max(self.distances)) if self.distances else math.nan


@dataclass
class AgreementReport:
    """Agreement of every pair of readers of one task.

    Attributes:
        task: ``"spine"`` or ``"femur"``.
        readers: Readers with finished answers, alphabetical.
        spine_pairs: Spine: one entry per pair of readers.
        femur_pairs: Femur: one entry per pair of readers.
        fleiss: Spine with more than 2 readers: Fleiss' kappa of the grades over the levels
            every reader graded (``None`` otherwise, or when fewer than 2 such levels).
        fleiss_readers: The readers Fleiss' kappa is over.
        unit: Femur centre distances: ``"mm"`` or ``"px"``.
        notes: What could not be computed, and why.

    """

    task: str
    readers: list[str]
    spine_pairs: list[SpinePair] = field(default_factory=list)
    femur_pairs: list[FemurPair] = field(default_factory=list)
    fleiss: FleissKappa | None = None
    fleiss_readers: list[str] = field(default_factory=list)
    unit: str = "mm"
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The report as JSON-ready data (NaN becomes ``null``)."""
        data: dict[str, Any] = {
            "task": self.task,
            "readings": "finished",
            "readers": self.readers,
            "pairs": self.rows(),
        }
        if self.task == "spine":
            data["fleiss"] = None
            if self.fleiss is not None:
                data["fleiss"] = {
                    "readers": self.fleiss_readers,
                    "n_levels": self.fleiss.n_items,
                    "kappa": _number(self.fleiss.kappa),
                    "observed_agreement": _number(self.fleiss.observed_agreement),
                    "expected_agreement": _number(self.fleiss.expected_agreement),
                    "per_grade": {str(k): _number(v) for k, v in self.fleiss.per_category.items()},
                }
        else:
            data["distance_unit"] = self.unit
        data["notes"] = self.notes
        return data

    def to_csv(self) -> str:
        """One CSV row per pair of readers (empty cells where a value is undefined)."""
        rows = [{k: "" if v is None else v for k, v in row.items()} for row in self.rows()]
        return csv_text(self.columns, rows)

    @property
    def columns(self) -> tuple[str, ...]:
        """The CSV columns of this task."""
        return SPINE_CSV_COLUMNS if self.task == "spine" else FEMUR_CSV_COLUMNS

    def rows(self) -> list[dict[str, Any]]:
        """One dict per pair of readers, keyed by :attr:`columns`; ``None`` where undefined."""
        rows = [_spine_row(p) for p in self.spine_pairs] + [_femur_row(p) for p in self.femur_pairs]
        return [{column: row.get(column) for column in self.columns} for row in rows]


def _spine_row(pair: SpinePair) -> dict[str, Any]:
    row: dict[str, Any] = {
        "reader_a": pair.reader_a, "reader_b": pair.reader_b, "n_levels": pair.n_levels
    }  # fmt: skip
    if pair.grades is not None:
        row["grade_kappa_quadratic"] = _number(pair.grades.kappa)
        row["grade_exact_agreement"] = _number(pair.grades.observed_agreement)
    if pair.fractured is not None:
        f = pair.fractured
        row["fractured_agreement"] = _number(f.observed_agreement)
        row["fractured_kappa"] = _number(f.kappa)
        row["both_fractured"], row["both_not_fractured"] = f.both_positive, f.both_negative
        row["only_a_fractured"], row["only_b_fractured"] = f.only_a, f.only_b
    return row


def _femur_row(pair: FemurPair) -> dict[str, Any]:
    row: dict[str, Any] = {
        "reader_a": pair.reader_a, "reader_b": pair.reader_b, "n_cases": pair.n_cases,
        "n_labelled": pair.n_labelled, "n_centres": len(pair.distances),
        "distance_unit": pair.unit, "distance_median": _number(pair.distance_median),
        "distance_mean": _number(pair.distance_mean), "distance_max": _number(pair.distance_max),
    }  # fmt: skip
    if pair.labels is not None:
        b = pair.labels
        row["label_agreement"] = _number(b.observed_agreement)
        row["label_kappa"] = _number(b.kappa)
        row["both_aff"], row["both_nff"] = b.both_positive, b.both_negative
        row["only_a_aff"], row["only_b_aff"] = b.only_a, b.only_b
    return row


def _number(value: float) -> float | None:
    """``value`` rounded for output, ``None`` for NaN."""
    return None if math.isnan(value) else round(float(value), 6)


def _answers_by_reader(session: Session, task: str) -> dict[str, dict[Item, dict[str, Any]]]:
    """Reader -> (case name, key) -> answer, from finished readings (as the export uses)."""
    cases, by_case, _ = gather_readings(session, task, None, "majority")
    names = {case.id: case.name for case in cases}
    result: dict[str, dict[Item, dict[str, Any]]] = {}
    for case_id, readings in by_case.items():
        for reading in readings:
            answers = result.setdefault(reading.reader.username, {})
            for answer in reading.answers:
                answers[(names[case_id], answer.key)] = answer.value
    return {reader: result[reader] for reader in sorted(result) if result[reader]}


def _check_readers(task: str, readers: Sequence[str]) -> None:
    if len(readers) < 2:
        found = f"1 ({readers[0]})" if readers else "none"
        raise InputError(
            f"agreement needs finished {task} readings from at least 2 readers, found {found}; "
            "assign the same cases to several readers and let them mark the cases done"
        )


def _grade(answer: dict[str, Any] | None) -> int | None:
    if answer is None or answer.get("not_assessable"):
        return None
    grade = answer.get("genant_grade")
    return None if grade is None else int(grade)


def _pair_name(a: str, b: str) -> str:
    return f"{a} / {b}"


def spine_agreement(session: Session) -> AgreementReport:
    """Agreement on Genant grades between every pair of readers, and Fleiss' kappa for > 2.

    Args:
        session: Open session.

    Returns:
        The report; :attr:`AgreementReport.spine_pairs` holds one entry per pair.

    Raises:
        InputError: If fewer than 2 readers have finished spine readings, or no pair of
            readers graded at least 2 of the same levels.

    """
    by_reader = _answers_by_reader(session, "spine")
    readers = list(by_reader)
    _check_readers("spine", readers)
    grades = {
        reader: {item: g for item, answer in answers.items() if (g := _grade(answer)) is not None}
        for reader, answers in by_reader.items()
    }
    report = AgreementReport("spine", readers)
    for pair in reader_pairs(grades):
        a, b, n_common = pair.reader_a, pair.reader_b, len(pair.items)
        if n_common < MIN_COMMON_ITEMS:
            report.notes.append(
                f"{_pair_name(a, b)}: {n_common} level(s) graded by both; need at least "
                f"{MIN_COMMON_ITEMS} for a kappa"
            )
            report.spine_pairs.append(SpinePair(a, b, n_common, None, None))
            continue
        ga, gb = pair.ratings_a, pair.ratings_b
        kappa = weighted_kappa(ga, gb, "quadratic", GENANT_GRADES)
        fractured = binary_agreement(ga, gb, GENANT_GRADES, positive_from=1)
        _note_undefined(report, f"{_pair_name(a, b)} grade kappa", kappa.undefined_reason)
        _note_undefined(report, f"{_pair_name(a, b)} fractured kappa", fractured.undefined_reason)
        report.spine_pairs.append(SpinePair(a, b, n_common, kappa, fractured))
    if all(pair.grades is None for pair in report.spine_pairs):
        raise InputError(
            "no two readers graded at least 2 of the same vertebrae; assign the same spine "
            "cases to several readers"
        )
    graders = [reader for reader in readers if grades[reader]]
    if len(graders) > 2:
        _add_fleiss(report, graders, grades)
    return report


def _add_fleiss(
    report: AgreementReport, readers: list[str], grades: dict[str, dict[Item, int]]
) -> None:
    shared = set.intersection(*(set(grades[r]) for r in readers))
    if len(shared) < MIN_COMMON_ITEMS:
        report.notes.append(
            f"Fleiss' kappa: {len(shared)} level(s) graded by all {len(readers)} readers; "
            f"need at least {MIN_COMMON_ITEMS}"
        )
        return
    table = [[grades[r][item] for r in readers] for item in sorted(shared)]
    report.fleiss = fleiss_kappa(table, GENANT_GRADES)
    report.fleiss_readers = list(readers)
    _note_undefined(report, "Fleiss' kappa", report.fleiss.undefined_reason)


def _note_undefined(report: AgreementReport, what: str, reason: str | None) -> None:
    if reason is not None:
        report.notes.append(f"{what} is undefined: {reason}")


def _label(answer: dict[str, Any]) -> str | None:
    if answer.get("not_assessable"):
        return None
    label = answer.get("label")
    return str(label) if label in FEMUR_LABELS else None


def _centre(answer: dict[str, Any]) -> tuple[float, float]:
    x, y = answer.get("center_x"), answer.get("center_y")
    if answer.get("not_assessable") or x is None or y is None:
        return (math.nan, math.nan)
    return (float(x), float(y))


def femur_agreement(session: Session) -> AgreementReport:
    """Agreement on AFF/NFF and on the fracture centre between every pair of readers.

    Distances are in mm when every case where two readers placed a centre has a pixel
    spacing, otherwise in pixels for all cases (with a note).

    Args:
        session: Open session.

    Returns:
        The report; :attr:`AgreementReport.femur_pairs` holds one entry per pair.

    Raises:
        InputError: If fewer than 2 readers have finished femur readings, or no pair of
            readers answered a common case.

    """
    from fracturelab.workstation.worklist import list_cases

    spacing_of = {case.name: case.pixel_spacing_mm for case in list_cases(session, "femur")}
    by_reader = {
        reader: {case: answer for (case, key), answer in answers.items() if key == FEMUR_KEY}
        for reader, answers in _answers_by_reader(session, "femur").items()
    }
    readers = [reader for reader, answers in by_reader.items() if answers]
    _check_readers("femur", readers)
    centres = {
        reader: {case: _centre(answer) for case, answer in answers.items()}
        for reader, answers in by_reader.items()
    }
    pairs = [
        (pair.reader_a, pair.reader_b, [str(case) for case in pair.items])
        for pair in reader_pairs({reader: by_reader[reader] for reader in readers})
    ]
    if not any(common for _, _, common in pairs):
        raise InputError(
            "no two readers finished the same femur case; assign the same cases to several readers"
        )
    without = sorted(
        {
            case
            for a, b, common in pairs
            for case in common
            if _placed(centres[a][case])
            and _placed(centres[b][case])
            and spacing_of.get(case) is None
        }
    )
    report = AgreementReport("femur", readers, unit="px" if without else "mm")
    if without:
        report.notes.append(
            f"{len(without)} case(s) with two fracture centres have no pixel_spacing_mm "
            f"(e.g. {without[0]}); centre distances are in pixels, not mm"
        )
    for a, b, common in pairs:
        report.femur_pairs.append(_femur_pair(report, a, b, common, by_reader, centres, spacing_of))
    return report


def _placed(centre: tuple[float, float]) -> bool:
    return not math.isnan(centre[0])


def _femur_pair(
    report: AgreementReport,
    a: str,
    b: str,
    common: list[str],
    by_reader: dict[str, dict[str, dict[str, Any]]],
    centres: dict[str, dict[str, tuple[float, float]]],
    spacing_of: dict[str, float | None],
) -> FemurPair:
    name = _pair_name(a, b)
    labels_a = [_label(by_reader[a][case]) for case in common]
    labels_b = [_label(by_reader[b][case]) for case in common]
    n_labelled = sum(
        x is not None and y is not None for x, y in zip(labels_a, labels_b, strict=True)
    )
    labels: BinaryAgreement | None = None
    if n_labelled >= MIN_COMMON_ITEMS:
        order: Sequence[Hashable] = FEMUR_LABELS
        labels = binary_agreement(labels_a, labels_b, order, positive_from=AFF)
        _note_undefined(report, f"{name} label kappa", labels.undefined_reason)
    else:
        report.notes.append(
            f"{name}: {n_labelled} case(s) labelled AFF/NFF by both; need at least "
            f"{MIN_COMMON_ITEMS} for a kappa"
        )
    distances: tuple[float, ...] = ()
    if common:
        spacing = [_spacing_xy(spacing_of.get(case), report.unit) for case in common]
        points = {reader: [centres[reader][case] for case in common] for reader in (a, b)}
        result = center_distances_mm(points, spacing)[(a, b)]
        distances = tuple(float(d) for d in result.mm if np.isfinite(d))
    if not distances:
        report.notes.append(f"{name}: no case where both placed a fracture centre")
    return FemurPair(a, b, len(common), labels, n_labelled, distances, report.unit)


def _spacing_xy(spacing_mm: float | None, unit: str) -> tuple[float, float]:
    """Spacing (x, y) for :func:`center_distances_mm`: 1 px in pixels, NaN where unknown."""
    if unit == "px":
        return (1.0, 1.0)
    if spacing_mm is None:
        return (math.nan, math.nan)
    return (spacing_mm, spacing_mm)


def agreement_report(session: Session, task: str) -> AgreementReport:
    """The agreement report of ``task`` (``spine`` or ``femur``).

    Raises:
        InputError: For an unknown task or too few readers (see :func:`spine_agreement`,
            :func:`femur_agreement`).

    """
    if check_task(task) == "spine":
        return spine_agreement(session)
    return femur_agreement(session)


def write_report(report: AgreementReport, out_dir: str | Path) -> tuple[Path, Path]:
    """Write ``agreement.json`` and ``agreement.csv`` into ``out_dir``, each atomically.

    Returns:
        The paths of the JSON and the CSV file.

    """
    folder = Path(out_dir)
    if folder.exists() and not folder.is_dir():
        raise InputError(f"--out {folder} is a file; give a folder")
    text = json.dumps(report.to_json(), indent=2, allow_nan=False) + "\n"
    json_path = atomic_write_text(folder / "agreement.json", text)
    csv_path = atomic_write_text(folder / "agreement.csv", report.to_csv())
    return json_path, csv_path
