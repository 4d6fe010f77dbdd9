"""Which DICOM modalities a reader accepts, and the ``--allow-modality`` escape hatch.

A radiograph reader accepts DICOM files whose Modality (0008,0060) is CR, DX or DR and whose
SOP class, when it is a known image storage class, belongs to a radiograph too; a CT slice, an
MR image or an ultrasound frame is refused. Secondary captures (screenshots and scanned films,
SOP class Secondary Capture Image Storage, modality usually OT) are refused as well: they may
carry burnt-in annotations and lost the original grey values and pixel spacing.

The user can admit other data with ``--allow-modality CODE`` (``allow_modalities``):

- a modality code (``CT``, ``MR``, ``OT``, ...) admits files whose Modality is that code,
  whatever their SOP class (so ``OT`` admits a secondary capture stored with modality OT);
- ``SC`` admits secondary-capture SOP classes whatever their Modality.

A CT reader asked for ``modality="CT"`` accepts a DICOM series whose Modality is CT or one of
``allow_modalities``. Files without a modality (PNG, TIFF, JPEG, NIfTI, MHA, NRRD) are
accepted as they are.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from pathlib import Path
from typing import TYPE_CHECKING

from fracturelab.errors import InputError

if TYPE_CHECKING:
    from pydicom.dataset import Dataset

__all__ = [
    "RADIOGRAPH_MODALITIES",
    "SECONDARY_CAPTURE",
    "allowed_modalities",
    "check_radiograph_modality",
    "check_series_modality",
    "dicom_modality",
    "sop_class_modality",
]

RADIOGRAPH_MODALITIES = ("CR", "DX", "DR")
"""DICOM Modality codes of projection radiographs accepted without ``--allow-modality``."""

SECONDARY_CAPTURE = "SC"
"""The ``--allow-modality`` value that admits secondary-capture SOP classes."""

_CODE = re.compile(r"[A-Z0-9]{2,16}")
_EXAMPLES = "e.g. CT, MR, OT or SC"

# Image storage SOP classes (PS3.4 B.5) -> the modality they hold.
_SOP_MODALITY = {
    "1.2.840.10008.5.1.4.1.1.1": "CR",
    "1.2.840.10008.5.1.4.1.1.1.1": "DX",
    "1.2.840.10008.5.1.4.1.1.1.1.1": "DX",
    "1.2.840.10008.5.1.4.1.1.1.2": "MG",
    "1.2.840.10008.5.1.4.1.1.1.2.1": "MG",
    "1.2.840.10008.5.1.4.1.1.1.3": "IO",
    "1.2.840.10008.5.1.4.1.1.1.3.1": "IO",
    "1.2.840.10008.5.1.4.1.1.2": "CT",
    "1.2.840.10008.5.1.4.1.1.2.1": "CT",
    "1.2.840.10008.5.1.4.1.1.2.2": "CT",
    "1.2.840.10008.5.1.4.1.1.3.1": "US",
    "1.2.840.10008.5.1.4.1.1.4": "MR",
    "1.2.840.10008.5.1.4.1.1.4.1": "MR",
    "1.2.840.10008.5.1.4.1.1.4.4": "MR",
    "1.2.840.10008.5.1.4.1.1.6.1": "US",
    "1.2.840.10008.5.1.4.1.1.6.2": "US",
    "1.2.840.10008.5.1.4.1.1.12.1": "XA",
    "1.2.840.10008.5.1.4.1.1.12.1.1": "XA",
    "1.2.840.10008.5.1.4.1.1.12.2": "RF",
    "1.2.840.10008.5.1.4.1.1.12.2.1": "RF",
    "1.2.840.10008.5.1.4.1.1.13.1.3": "MG",
    "1.2.840.10008.5.1.4.1.1.20": "NM",
    "1.2.840.10008.5.1.4.1.1.128": "PT",
    "1.2.840.10008.5.1.4.1.1.128.1": "PT",
    "1.2.840.10008.5.1.4.1.1.130": "PT",
    "1.2.840.10008.5.1.4.1.1.481.1": "RTIMAGE",
}
_SECONDARY_CAPTURE_CLASSES = frozenset(
    {
        "1.2.840.10008.5.1.4.1.1.7",
        "1.2.840.10008.5.1.4.1.1.7.1",
        "1.2.840.10008.5.1.4.1.1.7.2",
        "1.2.840.10008.5.1.4.1.1.7.3",
        "1.2.840.10008.5.1.4.1.1.7.4",
    }
)


def allowed_modalities(values: Collection[str]) -> frozenset[str]:
    """Check ``--allow-modality`` values and return them as a set.

    Args:
        values: DICOM Modality codes (``"CT"``), or ``"SC"`` for secondary captures. One
            string is taken as one code.

    Returns:
        The codes.

    Raises:
        InputError: If a value is not 2-16 upper-case letters or digits.

    """
    items = (values,) if isinstance(values, str) else tuple(values)
    for value in items:
        if not isinstance(value, str) or not _CODE.fullmatch(value):
            hint = ""
            if isinstance(value, str) and _CODE.fullmatch(value.strip().upper()):
                hint = f" (did you mean {value.strip().upper()}?)"
            raise InputError(
                f"--allow-modality {value!r}: not a DICOM modality code{hint}; give 2-16 "
                f"upper-case letters or digits, {_EXAMPLES}"
            )
    return frozenset(items)


def dicom_modality(dataset: Dataset) -> tuple[str | None, str | None, str]:
    """The Modality code, the SOP class UID and the SOP class name of a DICOM dataset."""
    modality = str(dataset.get("Modality", "") or "").strip().upper() or None
    meta = getattr(dataset, "file_meta", None)
    uid = dataset.get("SOPClassUID") or (meta.get("MediaStorageSOPClassUID") if meta else None)
    if uid is None:
        return modality, None, "no SOP class"
    return modality, str(uid), str(getattr(uid, "name", uid))


def sop_class_modality(uid: str | None) -> str | None:
    """The modality an image storage SOP class holds (``"CT"`` for CT Image Storage), or None."""
    return _SOP_MODALITY.get(uid or "")


def check_radiograph_modality(
    dataset: Dataset, source: Path, allow: Collection[str], role: str = "radiograph"
) -> None:
    """Refuse a DICOM file that is not a radiograph, unless the user allowed its kind.

    Args:
        dataset: The file's header.
        source: The file, for the message.
        allow: Checked ``--allow-modality`` codes (see :func:`allowed_modalities`).
        role: What the file is for, for the message.

    Raises:
        InputError: If the file's modality or SOP class is not a radiograph and not allowed.

    """
    modality, uid, name = dicom_modality(dataset)
    accepted = set(RADIOGRAPH_MODALITIES) | set(allow)
    wanted = ", ".join(RADIOGRAPH_MODALITIES)
    if uid in _SECONDARY_CAPTURE_CLASSES:
        if SECONDARY_CAPTURE in allow or (modality is not None and modality in allow):
            return
        shown = modality or "none"
        raise InputError(
            f"{role} {source}: DICOM {name} (modality {shown}) is a screen or film capture, not "
            f"an original radiograph ({wanted}); give the original radiograph, or add "
            f"--allow-modality {SECONDARY_CAPTURE} if you are sure"
        )
    sop_modality = _SOP_MODALITY.get(uid or "")
    found = modality or sop_modality
    if found is None:
        return  # neither a Modality nor a known SOP class: nothing to judge by
    refused = next((m for m in (modality, sop_modality) if m and m not in accepted), None)
    if refused is None:
        return
    raise InputError(
        f"{role} {source}: DICOM modality {found} ({name}) is not a radiograph ({wanted}); "
        f"give a radiograph, or add --allow-modality {refused} if you are sure"
    )


def check_series_modality(
    found: str | None, expected: str, source: Path, allow: Collection[str], role: str
) -> None:
    """Refuse a DICOM series whose Modality is not ``expected`` and not allowed.

    Args:
        found: The series' Modality code, or None when its files state none.
        expected: The modality the caller needs (``"CT"``).
        source: The series folder, for the message.
        allow: Checked ``--allow-modality`` codes.
        role: What the series is for, for the message.

    Raises:
        InputError: If the modality differs and is not allowed.

    """
    wanted = expected.strip().upper()
    if found is None or found == wanted or found in allow:
        return
    raise InputError(
        f"{role} {source}: DICOM series modality {found} is not {wanted}; give a {wanted} "
        f"series, or add --allow-modality {found} if you are sure"
    )
