"""A scan found in the inputs: where it is, what names it, and the facts eligibility needs."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from fracturelab.batch.settings import BatchSettings

__all__ = ["VOLUME_SUFFIXES", "ScanSource", "content_id", "eligibility", "is_volume_file"]

#: Suffixes of volume files (NIfTI, MHA/MHD, NRRD).
VOLUME_SUFFIXES: tuple[str, ...] = (".nii", ".nii.gz", ".mha", ".mhd", ".nrrd")


def is_volume_file(path: Path) -> bool:
    """Whether the name ends with a volume suffix."""
    name = path.name.lower()
    return any(name.endswith(suffix) for suffix in VOLUME_SUFFIXES)


def content_id(path: Path) -> str:
    """``sha256:`` and the first 32 hex digits of the file's SHA-256 (a volume's key)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return "sha256:" + digest.hexdigest()[:32]


@dataclass
class ScanSource:
    """A scan to read (a DICOM series or a volume file), before it is read.

    Attributes:
        key: Series UID, or the volume file's content id.
        source: The series' folder (the folder of its first file) or the volume file.
        files: The series' files, in no particular order (empty for a volume file).
        series_uid: ``SeriesInstanceUID`` (DICOM only).
        study_uid: ``StudyInstanceUID`` (DICOM only).
        patient_id: ``PatientID`` (DICOM only).
        case_id: The manifest's ``case_id``.
        mask: A label map given for it (manifest, or found beside it by the naming rule).
        modality: ``Modality`` (``None`` for a volume file).
        body_part: ``BodyPartExamined`` (``None`` when not stated).
        n_slices: Slices along the scan axis.
        slice_thickness_mm: ``SliceThickness``, else the slice spacing.
        problem: Why it cannot be read at all (its header is damaged), if so.

    """

    key: str
    source: str
    files: list[str] = field(default_factory=list)
    series_uid: str | None = None
    study_uid: str | None = None
    patient_id: str | None = None
    case_id: str | None = None
    mask: str | None = None
    modality: str | None = None
    body_part: str | None = None
    n_slices: int = 0
    slice_thickness_mm: float | None = None
    problem: str | None = None

    @property
    def name(self) -> str:
        """A file-system-safe name for its output folder.

        The ``case_id``, else the series UID, else ``<folder>_<file stem>_<8 hex digits of
        the content id>`` for a volume file.
        """
        base = self.case_id or self.series_uid or self.key
        if not self.case_id and not self.series_uid and self.key.startswith("sha256:"):
            path = Path(self.source)
            stem = path.name.split(".")[0]
            base = f"{path.parent.name}_{stem}_{self.key[7:15]}"
        return "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in base)


def _normal(text: str) -> str:
    return "".join(ch for ch in text.upper() if ch.isalnum())


def eligibility(scan: ScanSource, settings: BatchSettings) -> str | None:
    """Why the scan is not a thorax/abdomen CT to read, or ``None`` when it is.

    Checks, in order: modality, slice count, slice thickness, body part (each limit is a
    :class:`BatchSettings` field and a ``batch run`` option).
    """
    if scan.modality is not None:
        allowed = {m.upper() for m in settings.modalities}
        if scan.modality.upper() not in allowed:
            return (
                f"modality {scan.modality or '(none)'} is not {'/'.join(sorted(allowed))} "
                "(--modality)"
            )
    if scan.n_slices < settings.min_slices:
        return f"not enough slices: {scan.n_slices} < {settings.min_slices} (--min-slices)"
    thickness = scan.slice_thickness_mm
    if thickness is not None and thickness > settings.max_slice_thickness_mm:
        return (
            f"slices too thick: {thickness:g} mm > {settings.max_slice_thickness_mm:g} mm "
            "(--max-slice-thickness)"
        )
    if thickness is not None and thickness < settings.min_slice_thickness_mm:
        return (
            f"slices too thin: {thickness:g} mm < {settings.min_slice_thickness_mm:g} mm "
            "(--min-slice-thickness)"
        )
    if settings.body_parts and scan.modality is not None:
        part = _normal(scan.body_part or "")
        if not part:
            if not settings.allow_missing_body_part:
                return "no BodyPartExamined in the header (--body-part)"
        elif part not in {_normal(p) for p in settings.body_parts}:
            return f"body part {scan.body_part} is not thorax/abdomen (--body-part)"
    return None
