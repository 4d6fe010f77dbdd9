"""Finding the scans of a batch run: folders of DICOM series and volumes, manifests.

A folder is searched recursively. DICOM files (``DICM`` preamble, or ``.dcm``) are grouped by
``SeriesInstanceUID`` from their headers alone (fast: no pixels are read). Volume files
(``.nii``, ``.nii.gz``, ``.mha``, ``.mhd``, ``.nrrd``) are scans unless their name marks a
label map (it holds ``vertebrae``, ``seg``, ``label`` or ``mask``) or their voxels are 8-bit.

**Masks beside the scans** (the naming rule): for a volume ``X.nii.gz``, the first of
``X_vertebrae.<ext>`` and, when ``X`` is ``ct``, ``vertebrae.<ext>`` in the same folder; for a
DICOM series, ``<SeriesInstanceUID>_vertebrae.<ext>`` in (or next to) its folder, or
``vertebrae.<ext>`` in its folder when the folder holds that series only. ``<ext>`` is any
volume suffix.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

from fracturelab.batch.manifest import ManifestRow, read_manifest
from fracturelab.batch.sources import ScanSource, content_id, is_volume_file
from fracturelab.errors import InputError
from fracturelab.imaging.dicom_header import is_dicom_file, read_dicom_header
from fracturelab.typing import PathLike

__all__ = ["MASK_WORDS", "discover"]

logger = logging.getLogger(__name__)

#: Words in a volume file's name that mark it as a label map, not a scan.
MASK_WORDS: tuple[str, ...] = ("vertebrae", "seg", "label", "mask")


def discover(inputs: Sequence[PathLike]) -> list[ScanSource]:
    """Find every scan in ``inputs``: folders, manifest CSVs, series folders, volume files.

    Args:
        inputs: Paths as given on the command line.

    Returns:
        The scans, in a stable order (a scan found twice is listed once).

    Raises:
        InputError: An input does not exist, a manifest is bad, or nothing holds a scan.

    """
    found: dict[str, ScanSource] = {}
    for given in inputs:
        # absolute, so that the results database names files wherever it is read from
        path = Path(given).expanduser().absolute()
        if not path.exists():
            raise InputError(f"{path}: no such file or folder; give scan folders or a manifest")
        if path.is_file() and path.suffix.lower() == ".csv":
            scans = [_from_row(row) for row in read_manifest(path)]
        elif path.is_file() and is_volume_file(path):
            scans = [_volume(path)]
        elif path.is_dir():
            scans = _scan_folder(path)
        elif path.is_file() and is_dicom_file(path):
            scans = _series(_dicom_files([path]))
        else:
            raise InputError(
                f"{path}: is neither a folder, a manifest (.csv), a volume nor a DICOM file"
            )
        if not scans:
            raise InputError(
                f"{path}: holds no DICOM series or volume file; give a folder of CT scans"
            )
        for scan in scans:
            found.setdefault(scan.key, scan)
    return list(found.values())


def _walk(folder: Path) -> list[Path]:
    files: list[Path] = []
    for root, dirs, names in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        files.extend(Path(root) / name for name in sorted(names) if not name.startswith("."))
    return files


def _is_mask_name(path: Path) -> bool:
    name = path.name.lower()
    return any(word in name for word in MASK_WORDS)


def _scan_folder(folder: Path) -> list[ScanSource]:
    files = _walk(folder)
    volumes = [f for f in files if is_volume_file(f) and not _is_mask_name(f)]
    scans = [_volume(f) for f in volumes]
    others = [f for f in files if not is_volume_file(f) and f.suffix.lower() != ".csv"]
    candidates = [f for f in others if _dicom_candidate(f)]
    return [*_series(_dicom_files(candidates)), *scans]


def _dicom_candidate(path: Path) -> bool:
    try:
        return is_dicom_file(path)
    except InputError:
        return False


def _dicom_files(files: Iterable[Path]) -> dict[str, list[tuple[Path, object]]]:
    """Group DICOM files by series UID.

    A file whose header cannot be read goes under ``unreadable:<folder>`` with its reason.
    """
    groups: dict[str, list[tuple[Path, object]]] = {}
    for file in files:
        try:
            header = read_dicom_header(file)
        except InputError as error:
            groups.setdefault(f"unreadable:{file.parent}", []).append((file, str(error)))
            continue
        uid = str(header.get("SeriesInstanceUID", "") or "") or f"nouid:{file.parent}"
        groups.setdefault(uid, []).append((file, header))
    return groups


def _float(value: object) -> float | None:
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def _series(groups: dict[str, list[tuple[Path, object]]]) -> list[ScanSource]:
    scans = []
    for uid, members in groups.items():
        folder = members[0][0].parent
        files = [str(f) for f, _ in members]
        if uid.startswith("unreadable:"):
            scans.append(
                ScanSource(
                    key=f"folder:{folder}",
                    source=str(folder),
                    files=files,
                    problem=f"{len(files)} DICOM file(s) cannot be read: {members[0][1]}",
                )
            )
            continue
        header = members[0][1]
        get = header.get  # type: ignore[attr-defined]
        uid_known = not uid.startswith("nouid:")
        scans.append(
            ScanSource(
                key=uid if uid_known else _series_content_id(members),
                source=str(folder),
                files=files,
                series_uid=uid if uid_known else None,
                study_uid=str(get("StudyInstanceUID", "") or "") or None,
                patient_id=str(get("PatientID", "") or "") or None,
                modality=str(get("Modality", "") or ""),
                body_part=str(get("BodyPartExamined", "") or "") or None,
                n_slices=len(files),
                slice_thickness_mm=_float(get("SliceThickness")),
                mask=_series_mask(folder, uid, alone=len(groups) == 1 or _alone(folder, groups)),
            )
        )
    return scans


def _series_content_id(members: list[tuple[Path, object]]) -> str:
    """The key of a series without a UID: a hash of its SOP instance UIDs (or bytes)."""
    digest = hashlib.sha256()
    for file, header in sorted(members, key=lambda member: str(member[0])):
        instance = str(header.get("SOPInstanceUID", "") or "")  # type: ignore[attr-defined]
        digest.update(instance.encode() if instance else file.read_bytes())
    return "sha256:" + digest.hexdigest()[:32]


def _alone(folder: Path, groups: dict[str, list[tuple[Path, object]]]) -> bool:
    return sum(any(f.parent == folder for f, _ in members) for members in groups.values()) == 1


def _beside(folder: Path, stem: str) -> str | None:
    for suffix in (".nii.gz", ".nii", ".mha", ".nrrd", ".mhd"):
        candidate = folder / f"{stem}{suffix}"
        if candidate.is_file():
            return str(candidate)
    return None


def _series_mask(folder: Path, uid: str, *, alone: bool) -> str | None:
    found = _beside(folder, f"{uid}_vertebrae") or _beside(folder.parent, f"{uid}_vertebrae")
    if found is None and alone:
        found = _beside(folder, "vertebrae")
    return found


def _volume_stem(path: Path) -> str:
    name = path.name
    for suffix in (".nii.gz", ".nii", ".mha", ".mhd", ".nrrd"):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return path.stem


def _volume(path: Path, mask: str | None = None, case_id: str | None = None) -> ScanSource:
    import SimpleITK as sitk

    stem = _volume_stem(path)
    if mask is None:
        mask = _beside(path.parent, f"{stem}_vertebrae")
        if mask is None and stem.lower() == "ct":
            mask = _beside(path.parent, "vertebrae")
    scan = ScanSource(key="", source=str(path), mask=mask, case_id=case_id)
    try:
        scan.key = content_id(path)
        reader = sitk.ImageFileReader()
        reader.SetFileName(str(path))
        reader.ReadImageInformation()
    except (OSError, RuntimeError) as error:
        scan.key = scan.key or f"file:{path.resolve()}"
        scan.problem = f"{path}: cannot be read as a volume ({str(error).strip().splitlines()[-1]})"
        return scan
    size = reader.GetSize()
    if len(size) != 3:
        scan.problem = f"{path}: is a {len(size)}D image, not a 3D volume"
        return scan
    spacing = reader.GetSpacing()
    direction = reader.GetDirection()
    # the scan axis: the array axis closest to superior-inferior
    axis = max(range(3), key=lambda a: abs(direction[6 + a]))
    scan.n_slices = int(size[axis])
    scan.slice_thickness_mm = float(spacing[axis])
    if reader.GetPixelID() in (sitk.sitkUInt8, sitk.sitkInt8):
        scan.problem = None
        scan.modality = "LABELS"  # an 8-bit volume is a label map, not a CT
    return scan


def _from_row(row: ManifestRow) -> ScanSource:
    if row.ct.is_dir():
        scans = _series(_dicom_files(f for f in _walk(row.ct) if _dicom_candidate(f)))
        if len(scans) != 1:
            raise InputError(
                f"{row.where}: ct {row.ct} holds {len(scans)} DICOM series; give a folder "
                "of one series"
            )
        scan = scans[0]
        scan.case_id = row.case_id
        scan.mask = str(row.vertebrae) if row.vertebrae else scan.mask
        return scan
    return _volume(row.ct, str(row.vertebrae) if row.vertebrae else None, row.case_id)
