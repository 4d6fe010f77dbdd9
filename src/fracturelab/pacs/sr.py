"""A spine reading as a DICOM Structured Report (TID 1500 Measurement Report, highdicom).

One measurement group per vertebra (tracking identifier = its level): the anterior, middle
and posterior heights (mm), the height loss (%), the Genant grade, the morphology and, when a
model was applied, the fracture probability. The observer is the device (fracturelab, its
version and the model's hash); the evidence is the source series' instances. The SR's
SeriesInstanceUID and SOPInstanceUID are derived from the source SeriesInstanceUID, the
algorithm version and the model hash, so a rerun of the same reading replaces the SR instead
of adding a second one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fracturelab import __version__
from fracturelab.errors import InputError
from fracturelab.typing import PathLike

if TYPE_CHECKING:
    from pydicom import Dataset

__all__ = [
    "CODING_SCHEME",
    "SrUids",
    "build_spine_sr",
    "read_source_headers",
    "sr_uids",
]

#: Private coding scheme of the concepts no standard terminology names (PS3.16 "99" prefix).
CODING_SCHEME = "99FRACTURELAB"
#: Root of the UIDs fracturelab derives (pydicom's root for generated UIDs).
_UID_PREFIX = "1.2.826.0.1.3680043.8.498."
_SR_SERIES_NUMBER = 9901

#: Private concepts: code value -> meaning.
_CONCEPTS = {
    "height-anterior": "Anterior vertebral body height",
    "height-middle": "Middle vertebral body height",
    "height-posterior": "Posterior vertebral body height",
    "height-loss": "Vertebral body height loss",
    "genant-grade": "Genant semiquantitative fracture grade",
    "morphology": "Vertebral fracture morphology",
    "fx-probability": "Vertebral fracture probability",
    "normal": "Normal vertebral body shape",
    "wedge": "Wedge deformity",
    "biconcave": "Biconcave deformity",
    "crush": "Crush deformity",
    "spine-reading": "Vertebral fracture assessment",
}


class SrUids:
    """The UIDs of the SR of one source series and algorithm (see :func:`sr_uids`).

    Attributes:
        series: SeriesInstanceUID of the SR.
        instance: SOPInstanceUID of the SR.
        device: UID of the observing device (fracturelab at this version and model hash).

    """

    def __init__(self, series: str, instance: str, device: str) -> None:
        self.series = series
        self.instance = instance
        self.device = device


def sr_uids(source_series_uid: str, algorithm_version: str, model_hash: str | None) -> SrUids:
    """The SR's UIDs, derived deterministically from the source series and the algorithm.

    Args:
        source_series_uid: SeriesInstanceUID of the CT that was read.
        algorithm_version: fracturelab's version that read it.
        model_hash: The learned model's hash, ``None`` for morphometry alone.

    Returns:
        The same UIDs for the same arguments; different ones if any of them differs.

    """
    from pydicom.uid import generate_uid

    parts = [source_series_uid, algorithm_version, model_hash or "no-model"]
    return SrUids(
        series=str(generate_uid(_UID_PREFIX, ["fracturelab-sr-series", *parts])),
        instance=str(generate_uid(_UID_PREFIX, ["fracturelab-sr-instance", *parts])),
        device=str(generate_uid(_UID_PREFIX, ["fracturelab-device", *parts[1:]])),
    )


def read_source_headers(folder: PathLike) -> list[Dataset]:
    """The headers (no pixel data) of the DICOM instances in ``folder``, sorted by file name.

    Raises:
        InputError: If ``folder`` holds no DICOM instance.

    """
    import pydicom
    from pydicom.errors import InvalidDicomError

    headers: list[Dataset] = []
    for path in sorted(p for p in Path(folder).iterdir() if p.is_file()):
        try:
            headers.append(pydicom.dcmread(path, stop_before_pixels=True))
        except (InvalidDicomError, OSError):
            continue
    if not headers:
        raise InputError(
            f"{folder}: no DICOM instance to reference in the SR; pass the series folder"
        )
    return headers


#: Patient and study attributes an SR copies from its evidence (type 2: present, maybe empty).
_TYPE2_ATTRIBUTES = (
    "PatientID", "PatientName", "PatientBirthDate", "PatientSex", "AccessionNumber", "StudyID",
    "StudyDate", "StudyTime", "ReferringPhysicianName",
)  # fmt: skip


def _with_type2_attributes(source: Dataset) -> Dataset:
    """A copy of ``source`` with the type 2 attributes it lacks present and empty."""
    import copy

    padded = copy.copy(source)
    for keyword in _TYPE2_ATTRIBUTES:
        if keyword not in padded:
            setattr(padded, keyword, None)
    return padded


def _code(value: str) -> Any:
    from highdicom.sr import CodedConcept

    return CodedConcept(value, CODING_SCHEME, _CONCEPTS[value])


def _vertebra_site(level: str) -> Any:
    """The SNOMED CT code of a vertebra (C1-C7, T1-T12, L1-L5), ``None`` for the others."""
    from pydicom.sr.codedict import codes

    return getattr(codes.SCT, f"{level}Vertebra", None)


def _vertebra_group(vertebra: Mapping[str, Any], source_series_uid: str, algorithm: Any) -> Any:
    from highdicom.sr import (
        FindingSite,
        Measurement,
        MeasurementsAndQualitativeEvaluations,
        QualitativeEvaluation,
        TrackingIdentifier,
    )
    from pydicom.sr.codedict import codes
    from pydicom.uid import generate_uid

    level = str(vertebra["level"])
    measurements = []
    heights = vertebra.get("heights_mm") or {}
    for side in ("anterior", "middle", "posterior"):
        if heights.get(side) is not None:
            measurements.append(
                Measurement(_code(f"height-{side}"), float(heights[side]), codes.UCUM.Millimeter)
            )
    if vertebra.get("height_loss_pct") is not None:
        measurements.append(
            Measurement(
                _code("height-loss"), float(vertebra["height_loss_pct"]), codes.UCUM.Percent
            )
        )
    if vertebra.get("genant_grade") is not None:
        measurements.append(
            Measurement(_code("genant-grade"), float(vertebra["genant_grade"]), codes.UCUM.NoUnits)
        )
    if vertebra.get("fracture_probability") is not None:
        measurements.append(
            Measurement(
                _code("fx-probability"),
                float(vertebra["fracture_probability"]),
                codes.UCUM.NoUnits,
            )
        )
    evaluations = []
    if vertebra.get("morphology") in ("normal", "wedge", "biconcave", "crush"):
        evaluations.append(
            QualitativeEvaluation(_code("morphology"), _code(str(vertebra["morphology"])))
        )
    site = _vertebra_site(level)
    return MeasurementsAndQualitativeEvaluations(
        tracking_identifier=TrackingIdentifier(
            uid=generate_uid(_UID_PREFIX, ["fracturelab-tracking", source_series_uid, level]),
            identifier=level,
        ),
        finding_type=_code("spine-reading"),
        algorithm_id=algorithm,
        finding_sites=[FindingSite(site)] if site is not None else None,
        measurements=measurements or None,
        qualitative_evaluations=evaluations or None,
    )


def build_spine_sr(
    result: Mapping[str, Any],
    sources: Sequence[Dataset],
    *,
    algorithm_version: str = __version__,
    model_hash: str | None = None,
) -> Dataset:
    """A TID 1500 Comprehensive 3D SR of a spine reading, referencing its source series.

    Args:
        result: The reading (the ``vertebrae.json`` dict): its ``vertebrae`` with ``level``,
            ``heights_mm`` (mm), ``height_loss_pct`` (%), ``genant_grade`` (0-3),
            ``morphology`` and, with a model, ``fracture_probability`` (0-1). Vertebrae
            without any of these values (not graded) are still listed, by level.
        sources: The headers of the source series' instances (:func:`read_source_headers`);
            all of one series. Patient and study come from them; the SR is in their study.
        algorithm_version: fracturelab's version that made the reading.
        model_hash: The learned model's hash, ``None`` for morphometry alone.

    Returns:
        The SR dataset (save it with ``save_as`` or upload it).

    Raises:
        InputError: If ``sources`` is empty or mixes series, or ``result`` has no vertebrae.

    """
    from highdicom.sr import (
        AlgorithmIdentification,
        Comprehensive3DSR,
        DeviceObserverIdentifyingAttributes,
        MeasurementReport,
        ObservationContext,
        ObserverContext,
    )
    from pydicom.sr.codedict import codes

    if not sources:
        raise InputError("no source instances for the SR; pass the headers of the series read")
    series = {str(ds.SeriesInstanceUID) for ds in sources}
    if len(series) != 1:
        raise InputError(f"the SR sources mix {len(series)} series; pass one series' instances")
    vertebrae = list(result.get("vertebrae") or [])
    if not vertebrae:
        raise InputError("the reading has no vertebrae; there is nothing to report in an SR")
    source_uid = series.pop()
    uids = sr_uids(source_uid, algorithm_version, model_hash)
    device = DeviceObserverIdentifyingAttributes(
        uid=uids.device,
        name="fracturelab",
        manufacturer_name="fracturelab",
        model_name=f"fracturelab {algorithm_version}",
        serial_number=model_hash or "no-model",
    )
    context = ObservationContext(
        observer_device_context=ObserverContext(
            observer_type=codes.cid270.Device, observer_identifying_attributes=device
        )
    )
    algorithm = AlgorithmIdentification(
        name="fracturelab",
        version=algorithm_version,
        parameters=[f"model_hash={model_hash}"] if model_hash else None,
    )
    groups = [_vertebra_group(v, source_uid, algorithm) for v in vertebrae]
    report = MeasurementReport(
        observation_context=context,
        procedure_reported=codes.LN.CTUnspecifiedBodyRegion,
        imaging_measurements=groups,
    )
    return Comprehensive3DSR(
        evidence=[_with_type2_attributes(sources[0]), *sources[1:]],
        content=report[0],
        series_instance_uid=uids.series,
        series_number=_SR_SERIES_NUMBER,
        sop_instance_uid=uids.instance,
        instance_number=1,
        manufacturer="fracturelab",
        is_complete=True,
        is_final=False,
        is_verified=False,
        series_description="fracturelab vertebral fracture reading",
    )
