"""The spine algorithm: CT + vertebra label map in, grades, points, grade map and summary out.

The scan is read by :func:`fracturelab.spine.scan.read_spine_scan`, the function ``spine
analyze`` uses, so the per-vertebra records are those of ``vertebrae.json`` for the same files.
Without a model the grades are morphometry's and every probability is ``null`` (the summary
says so).
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from fracturelab.errors import InputError
from fracturelab.grandchallenge.sockets import Socket, require_input
from fracturelab.grandchallenge.staging import OutputStage
from fracturelab.spine.report import SpineReport, VertebraResult

if TYPE_CHECKING:
    import SimpleITK as sitk

    from fracturelab.spine.learned.bundle import SpineModel
    from fracturelab.spine.scan import ScanReading, StepCallback

__all__ = [
    "GRADE_MAP_NORMAL",
    "GRADE_MAP_UNGRADED",
    "SEGMENTER",
    "fracture_points",
    "grade_lookup",
    "run_spine",
    "summary_value",
]

#: Grade-map value of a vertebra graded 0 (1-3 are the Genant grades, 0 the background).
GRADE_MAP_NORMAL = 4
#: Grade-map value of a vertebra that could not be graded (incomplete or failed).
GRADE_MAP_UNGRADED = 5
#: The segmenter used when the segmentation socket is absent, if installed in the image.
SEGMENTER = "TotalSegmentator"
_VERSION = {"major": 1, "minor": 0}


def run_spine(
    input_dir: Path,
    stage: OutputStage,
    sockets: Mapping[str, Socket],
    listed: Mapping[str, Any] | None,
    model: SpineModel | None,
    model_folder: Path | None,
    on_step: StepCallback | None = None,
) -> ScanReading:
    """Read the spine sockets, run the reading and stage every spine output."""
    from fracturelab.spine.scan import read_spine_scan

    ct_path = require_input(input_dir, sockets["ct"], listed)
    assert ct_path is not None  # the CT socket is required
    mask_path = require_input(input_dir, sockets["vertebrae"], listed)
    with tempfile.TemporaryDirectory(prefix="fracturelab-seg-") as scratch:
        vertebrae: Path = (
            mask_path if mask_path is not None else _segment(ct_path, sockets, Path(scratch))
        )
        reading = read_spine_scan(
            ct_path, vertebrae, model=model, model_folder=model_folder, on_step=on_step
        )
    report = reading.report
    stage.write_value(sockets["results"], report.to_dict(), "spine-vertebra-results")
    stage.write_value(sockets["points"], fracture_points(report))
    summary = summary_value(report)
    stage.write_value(sockets["summary"], summary, "spine-fracture-summary")
    stage.write_value(sockets["max_grade"], summary["max_grade"] or 0)
    if summary["fracture_probability"] is not None:
        stage.write_value(sockets["probability"], summary["fracture_probability"])
    stage.write_image(sockets["grade_map"], _grade_image(reading, ct_path))
    return reading


def _segment(ct_path: Path, sockets: Mapping[str, Socket], scratch: Path) -> Path:
    """Segment the vertebrae with TotalSegmentator when it is installed, else say what to do."""
    executable = shutil.which(SEGMENTER)
    socket = sockets["vertebrae"]
    if executable is None:
        raise InputError(
            f"input socket {socket.slug} (the vertebra segmentation) is missing and no "
            f"segmenter ({SEGMENTER}) is installed in this container; add the socket and "
            "chain a vertebra-segmentation algorithm, or build the image with TotalSegmentator"
        )
    from fracturelab.imaging import read_volume, write_volume

    ct = scratch / "ct.nii.gz"
    write_volume(read_volume(ct_path, role="CT"), ct)
    out = scratch / "segmentation"
    command = [executable, "-i", str(ct), "-o", str(out), "--roi_subset"]
    command += [f"vertebrae_{level}" for level in _TOTALSEG_LEVELS]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        last = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no message"]
        raise InputError(f"{SEGMENTER} failed on {ct_path.name}: {last[0]}")
    return out


_TOTALSEG_LEVELS = [f"C{i}" for i in range(1, 8)] + [f"T{i}" for i in range(1, 13)]
_TOTALSEG_LEVELS += [f"L{i}" for i in range(1, 6)] + ["S1"]


def _point_of(vertebra: VertebraResult) -> list[float]:
    """The body centre (LPS mm), else the whole vertebra's centroid."""
    source = vertebra.body_center_mm or vertebra.centroid_mm
    return [round(float(v), 3) for v in source]


