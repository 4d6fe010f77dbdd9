"""``analyze``: from a CT and its vertebra label map to graded vertebrae."""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import asdict
from pathlib import Path

import numpy as np
import numpy.typing as npt

from fracturelab.imaging import Volume, read_volume
from fracturelab.spine.grading import Grading, grade_vertebrae
from fracturelab.spine.labels import VertebraLabelMap, load_vertebra_labels
from fracturelab.spine.level_check import check_levels
from fracturelab.spine.levels import level_index
from fracturelab.spine.morphometry import MorphometryOptions, VertebraMeasurement, measure_vertebra
from fracturelab.spine.report import SpineReport, VertebraResult
from fracturelab.spine.vertebra import VertebraSample

__all__ = ["analyze", "load_inputs", "read_ct"]

Progress = Callable[[int, int, str], None]

_PATIENT_SUPERIOR = np.array([0.0, 0.0, 1.0])
_MAX_NEIGHBOUR_STEPS = 3
_IMPLAUSIBLE_VOLUME_FACTOR = 2.2
#: Neighbours on each side whose median volume a vertebra is compared with.
_VOLUME_NEIGHBOURS = 2


def load_inputs(
    ct: str | Path | Volume,
    vertebrae: str | Path | Volume,
    *,
    labels: str = "auto",
    resample_labels: bool = False,
    allow_modalities: Collection[str] = (),
) -> tuple[Volume, VertebraLabelMap]:
    """Read the CT and its vertebra label map onto one grid (see :func:`analyze`)."""
    ct_volume = read_ct(ct, allow_modalities)
    label_map = load_vertebra_labels(
        vertebrae, ct_volume, convention=labels, resample=resample_labels
    )
    return ct_volume, label_map


def analyze(
    ct: str | Path | Volume,
    vertebrae: str | Path | Volume | VertebraLabelMap,
    *,
    labels: str = "auto",
    resample_labels: bool = False,
    options: MorphometryOptions | None = None,
    progress: Progress | None = None,
    allow_modalities: Collection[str] = (),
) -> SpineReport:
    """Measure and grade every vertebra of a CT.

    Args:
        ct: CT volume or its path (NIfTI, MHA/MHD, NRRD, DICOM series folder).
        vertebrae: Vertebra label map, its path, a folder of TotalSegmentator per-level files,
            or an already loaded :class:`VertebraLabelMap`.
        labels: Label convention: ``auto`` (detected and reported), ``verse``, ``totalseg_v2``
            or ``totalseg_v1``.
        resample_labels: Resample a label map on another grid onto the CT (nearest neighbour)
            instead of refusing it.
        options: Where heights are measured and plausibility limits.
        progress: Called as ``progress(done, total, level)`` after each vertebra.
        allow_modalities: DICOM Modality codes accepted for a CT series folder besides CT
            (``--allow-modality``); other series are refused.

    Returns:
        The report: one :class:`VertebraResult` per vertebra, cranio-caudal.

    Raises:
        InputError: For unreadable or inconsistent inputs (the message names the file).

    """
    opts = options or MorphometryOptions()
    if isinstance(vertebrae, VertebraLabelMap):
        ct_volume = read_ct(ct, allow_modalities)
        label_map = vertebrae
    else:
        ct_volume, label_map = load_inputs(
            ct,
            vertebrae,
            labels=labels,
            resample_labels=resample_labels,
            allow_modalities=allow_modalities,
        )
    order = label_map.labels_in_order()
    samples = [
        VertebraSample.from_label_map(
            label_map.volume,
            label,
            label_map.levels[label],
            label_map.boxes[label],
            ct=ct_volume if opts.use_ct else None,
        )
        for label in order
    ]
    level_warnings, warnings_of = check_levels(
        [s.level for s in samples], [s.centroid_mm for s in samples]
    )
    implausible = _implausible_volumes(samples)
    # Centroids of vertebrae cut by the field of view are biased: do not steer by them.
    centroids = {
        s.label: s.centroid_mm for s in samples if s.label not in implausible and not s.touches_edge
    }
    measurements: list[VertebraMeasurement] = []
    for done, sample in enumerate(samples, start=1):
        if sample.label in implausible:
            measurement = VertebraMeasurement(
                sample.label, sample.level, "failed", sample.centroid_mm, sample.volume_mm3,
                reason=implausible[sample.label],
            )  # fmt: skip
        elif not _has_neighbour(sample, samples):
            measurement = VertebraMeasurement(
                sample.label, sample.level, "incomplete", sample.centroid_mm, sample.volume_mm3,
                reason="no neighbouring vertebra in the label map: no spine axis and no "
                "reference height to compare with",
            )  # fmt: skip
        else:
            hint = _superior_hint(sample, samples, centroids)
            measurement = measure_vertebra(sample, hint, opts)
        measurements.append(measurement)
        if progress is not None:
            progress(done, len(samples), sample.level)
    gradings = grade_vertebrae(measurements)
    results = [_result(m, gradings.get(m.label)) for m in measurements]
    for result in results:
        result.warnings.extend(warnings_of.get(result.level, []))
    return SpineReport(
        vertebrae=results,
        label_convention=label_map.convention,
        label_detection=label_map.detection,
        inputs={
            "ct": str(ct_volume.path) if ct_volume.path else None,
            "vertebrae": str(label_map.volume.path) if label_map.volume.path else None,
        },
        ct_geometry={
            "shape": list(ct_volume.shape),
            "spacing_mm": [round(float(s), 4) for s in ct_volume.spacing_mm],
            "orientation": ct_volume.orientation,
        },
        method={"name": "height morphometry", **asdict(opts)},
        level_warnings=level_warnings,
    )


