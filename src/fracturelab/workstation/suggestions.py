"""Per-level spine suggestions pre-filled in the reader's form, from a spine reading.

A suggestion is ``{level: {...}}`` in cranio-caudal order. From morphometry alone each level
holds ``genant_grade``, ``morphology`` and ``height_loss_pct``; from a learned model (``spine
analyze --model``) also ``fracture_probability``, ``grade_probabilities`` and ``source`` =
``"model"``, with the model's grade and morphology. The same function serves cases imported
from image folders (``workstation import spine --suggest``) and flagged scans of the
background reader (``workstation import findings``), which store the reading as
``vertebrae.json``.
"""

from __future__ import annotations

from typing import Any

from fracturelab.spine.report import SpineReport

__all__ = ["spine_suggestion_from_report"]


def spine_suggestion_from_report(report: SpineReport) -> dict[str, Any]:
    """The suggestion of every vertebra of ``report``.

    Args:
        report: A spine reading; with ``report.model`` set (a model was applied) the grade
            and morphology are the model's, else morphometry's.

    Returns:
        ``{level: {"genant_grade", "morphology", "height_loss_pct"[, "fracture_probability",
        "grade_probabilities", "source"]}}``; values are ``None`` where the vertebra was not
        graded (or the model could not see it).

    """
    suggestion: dict[str, Any] = {}
    for vertebra in report.vertebrae:
        loss = None if vertebra.height_loss_pct is None else round(vertebra.height_loss_pct, 1)
        if report.model is None:
            suggestion[vertebra.level] = {
                "genant_grade": vertebra.genant_grade,
                "morphology": vertebra.morphology,
                "height_loss_pct": loss,
            }
            continue
        outputs = vertebra.model or {}
        suggestion[vertebra.level] = {
            "genant_grade": outputs.get("model_grade"),
            "morphology": outputs.get("model_morphology"),
            "height_loss_pct": loss,
            "fracture_probability": outputs.get("fracture_probability"),
            "grade_probabilities": outputs.get("model_grade_probabilities"),
            "source": "model",
        }
    return suggestion
