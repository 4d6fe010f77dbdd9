"""Refuse truncated DICOM files, and series folders with a damaged or dropped slice.

GDCM, which SimpleITK uses for DICOM series, leaves a slice it cannot parse out of the series
(only warning about "non uniform sampling") and reads the rest as if nothing were missing.
pydicom keeps short pixel data and drops compressed pixel data that end early. So every file
in a series folder is read here with pydicom (headers and the raw pixel bytes; nothing is
decoded) and checked:

- uncompressed pixel data hold exactly Rows x Columns x Samples per Pixel x Number of Frames
  x Bits Allocated / 8 bytes (one padding byte allowed);
- compressed (encapsulated) pixel data split into complete items, one or more per frame, and
  end with the sequence delimiter when they are the file's last element;
- a file with the DICM preamble that pydicom cannot parse, or that belongs to the chosen series
  but was left out by GDCM, is refused.

A changed byte inside uncompressed pixel data, or inside a JPEG / JPEG 2000 code stream,
cannot be detected (DICOM has no checksum); a decoder that fails on it is reported.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from fracturelab.imaging.integrity import damaged
from fracturelab.imaging.modality import dicom_modality, sop_class_modality

if TYPE_CHECKING:
    from pydicom.dataset import Dataset

__all__ = ["SeriesFacts", "check_pixel_data", "check_series_files"]

logger = logging.getLogger(__name__)

_PIXEL_DATA = 0x7FE00010
_DELIMITER = {"<": b"\xfe\xff\xdd\xe0\x00\x00\x00\x00", ">": b"\xff\xfe\xe0\xdd\x00\x00\x00\x00"}
_DICOMDIR = "1.2.840.10008.1.3.10"


@dataclass(frozen=True)
class SeriesFacts:
    """What the headers of a checked series say."""

    modality: str | None  # Modality, or the modality of its SOP class; None if neither
    files: int  # number of files checked


def check_pixel_data(dataset: Dataset, source: Path, role: str) -> None:
    """Check that a dataset's Pixel Data are complete (nothing is decoded).

    Args:
        dataset: Read with pydicom, pixel data included.
        source: The file it was read from.
        role: What the file is for, for the message.

    Raises:
        InputError: If the pixel data are shorter (or, uncompressed, longer) than the header
            says, or compressed data are cut short.

    """
    if "PixelData" not in dataset:
        return
    element = dataset["PixelData"]
    value = element.value
    if not isinstance(value, (bytes, bytearray)):
        return
    frames = _integer(dataset.get("NumberOfFrames"), 1)
    if element.is_undefined_length:
        _check_encapsulated(dataset, bytes(value), frames, source, role)
        return
    rows, columns = _integer(dataset.get("Rows"), 0), _integer(dataset.get("Columns"), 0)
    samples = _integer(dataset.get("SamplesPerPixel"), 1)
    bits = _integer(dataset.get("BitsAllocated"), 0)
    if min(rows, columns, samples, frames, bits) < 1:
        raise damaged(role, source, f"DICOM image of {columns} x {rows} pixels, {bits} bits")
    expected = (rows * columns * samples * frames * bits + 7) // 8
    actual = len(value)
    if actual < expected:
        raise damaged(role, source, f"holds {actual:,} of {expected:,} bytes of pixel data")
    if actual > expected + 1:
        raise damaged(
            role,
            source,
            f"holds {actual:,} bytes of pixel data where Rows, Columns and Bits Allocated say "
            f"{expected:,}",
        )


def _check_encapsulated(
    dataset: Dataset, value: bytes, frames: int, source: Path, role: str
) -> None:
    from pydicom.encaps import generate_frames

    endian = "<" if _little_endian(dataset) else ">"
    try:
        found = sum(
            1 for frame in generate_frames(value, number_of_frames=frames, endianness=endian)
        )
    except (ValueError, KeyError, EOFError) as error:
        raise damaged(role, source, f"compressed pixel data: {error}") from None
    if found < frames:
        raise damaged(role, source, f"holds {found} of {frames} compressed frames")
    if max(dataset.keys()) == _PIXEL_DATA:  # pixel data last: the file ends with the delimiter
        with source.open("rb") as handle:
            handle.seek(-8, 2)
            if handle.read(8) != _DELIMITER[endian]:
                raise damaged(role, source, "the compressed pixel data have no end marker")


def check_series_files(folder: Path, series_files: Sequence[str], role: str) -> SeriesFacts:
    """Check every slice of the chosen series, and that GDCM left none of its files out.

    Args:
        folder: The series folder.
        series_files: The files GDCM put in the chosen series.
        role: What the series is for, for the message.

    Returns:
        The series' modality and file count.

    Raises:
        InputError: If a slice is truncated or damaged, or a file of the series (or a file
            with the DICM preamble that cannot be parsed) was left out of the series.

    """
    chosen = {Path(name).resolve() for name in series_files}
    series_uid: str | None = None
    modality: str | None = None
    for name in series_files:
        path = Path(name)
        dataset = _read(path, role, stop_before_pixels=False)
        if "PixelData" not in dataset:
            raise damaged(role, path, "a DICOM slice without pixel data")
        check_pixel_data(dataset, path, role)
        if series_uid is None:
            series_uid = str(dataset.get("SeriesInstanceUID", "") or "") or None
            stated, uid, _ = dicom_modality(dataset)
            modality = stated or sop_class_modality(uid)
    for path in sorted(folder.iterdir()):
        if path.resolve() in chosen or not path.is_file() or not _has_preamble(path):
            continue
        dataset = _read(path, role, stop_before_pixels=True)
        meta = getattr(dataset, "file_meta", None)
        if meta is not None and str(meta.get("MediaStorageSOPClassUID", "")) == _DICOMDIR:
            continue
        uid = str(dataset.get("SeriesInstanceUID", "") or "") or None
        if uid is None or uid == series_uid:
            raise damaged(role, path, "a DICOM file of the series that cannot be read as a slice")
    return SeriesFacts(modality=modality, files=len(series_files))


def _read(path: Path, role: str, *, stop_before_pixels: bool) -> Dataset:
    import pydicom

    try:
        return pydicom.dcmread(path, stop_before_pixels=stop_before_pixels, force=True)
    except Exception as error:  # pydicom raises many types for damaged files
        text = str(error).strip().splitlines()
        reason = text[0][:150] if text else type(error).__name__
        raise damaged(role, path, f"DICOM header: {reason}") from None


def _has_preamble(path: Path) -> bool:
    try:
        with path.open("rb") as handle:
            head = handle.read(132)
    except OSError:
        return False
    return len(head) == 132 and head[128:] == b"DICM"


def _little_endian(dataset: Dataset) -> bool:
    meta = getattr(dataset, "file_meta", None)
    syntax = meta.get("TransferSyntaxUID") if meta is not None else None
    try:
        return syntax is None or syntax.is_little_endian is not False
    except ValueError:  # a private transfer syntax
        return True


def _integer(value: object, default: int) -> int:
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return default