def read_ct(ct: str | Path | Volume, allow_modalities: Collection[str]) -> Volume:
    """The CT; a DICOM series must have Modality CT unless another is allowed."""
    if isinstance(ct, Volume):
        return ct
    return read_volume(ct, role="CT", modality="CT", allow_modalities=allow_modalities)


def _superior_hint(
    sample: VertebraSample,
    samples: list[VertebraSample],
    centroids: dict[int, npt.NDArray[np.float64]],
) -> npt.NDArray[np.float64]:
    """Spine direction at a vertebra from its nearest neighbours' centroids (head-wards)."""
    here = level_index(sample.level)
    above = [
        s for s in samples
        if s.label in centroids and 0 < here - level_index(s.level) <= _MAX_NEIGHBOUR_STEPS
    ]  # fmt: skip
    below = [
        s for s in samples
        if s.label in centroids and 0 < level_index(s.level) - here <= _MAX_NEIGHBOUR_STEPS
    ]  # fmt: skip
    upper = centroids[above[-1].label] if above else sample.centroid_mm
    lower = centroids[below[0].label] if below else sample.centroid_mm
    direction = upper - lower
    if (not above and not below) or np.linalg.norm(direction) < 1e-6:
        return _PATIENT_SUPERIOR
    return np.asarray(direction / np.linalg.norm(direction), dtype=float)


def _has_neighbour(sample: VertebraSample, samples: list[VertebraSample]) -> bool:
    here = level_index(sample.level)
    return any(0 < abs(level_index(s.level) - here) <= _MAX_NEIGHBOUR_STEPS for s in samples)


def _implausible_volumes(samples: list[VertebraSample]) -> dict[int, str]:
    """Vertebrae far larger than their neighbours: usually two vertebrae merged under one label.

    Vertebrae grow steadily down the spine (a lumbar vertebra holds four to five times the volume
    of an upper thoracic one), so each is compared with the median of its nearest neighbours in
    the spine's order (up to two on each side), never with the whole scan: in a scan from T1 to
    L5 the lumbar vertebrae are more than twice the median of all, yet perfectly normal.

    Args:
        samples: The vertebrae in anatomical order, cranial first.

    Returns:
        Label -> reason for the vertebrae to fail.

    """
    if len(samples) < 3:
        return {}
    volumes = np.array([s.volume_mm3 for s in samples])
    reasons: dict[int, str] = {}
    for index, sample in enumerate(samples):
        near = [j for j in range(index - _VOLUME_NEIGHBOURS, index + _VOLUME_NEIGHBOURS + 1)
                if j != index and 0 <= j < len(samples)]  # fmt: skip
        others = float(np.median(volumes[near]))
        if volumes[index] > _IMPLAUSIBLE_VOLUME_FACTOR * others:
            reasons[sample.label] = (
                f"implausible segmentation: volume {volumes[index] / 1000:.1f} ml is "
                f"{volumes[index] / others:.1f}x its neighbours' median (merged vertebrae?)"
            )
    return reasons


def _result(measurement: VertebraMeasurement, grading: Grading | None) -> VertebraResult:
    frame = measurement.frame
    result = VertebraResult(
        level=measurement.level,
        label=int(measurement.label),
        status="graded" if measurement.status == "measured" else measurement.status,
        centroid_mm=[float(v) for v in measurement.centroid_mm],
        volume_mm3=float(measurement.volume_mm3),
        heights_mm=measurement.heights_mm,
        depth_mm=measurement.depth_mm,
        height_spread_mm=measurement.height_spread_mm,
        body_center_mm=[float(v) for v in frame.origin_mm] if frame else None,
        superior_axis=[float(v) for v in frame.superior] if frame else None,
        anterior_axis=[float(v) for v in frame.anterior] if frame else None,
        reason=measurement.reason,
        warnings=list(measurement.warnings),
        measurement_points_mm=(
            {k: [[float(v) for v in p] for p in pair] for k, pair in measurement.points_mm.items()}
            if measurement.points_mm
            else None
        ),
        ct_refinement_mm=measurement.ct_refinement_mm,
        edge_voxels=measurement.edge_voxels,
        cut_fraction=measurement.cut_fraction,
    )
    if grading is not None:
        result.height_loss_pct = grading.height_loss_pct
        result.genant_grade = grading.genant_grade
        result.morphology = grading.morphology
        result.decided_by = grading.decided_by
        result.ratios = grading.ratios
        result.expected_posterior_height_mm = grading.expected_posterior_mm
        if grading.expected_posterior_mm is None:
            result.warnings.append("no measured neighbour: crush (Hp/Hp_expected) not assessed")
    if measurement.reason and measurement.status != "measured":
        result.warnings.insert(0, measurement.reason)
    return result