def _probability(vertebra: VertebraResult) -> float | None:
    value = (vertebra.model or {}).get("fracture_probability")
    return None if value is None else float(value)


def fracture_points(report: SpineReport) -> dict[str, Any]:
    """The "Multiple points" value: one point per vertebra graded 1-3, named by level.

    Points are the vertebral body centres in world (ITK/LPS) millimetres, the physical space
    of the input ``.mha``; ``probability`` is the model's P(fracture) when a model was applied.
    """
    points = []
    for vertebra in report.vertebrae:
        if not vertebra.is_fractured:
            continue
        point: dict[str, Any] = {
            "name": f"{vertebra.level} grade {vertebra.genant_grade}",
            "type": "Point",
            "point": _point_of(vertebra),
        }
        probability = _probability(vertebra)
        if probability is not None:
            point["probability"] = round(probability, 6)
        points.append(point)
    return {
        "name": "Vertebral fractures",
        "type": "Multiple points",
        "points": points,
        "version": dict(_VERSION),
    }


def summary_value(report: SpineReport) -> dict[str, Any]:
    """The patient-level value: P(any fracture), maximum grade, fractured levels."""
    probabilities = [p for p in map(_probability, report.vertebrae) if p is not None]
    fractured = [v.level for v in report.vertebrae if v.is_fractured]
    grades = [v.genant_grade for v in report.vertebrae if v.genant_grade is not None]
    with_model = report.model is not None and bool(probabilities)
    note = (
        "fracture_probability is the highest vertebra P(fracture) of the model; grades are "
        "morphometry's (Genant), as in spine analyze"
        if with_model
        else "no model applied: grades are morphometry's (Genant) and fracture_probability is null"
    )
    return {
        "fracture_probability": round(max(probabilities), 6) if with_model else None,
        "probability_source": "model" if with_model else "none",
        "max_grade": max(grades) if grades else None,
        "n_fractured": len(fractured),
        "fractured_levels": fractured,
        "n_vertebrae": len(report.vertebrae),
        "note": note,
    }


def grade_lookup(reading: ScanReading) -> np.ndarray:
    """Label value -> grade-map value, for every label value of the label map."""
    volume = reading.label_map.volume
    top = int(volume.array.max()) if volume.array.size else 0
    table = np.zeros(max(top, 0) + 1, dtype=np.uint8)
    by_level = {v.level: v for v in reading.report.vertebrae}
    for label, level in reading.label_map.levels.items():
        if not 0 < label <= top or level not in by_level:
            continue
        grade = by_level[level].genant_grade
        table[label] = GRADE_MAP_UNGRADED if grade is None else (grade or GRADE_MAP_NORMAL)
    return table


def _grade_image(reading: ScanReading, ct_path: Path) -> sitk.Image:
    """The grade map with the CT file's exact geometry (origin, spacing, direction)."""
    import SimpleITK as sitk

    labels = reading.label_map.volume
    if labels.shape != reading.ct.shape or not np.allclose(labels.affine, reading.ct.affine):
        labels = labels.resampled_to(reading.ct, nearest=True)
    values = np.asarray(labels.array)
    # An unsigned label map indexes the table as it is (no copy of a full-size volume).
    index = values if values.dtype.kind in "ub" else np.clip(values, 0, None).astype(np.intp)
    grades = grade_lookup(reading)[index]
    image = reading.ct.with_array(grades.astype(np.uint8)).to_sitk()
    header = sitk.ImageFileReader()
    header.SetFileName(str(ct_path))
    header.ReadImageInformation()
    if tuple(header.GetSize()) == image.GetSize():
        image.SetOrigin(header.GetOrigin())
        image.SetSpacing(header.GetSpacing())
        image.SetDirection(header.GetDirection())
    return image
