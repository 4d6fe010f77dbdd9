"""Which scans to flag for review, and the findings table of ``batch export``."""

from __future__ import annotations

from typing import Any

from fracturelab.batch.record import ScanRecord

__all__ = ["FINDINGS_COLUMNS", "finding_rows", "flagged_vertebrae", "is_flagged"]

#: Columns of ``findings.csv``: one row per graded or model-scored vertebra of a done scan.
FINDINGS_COLUMNS: tuple[str, ...] = (
    "key",
    "series_uid",
    "study_uid",
    "patient_id",
    "case_id",
    "source",
    "out_dir",
    "level",
    "status",
    "genant_grade",
    "morphology",
    "height_loss_pct",
    "fracture_probability",
    "flagged",
    "algorithm_version",
    "model_hash",
)


def _vertebra_flagged(
    vertebra: dict[str, Any], min_grade: int, min_probability: float | None
) -> bool:
    grade = vertebra.get("genant_grade")
    if grade is not None and int(grade) >= min_grade:
        return True
    probability = vertebra.get("fracture_probability")
    return (
        min_probability is not None
        and probability is not None
        and float(probability) >= min_probability
    )


def flagged_vertebrae(
    result: dict[str, Any], *, min_grade: int = 2, min_probability: float | None = None
) -> list[str]:
    """The levels of ``result`` (a ``vertebrae.json`` document) at or above a limit."""
    return [
        str(v.get("level"))
        for v in result.get("vertebrae", [])
        if _vertebra_flagged(v, min_grade, min_probability)
    ]


def is_flagged(
    result: dict[str, Any], *, min_grade: int = 2, min_probability: float | None = None
) -> bool:
    """Whether a result has a vertebra at or above a grade or probability.

    A vertebra counts when its Genant grade is >= ``min_grade``, or its model's
    ``fracture_probability`` is >= ``min_probability`` (when given).

    Args:
        result: A ``vertebrae.json`` document.
        min_grade: Lowest Genant grade flagged (0-3).
        min_probability: Lowest ``fracture_probability`` flagged; ``None``: grade only.

    """
    return bool(flagged_vertebrae(result, min_grade=min_grade, min_probability=min_probability))


def finding_rows(
    records: list[ScanRecord],
    *,
    flagged_only: bool = False,
    min_grade: int = 2,
    min_probability: float | None = None,
) -> list[dict[str, Any]]:
    """Rows of ``findings.csv`` for the done records (see :data:`FINDINGS_COLUMNS`)."""
    rows = []
    for record in records:
        if record.state != "done" or not record.result:
            continue
        if flagged_only and not is_flagged(
            record.result, min_grade=min_grade, min_probability=min_probability
        ):
            continue
        for vertebra in record.result.get("vertebrae", []):
            flagged = _vertebra_flagged(vertebra, min_grade, min_probability)
            if flagged_only and not flagged:
                continue
            rows.append(
                {
                    "key": record.key,
                    "series_uid": record.series_uid or "",
                    "study_uid": record.study_uid or "",
                    "patient_id": record.patient_id or "",
                    "case_id": record.case_id or "",
                    "source": record.source,
                    "out_dir": record.out_dir or "",
                    "level": vertebra.get("level"),
                    "status": vertebra.get("status"),
                    "genant_grade": _blank(vertebra.get("genant_grade")),
                    "morphology": _blank(vertebra.get("morphology")),
                    "height_loss_pct": _blank(vertebra.get("height_loss_pct")),
                    "fracture_probability": _blank(vertebra.get("fracture_probability")),
                    "flagged": "true" if flagged else "false",
                    "algorithm_version": record.algorithm_version,
                    "model_hash": record.model_hash or "",
                }
            )
    return rows


def _blank(value: Any) -> Any:
    return "" if value is None else value
