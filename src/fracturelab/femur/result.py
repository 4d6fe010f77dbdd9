"""The record of a finished femur experiment and its per-image prediction files.

Read-only reporting (:mod:`~fracturelab.femur.analysis`, :mod:`~fracturelab.femur.figures`,
:mod:`~fracturelab.femur.report`) works from this record alone and never imports the trainer
(:mod:`~fracturelab.femur.experiment`), which fills it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from fracturelab.evaluation import LocalisationErrors, localisation_errors
from fracturelab.femur.bundle import FemurModel
from fracturelab.femur.config import ExperimentConfig
from fracturelab.femur.data import PreparedImage
from fracturelab.femur.splits import Splits
from fracturelab.outputs import write_csv
from fracturelab.typing import Float64Array, FloatArray, IntArray

__all__ = [
    "LOCALISATION_COLUMNS",
    "PROBABILITY_COLUMNS",
    "ExperimentResult",
    "model_name",
    "write_predictions",
]

#: Columns of ``localisation.csv``: one row per image and localizer backbone.
LOCALISATION_COLUMNS: tuple[str, ...] = (
    "image", "patient_id", "label", "split", "backbone", "true_x", "true_y", "pred_x", "pred_y",
    "error_px", "error_mm", "stage",
)  # fmt: skip
#: Columns of ``probabilities.csv``: one row per image and classifier.
PROBABILITY_COLUMNS: tuple[str, ...] = (
    "image", "patient_id", "label", "split", "approach", "backbone", "p_aff",
)  # fmt: skip


def model_name(approach: str, backbone: str) -> str:
    """Display name of a classifier, e.g. ``patch-cnn``."""
    return f"{approach}-{backbone}"


@dataclass
class ExperimentResult:
    """Raw predictions of a finished experiment (metrics are computed from these).

    Attributes:
        out: The run folder.
        config: Its settings.
        images: Prepared images, in labelled-manifest order.
        splits: Split of every image.
        centers: Per localizer backbone, predicted centres ``(N, 2)``: out-of-fold for
            development images, from the final model for test images.
        probabilities: Per ``(approach, backbone)``, P(AFF) ``(N,)``, same rule.
        thresholds: Per ``(approach, backbone)``, threshold chosen on out-of-fold predictions.
        best_localizer: Backbone with the lowest out-of-fold localisation error.
        models: Per ``(approach, backbone)``, the final model (used for figures).
        manifest: The manifest the run was made from.
        history: Per trained network, its training history (loss and validation score).
        notes: Remarks for the report (manifest notes, choices made).
        coarse_centers: Per localizer backbone, the first stage's centres ``(N, 2)`` of a
            two-stage localizer (same rule as ``centers``); empty for a single stage.
        best_epochs: Per network trained with validation, the epoch whose weights were kept.
        repeat_probabilities: Per ``(approach, backbone)``, out-of-fold P(AFF) ``(R, N)`` of
            every repetition of the cross-validation (``repeats`` > 1; NaN for test images).

    """

    out: Path
    config: ExperimentConfig
    images: list[PreparedImage]
    splits: Splits
    centers: dict[str, FloatArray]
    probabilities: dict[tuple[str, str], FloatArray]
    thresholds: dict[tuple[str, str], float]
    best_localizer: str
    models: dict[tuple[str, str], FemurModel]
    manifest: Path | None = None
    history: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    coarse_centers: dict[str, FloatArray] = field(default_factory=dict)
    best_epochs: dict[str, int] = field(default_factory=dict)
    repeat_probabilities: dict[tuple[str, str], FloatArray] = field(default_factory=dict)

    @property
    def labels(self) -> IntArray:
        """1 for AFF, 0 for NFF, per image."""
        return np.array([image.label for image in self.images], dtype=np.int64)

    @property
    def truth_xy_px(self) -> Float64Array:
        """True centres ``(N, 2)`` in original pixels."""
        return np.array([image.center_xy_px for image in self.images], dtype=np.float64)

    @property
    def spacing_xy_mm(self) -> Float64Array:
        """Pixel spacing ``(N, 2)`` in mm; rows of NaN where unknown."""
        return np.array(
            [image.spacing_xy_mm or (np.nan, np.nan) for image in self.images], dtype=np.float64
        )

    def errors(self, backbone: str) -> LocalisationErrors:
        """Localisation errors (px and mm) of one localizer backbone for every image."""
        return localisation_errors(self.centers[backbone], self.truth_xy_px, self.spacing_xy_mm)

    def coarse_errors(self, backbone: str) -> LocalisationErrors:
        """Errors of the first stage of a two-stage localizer."""
        return localisation_errors(
            self.coarse_centers[backbone], self.truth_xy_px, self.spacing_xy_mm
        )


def write_predictions(result: ExperimentResult) -> None:
    """Write ``localisation.csv`` and ``probabilities.csv`` (one row per image and model).

    Centres and errors are in original pixels (2 decimals), errors in mm with 3 decimals
    (empty where the pixel spacing is unknown); P(AFF) with 6 decimals. ``stage`` is ``2``
    for the refined centres of a two-stage localizer, ``1`` for its first stage and for a
    single-stage localizer.
    """
    assignment = result.splits.assignment
    localisation = []
    stages = [(b, c, result.errors(b), "2" if b in result.coarse_centers else "1")
              for b, c in result.centers.items()]  # fmt: skip
    stages += [(b, c, result.coarse_errors(b), "1") for b, c in result.coarse_centers.items()]
    for backbone, centers, errors, stage in stages:
        rows = zip(result.images, assignment, centers, errors.px, errors.mm, strict=True)
        for image, split, center, error_px, error_mm in rows:
            tx, ty = image.center_xy_px
            localisation.append(
                [image.row.image_text, image.row.patient_id, image.row.label, split, backbone,
                 f"{tx:.2f}", f"{ty:.2f}", f"{center[0]:.2f}", f"{center[1]:.2f}",
                 f"{error_px:.2f}", f"{error_mm:.3f}" if np.isfinite(error_mm) else "", stage]
            )  # fmt: skip
    write_csv(result.out / "localisation.csv", LOCALISATION_COLUMNS, localisation)
    probabilities = [
        [image.row.image_text, image.row.patient_id, image.row.label, split, approach, backbone,
         f"{value:.6f}"]
        for (approach, backbone), p in result.probabilities.items()
        for image, split, value in zip(result.images, assignment, p, strict=True)
    ]  # fmt: skip
    write_csv(result.out / "probabilities.csv", PROBABILITY_COLUMNS, probabilities)
