"""Running a trained spine model on one scan, and the rule that sets each final grade.

:func:`scan_inputs` cuts a scan's vertebrae into patches exactly as the patch cache cuts them
(the model folder's patch spec, the same morphometry frame, float16 rounding as stored in the
cache, the morphometry features rounded as in ``index.csv``), so that a model applied here
gives the probabilities the evaluation of the same scan gave. :func:`apply_model` adds the
model's outputs to a :class:`~fracturelab.spine.report.SpineReport`. :func:`predict_cache`
runs a model on every graded vertebra of a patch cache (``spine evaluate``) and gives the
rows of the predictions table.

Final-grade rule (``grade_source``, see ``docs/spine-model.md``): morphometry decides the
final ``genant_grade``; the model never changes it. A graded vertebra is
``morphometry_flagged`` (and gets a warning) when the model's grade differs from it by 2 or
more, or when morphometry says grade 0 and the model's P(fracture) reaches the model's
decision threshold (Youden's J on its out-of-fold validation data); otherwise
``morphometry``. A vertebra morphometry did not grade keeps ``genant_grade`` null with
``grade_source`` ``none``; the model's outputs stand beside it for the reader.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from fracturelab.errors import InputError
from fracturelab.imaging import Volume
from fracturelab.spine.labels import VertebraLabelMap
from fracturelab.spine.learned.bundle import MODEL_FILE, SpineModel
from fracturelab.spine.learned.config import MORPHOLOGIES
from fracturelab.spine.learned.data import (
    CacheIndex,
    VertebraRecord,
    load_patches,
    morphometry_features,
)
from fracturelab.spine.patches import PatchSpec, VertebraPatch, extract_patches
from fracturelab.spine.report import SpineReport, VertebraResult
from fracturelab.typing import FloatArray, PathLike

__all__ = [
    "FLAG_GRADE_DIFFERENCE",
    "GRADE_RULE",
    "GRADE_SOURCES",
    "ScanInputs",
    "apply_model",
    "model_patch_spec",
    "model_summary",
    "predict_cache",
    "predict_scan",
    "scan_inputs",
]

#: Values of ``grade_source``.
GRADE_SOURCES: tuple[str, ...] = ("morphometry", "morphometry_flagged", "none")
#: A model grade this far from morphometry's flags the vertebra.
FLAG_GRADE_DIFFERENCE = 2
#: The final-grade rule in words (``summary.model.grade_rule`` of ``vertebrae.json``).
GRADE_RULE = (
    "morphometry decides genant_grade; the model's grade and probability stand beside it; a "
    f"graded vertebra is flagged when the model's grade differs by {FLAG_GRADE_DIFFERENCE}+ "
    "or when morphometry says 0 and P(fracture) >= the model's threshold"
)
_DIGITS = 6
#: Patches read and predicted at once by :func:`predict_cache`.
_CHUNK = 64


@dataclass(frozen=True)
class ScanInputs:
    """A scan's vertebrae cut for a model.

    Attributes:
        patches: One :class:`~fracturelab.spine.patches.VertebraPatch` per vertebra of the
            report, cranio-caudal (``array`` ``None`` where it could not be framed).
        arrays: The patches that exist, float32 ``(C, D, H, W)``, rounded through float16
            as the cache stores them.
        levels: The level of each array.
        morphometry: Fused morphometry features ``(2,)`` per array.

    """

    patches: list[VertebraPatch]
    arrays: list[FloatArray]
    levels: list[str]
    morphometry: list[FloatArray]


def model_patch_spec(model: SpineModel, source: PathLike = "the model folder") -> PatchSpec:
    """The :class:`PatchSpec` the model's training cache was cut with.

    Raises:
        InputError: If the model folder records no usable patch spec.

    """
    spec = model.patch_spec.get("spec") if isinstance(model.patch_spec, dict) else None
    if not isinstance(spec, dict):
        raise InputError(
            f"{source}: {MODEL_FILE} records no patch spec, so its inputs cannot be cut the way "
            "it was trained; retrain it with fracturelab spine train"
        )
    try:
        return PatchSpec.from_dict(spec)
    except (TypeError, ValueError, IndexError) as error:
        raise InputError(
            f"{source}: the patch spec in {MODEL_FILE} is damaged ({error}); retrain the model"
        ) from None


def scan_inputs(
    model: SpineModel,
    ct: Volume,
    label_map: VertebraLabelMap,
    report: SpineReport,
    source: PathLike = "the model folder",
) -> ScanInputs:
    """Cut a scan's vertebrae as the patch cache does, for ``model``.

    Args:
        model: The model (its patch spec is used).
        ct: The CT in HU.
        label_map: Its vertebra label map on the CT's grid.
        report: The morphometry of this CT and label map (its frames place the patches).
        source: The model folder, for messages.

    Raises:
        InputError: If the model records no patch spec, or its patches do not fit it.

    """
    spec = model_patch_spec(model, source)
    patches = extract_patches(ct, label_map, spec, report=report)
    arrays, levels, features = [], [], []
    for patch in patches:
        if patch.array is None:
            continue
        arrays.append(patch.array.astype(np.float16).astype(np.float32))
        levels.append(patch.level)
        loss = math.nan if patch.height_loss_pct is None else round(patch.height_loss_pct, 2)
        features.append(morphometry_features(loss, patch.genant_grade))
    model.check_patches(arrays, str(source))
    return ScanInputs(patches, arrays, levels, features)


def predict_scan(model: SpineModel, inputs: ScanInputs) -> dict[str, dict[str, Any]]:
    """The model's outputs per level (only levels with a patch).

    Returns:
        Level -> ``fracture_probability``, ``model_grade``, ``model_grade_probabilities``
        (``[p0, p1, p2, p3]``) and ``model_morphology`` (the most probable morphology
        consistent with the grade: ``normal`` for grade 0, else the most probable of the
        fracture shapes).

    """
    if not inputs.arrays:
        return {}
    outputs = model.predict(inputs.arrays, inputs.morphometry)
    probabilities = outputs.grade_probabilities
    out: dict[str, dict[str, Any]] = {}
    for k, level in enumerate(inputs.levels):
        grade = int(outputs.predicted_grade[k])
        out[level] = {
            "fracture_probability": round(float(outputs.fracture_probability[k]), _DIGITS),
            "model_grade": grade,
            "model_grade_probabilities": [
                round(float(p), _DIGITS) for p in probabilities[k].tolist()
            ],
            "model_morphology": _morphology(grade, outputs.morphology_probabilities[k]),
        }
    return out


def model_summary(model: SpineModel, folder: PathLike) -> dict[str, Any]:
    """What the report says about the model applied (``summary.model``)."""
    return {
        "folder": str(Path(folder)),
        "backbone": model.backbone,
        "model_size": model.model_size,
        "fracturelab_version": model.info.get("fracturelab_version"),
        "folds": len(model.networks),
        "threshold": round(float(model.threshold), _DIGITS),
        "grade_rule": GRADE_RULE,
    }


def apply_model(
    report: SpineReport,
    model: SpineModel,
    ct: Volume,
    label_map: VertebraLabelMap,
    folder: PathLike,
) -> SpineReport:
    """Add the model's outputs and ``grade_source`` to every vertebra of ``report`` (in place).

    Args:
        report: The morphometry of ``ct`` and ``label_map``.
        model: The loaded model.
        ct: The CT in HU.
        label_map: Its vertebra label map.
        folder: The model folder (recorded in the summary and named in messages).

    Returns:
        ``report``, with ``model`` set on it and on each vertebra.

    Raises:
        InputError: If the model's inputs cannot be cut from this scan as it was trained.

    """
    inputs = scan_inputs(model, ct, label_map, report, folder)
    predictions = predict_scan(model, inputs)
    for vertebra in report.vertebrae:
        found = predictions.get(vertebra.level)
        vertebra.model = {
            "fracture_probability": None,
            "model_grade": None,
            "model_grade_probabilities": None,
            "model_morphology": None,
            **(found or {}),
        }
        source, warning = _grade_source(vertebra, found, model.threshold)
        vertebra.model["grade_source"] = source
        if warning:
            vertebra.warnings.append(warning)
    report.model = model_summary(model, folder)
    return report


def predict_cache(
    model: SpineModel,
    cache_dir: PathLike,
    split: str = "test",
    progress: Any = None,
) -> tuple[list[dict[str, Any]], list[VertebraRecord], list[dict[str, str]]]:
    """Predict every graded vertebra of a patch cache cut with the model's spec.

    Args:
        model: The model.
        cache_dir: A patch cache (:func:`fracturelab.spine.patch_cache.prepare_cache`) cut
            with :func:`model_patch_spec`.
        split: The ``split`` of every row (``test``: data the model did not train on).
        progress: Called as ``progress(done, total)`` after each chunk of patches, if given.

    Returns:
        The predictions table's rows (the columns of
        :data:`~fracturelab.spine.learned.predictions_table.PREDICTION_COLUMNS`; ``fold``
        empty: the mean of the fold networks, as for a run's test rows), the records in the
        same order, and
        the cache rows without a patch (``status`` other than ``ok``).

    Raises:
        InputError: For a cache cut with another spec, a bad index, or patches that do not
            fit the model.

    """
    cache = CacheIndex.read(cache_dir)
    wanted = model_patch_spec(model).to_dict()
    cut = cache.spec.get("spec")
    if isinstance(cut, dict) and PatchSpec.from_dict(cut).to_dict() != wanted:
        raise InputError(
            f"cache {cache.folder}: its patches were cut with {cut}, but the model takes "
            f"{wanted}; give another --cache folder"
        )
    records = cache.records()
    rows: list[dict[str, Any]] = []
    for start in range(0, len(records), _CHUNK):
        chunk = records[start : start + _CHUNK]
        features = [morphometry_features(r.height_loss_pct, r.morph_grade) for r in chunk]
        outputs = model.predict(load_patches(chunk), features)
        grades = outputs.grade_probabilities
        for j, record in enumerate(chunk):
            rows.append(
                {
                    "case_id": record.case_id,
                    "patient_id": record.patient_id,
                    "level": record.level,
                    "split": split,
                    "fold": "",
                    "genant_grade": record.genant_grade,
                    "morphology": record.morphology or "",
                    "fracture_probability": round(float(outputs.fracture_probability[j]), _DIGITS),
                    "p_grade_ge2": round(float(outputs.p_grade_ge2[j]), _DIGITS),
                    **{f"p{g}": round(float(grades[j, g]), _DIGITS) for g in range(4)},
                    "predicted_grade": int(outputs.predicted_grade[j]),
                    "predicted_morphology": outputs.predicted_morphology[j],
                    "height_loss_pct": ""
                    if math.isnan(record.height_loss_pct)
                    else round(record.height_loss_pct, 3),
                    "morph_grade": "" if record.morph_grade is None else record.morph_grade,
                }
            )
        if progress is not None:
            progress(min(len(records), start + _CHUNK), len(records))
    return rows, records, cache.skipped()


def _grade_source(
    vertebra: VertebraResult, found: dict[str, Any] | None, threshold: float
) -> tuple[str, str | None]:
    """``grade_source`` of a vertebra and the warning of a flag (the module's rule)."""
    if vertebra.genant_grade is None:
        return "none", None
    if found is None:
        return "morphometry", None
    grade, p = int(found["model_grade"]), float(found["fracture_probability"])
    if abs(grade - vertebra.genant_grade) >= FLAG_GRADE_DIFFERENCE:
        return "morphometry_flagged", (
            f"model disagrees: grade {grade} (P(fracture) {p:.2f}) against morphometry's "
            f"{vertebra.genant_grade}; check this vertebra"
        )
    if vertebra.genant_grade == 0 and p >= threshold:
        return "morphometry_flagged", (
            f"model suspects a fracture: P(fracture) {p:.2f} >= its threshold {threshold:.2f} "
            "where morphometry found no height loss; check endplates and density"
        )
    return "morphometry", None


def _morphology(grade: int, probabilities: Any) -> str:
    """The most probable morphology consistent with ``grade``."""
    if grade == 0:
        return "normal"
    fractures = [(float(probabilities[i]), name) for i, name in enumerate(MORPHOLOGIES)]
    return max((p, name) for p, name in fractures if name != "normal")[1]
