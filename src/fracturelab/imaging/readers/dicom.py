"""The DICOM radiograph reader (CR/DX), with the standard grey-value display chain.

Grey values go through modality LUT (Rescale Slope/Intercept or Modality LUT Sequence), then
VOI LUT (the first VOI LUT Sequence item, else the first Window Center/Width pair with its VOI
LUT Function), else a min-max stretch; MONOCHROME1 is then inverted so that bone is bright. The
window and LUT arithmetic follows DICOM PS3.3 C.11.2 and is done here in ``float32`` (pydicom's
``apply_windowing`` works in ``float64``, and its ``apply_voi`` mis-indexes LUTs with 8-bit
entries and more than 256 entries).
"""

from __future__ import annotations

import logging
import math
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from fracturelab.errors import InputError
from fracturelab.imaging.dicom_checks import check_pixel_data
from fracturelab.imaging.integrity import damaged
from fracturelab.imaging.modality import check_radiograph_modality
from fracturelab.imaging.readers.base import (
    FORMATS,
    ROLE,
    ReadResult,
    Spacing,
    luminance,
    min_max,
    reason,
)
from fracturelab.typing import FloatArray

if TYPE_CHECKING:  # pydicom is imported when a file is read, to keep `--help` fast
    from pydicom.dataset import Dataset

__all__ = ["DicomReader"]

logger = logging.getLogger(__name__)

# Packages that decode DICOM transfer syntaxes through pydicom's pylibjpeg plugin.
_OPENJPEG = "pylibjpeg and pylibjpeg-openjpeg"
_LIBJPEG = "pylibjpeg and pylibjpeg-libjpeg"
_DECODER_PACKAGES = {
    "1.2.840.10008.1.2.4.50": _LIBJPEG,  # JPEG Baseline
    "1.2.840.10008.1.2.4.51": _LIBJPEG,  # JPEG Extended
    "1.2.840.10008.1.2.4.57": _LIBJPEG,  # JPEG Lossless
    "1.2.840.10008.1.2.4.70": _LIBJPEG,  # JPEG Lossless SV1
    "1.2.840.10008.1.2.4.80": _LIBJPEG,  # JPEG-LS Lossless
    "1.2.840.10008.1.2.4.81": _LIBJPEG,  # JPEG-LS Near-lossless
    "1.2.840.10008.1.2.4.90": _OPENJPEG,  # JPEG 2000 Lossless
    "1.2.840.10008.1.2.4.91": _OPENJPEG,  # JPEG 2000
    "1.2.840.10008.1.2.4.201": _OPENJPEG,  # HTJ2K Lossless
    "1.2.840.10008.1.2.4.202": _OPENJPEG,  # HTJ2K Lossless RPCL
    "1.2.840.10008.1.2.4.203": _OPENJPEG,  # HTJ2K
    "1.2.840.10008.1.2.5": "pylibjpeg and pylibjpeg-rle",  # RLE Lossless
}


class DicomReader:
    """Reads DICOM radiographs: by the ``DICM`` preamble, or a DICOM suffix without one.

    The suffixes are ``.dcm``, ``.dicom``, ``.dic`` and none (files named by their UID).
    """

    kinds = frozenset({"DICOM"})
    suffixes = frozenset({"", ".dcm", ".dicom", ".dic"})

    def read(
        self, source: Path, kind: str | None, suffix: str, allowed: frozenset[str]
    ) -> ReadResult:
        """Read a single-frame DICOM image of an allowed modality (forced without preamble)."""
        return _read_dicom(source, allowed, force=kind != "DICOM")


def _read_dicom(source: Path, allowed: frozenset[str], *, force: bool) -> ReadResult:
    # pydicom warns (on standard error) about odd values it meets while parsing lazily, e.g. an
    # invalid UID; the user sees one line or a result, so such notes go to the log instead.
    with warnings.catch_warnings(record=True) as notes:
        warnings.simplefilter("always")
        result = _read_dicom_file(source, allowed, force=force)
    for note in notes:
        logger.info("%s: %s", source, note.message)
    return result


def _read_dicom_file(source: Path, allowed: frozenset[str], *, force: bool) -> ReadResult:
    import pydicom

    try:
        # pydicom only warns when a file ends inside an element or before a delimiter; keep
        # those warnings off standard error and treat them as what they are: a cut file.
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            dataset = pydicom.dcmread(source, force=force)
    except Exception as error:  # pydicom raises many types for damaged or non-DICOM files
        raise InputError(
            f"{ROLE} {source}: cannot be read as DICOM ({reason(error)}); give {FORMATS}, "
            "and export it again if it is damaged"
        ) from None
    for warning in caught:
        text = str(warning.message)
        if "end of file" in text.lower() or "delimiter" in text.lower():
            raise damaged(ROLE, source, "DICOM: " + text.split(" found in file")[0][:120])
    if not any(
        keyword in dataset for keyword in ("PixelData", "FloatPixelData", "DoubleFloatPixelData")
    ):
        if force:  # no DICM preamble either: most likely not DICOM at all
            raise InputError(
                f"{ROLE} {source}: is not a DICOM image (no DICM preamble, no pixel data); "
                f"give {FORMATS}"
            )
        kind = _sop_class_name(dataset)
        raise InputError(
            f"{ROLE} {source}: holds no pixel data ({kind}); give an image DICOM such as a CR "
            "or DX radiograph, exported again if the file was cut short"
        )
    check_radiograph_modality(dataset, source, allowed, ROLE)
    _set_missing_transfer_syntax(dataset)
    check_pixel_data(dataset, source, ROLE)
    frames = _integer(dataset.get("NumberOfFrames"), default=1)
    if frames > 1:
        raise InputError(
            f"{ROLE} {source}: is a multi-frame DICOM with {frames} frames; give a single 2D "
            "radiograph (one frame per file)"
        )
    _check_decoder(dataset, source)
    try:
        pixels = np.asarray(dataset.pixel_array)
    except Exception as error:  # decoders raise many types for truncated or corrupt data
        raise InputError(
            f"{ROLE} {source}: the pixel data cannot be decoded ({reason(error)}); the file "
            "may be truncated or damaged, export it again"
        ) from None

    photometric = str(dataset.get("PhotometricInterpretation", "MONOCHROME2")).strip().upper()
    samples = _integer(dataset.get("SamplesPerPixel"), default=1)
    if photometric in ("MONOCHROME1", "MONOCHROME2") and samples == 1:
        if pixels.ndim != 2:
            raise InputError(
                f"{ROLE} {source}: the pixel array has shape {pixels.shape}, a 3D volume; "
                "give a single 2D radiograph"
            )
        values = _grey_dicom(pixels, dataset, source)
        if photometric == "MONOCHROME1":  # smallest stored value is white: make bone bright
            np.subtract(np.float32(1.0), values, out=values)
    elif samples == 3 and pixels.ndim == 3 and pixels.shape[-1] == 3:
        # pydicom returns RGB for RGB and YBR_* colour spaces.
        bits = _integer(dataset.get("BitsStored"), default=8 * pixels.dtype.itemsize)
        values = luminance(pixels, 2.0**bits - 1.0)
    elif samples == 3:
        raise InputError(
            f"{ROLE} {source}: the pixel array has shape {pixels.shape}, a 3D colour volume; "
            "give a single 2D radiograph"
        )
    else:
        raise InputError(
            f"{ROLE} {source}: photometric interpretation {photometric} "
            f"({samples} sample(s) per pixel) is not supported; export the radiograph as "
            "greyscale (MONOCHROME1/2) or RGB"
        )
    spacing, spacing_source = _dicom_spacing(dataset, source)
    return values, spacing, spacing_source


def _set_missing_transfer_syntax(dataset: Dataset) -> None:
    """Give a file without a File Meta header the uncompressed syntax it was read with."""
    from pydicom.dataset import FileMetaDataset
    from pydicom.uid import ExplicitVRBigEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian

    meta = getattr(dataset, "file_meta", None)
    if meta is not None and meta.get("TransferSyntaxUID") is not None:
        return
    implicit, little = dataset.original_encoding
    if little is False:
        syntax = ExplicitVRBigEndian
    else:
        syntax = ImplicitVRLittleEndian if implicit is not False else ExplicitVRLittleEndian
    if meta is None:
        meta = FileMetaDataset()
        dataset.file_meta = meta
    meta.TransferSyntaxUID = syntax


def _sop_class_name(dataset: Dataset) -> str:
    meta = getattr(dataset, "file_meta", None)
    uid = dataset.get("SOPClassUID") or (meta.get("MediaStorageSOPClassUID") if meta else None)
    if uid is None:
        return "no SOP class"
    name = getattr(uid, "name", str(uid))
    return f"SOP class {name}"


def _check_decoder(dataset: Dataset, source: Path) -> None:
    """Refuse compressed pixel data that no installed pydicom decoder plugin can read."""
    from pydicom.pixels.decoders import base as decoders

    meta = getattr(dataset, "file_meta", None)
    syntax = meta.get("TransferSyntaxUID") if meta is not None else None
    try:
        if syntax is None or not syntax.is_compressed:
            return
    except ValueError:  # a private or unknown UID: let the decoder try and report
        return
    try:
        decoder = decoders.get_decoder(syntax)
    except NotImplementedError:
        raise InputError(
            f"{ROLE} {source}: pixel data are compressed as {syntax.name} ({syntax}), which "
            "no pydicom decoder reads; convert the file to uncompressed DICOM, PNG or TIFF"
        ) from None
    if not decoder.is_available:
        packages = _DECODER_PACKAGES.get(str(syntax), " or ".join(decoder.missing_dependencies))
        raise InputError(
            f"{ROLE} {source}: pixel data are compressed as {syntax.name} ({syntax}) and no "
            f"decoder for it is installed; install {packages}"
        )


def _grey_dicom(pixels: npt.NDArray[Any], dataset: Dataset, source: Path) -> FloatArray:
    """Modality LUT, then VOI LUT / window / min-max: stored values → ``[0, 1]`` float32."""
    values = _modality_lut(pixels, dataset, source)
    shown = _voi_lut(values, dataset, source)
    return shown if shown is not None else min_max(values)


def _modality_lut(pixels: npt.NDArray[Any], dataset: Dataset, source: Path) -> npt.NDArray[Any]:
    item = _first_lut_item(dataset, "ModalityLUTSequence")
    if item is not None:
        return _apply_lut(pixels, item, dataset, source, normalise=False)
    slope = _number(dataset.get("RescaleSlope"), default=1.0)
    intercept = _number(dataset.get("RescaleIntercept"), default=0.0)
    if slope == 0.0:
        logger.warning("%s: Rescale Slope is 0; ignoring the rescale", source)
        return pixels
    if slope == 1.0 and intercept == 0.0:
        return pixels
    values: FloatArray = pixels.astype(np.float32)
    values *= np.float32(slope)
    values += np.float32(intercept)
    return values


def _voi_lut(values: npt.NDArray[Any], dataset: Dataset, source: Path) -> FloatArray | None:
    item = _first_lut_item(dataset, "VOILUTSequence")
    if item is not None:
        return _apply_lut(values, item, dataset, source, normalise=True)
    center = _number(_first(dataset.get("WindowCenter")), default=None)
    width = _number(_first(dataset.get("WindowWidth")), default=None)
    if center is None or width is None:
        return None
    function = str(dataset.get("VOILUTFunction", "LINEAR") or "LINEAR").strip().upper()
    return _window(values, center, width, function, source)


def _window(
    values: npt.NDArray[Any], center: float, width: float, function: str, source: Path
) -> FloatArray | None:
    """DICOM PS3.3 C.11.2.1.2-3 windowing, scaled to ``[0, 1]`` instead of the output range."""
    if function not in ("LINEAR", "LINEAR_EXACT", "SIGMOID"):
        logger.warning("%s: unknown VOI LUT Function %r; using LINEAR", source, function)
        function = "LINEAR"
    if (function == "LINEAR" and width < 1.0) or width <= 0.0:
        logger.warning(
            "%s: Window Width %g is not valid for %s; stretching min-max instead",
            source,
            width,
            function,
        )
        return None
    if function == "LINEAR":
        center, width = center - 0.5, width - 1.0
        if width == 0.0:  # a width of 1 is a threshold
            threshold: FloatArray = np.greater(values, center).astype(np.float32)
            return threshold
    shown: FloatArray = np.subtract(values, np.float32(center), dtype=np.float32, casting="unsafe")
    if function == "SIGMOID":
        shown *= np.float32(-4.0 / width)
        with np.errstate(over="ignore"):  # exp → inf gives 1 / inf = 0, as it should
            np.exp(shown, out=shown)
        shown += np.float32(1.0)
        np.reciprocal(shown, out=shown)
        return shown
    shown *= np.float32(1.0 / width)
    shown += np.float32(0.5)
    np.clip(shown, 0.0, 1.0, out=shown)
    return shown


def _first_lut_item(dataset: Dataset, keyword: str) -> Dataset | None:
    sequence = dataset.get(keyword)
    if not sequence:
        return None
    item: Dataset = sequence[0]
    if item.get("LUTDescriptor") is None or item.get("LUTData") is None:
        return None
    return item


def _apply_lut(
    values: npt.NDArray[Any], item: Dataset, dataset: Dataset, source: Path, *, normalise: bool
) -> FloatArray:
    """Look values up in a Modality or VOI LUT (PS3.3 C.11.1.1 / C.11.2.1.1).

    Values below the first mapped value take the first entry, values past the end the last.
    With ``normalise`` the LUT's own output range (its smallest to largest entry) is scaled to
    ``[0, 1]``; the descriptor's bit depth is not trusted, as vendors often get it wrong.
    """
    descriptor = [int(v) for v in item.LUTDescriptor]
    if len(descriptor) != 3:
        raise InputError(
            f"{ROLE} {source}: a LUT Descriptor has {len(descriptor)} values instead of 3; "
            "the DICOM header is damaged, export the image again"
        )
    entries = descriptor[0] or 65536
    first = descriptor[1]
    signed = _integer(dataset.get("PixelRepresentation"), default=0) == 1
    if signed and first > 32767:  # read as US although the standard says SS for signed data
        first -= 65536
    raw = item.LUTData
    if isinstance(raw, (bytes, bytearray)):
        meta = getattr(dataset, "file_meta", None)
        syntax = meta.get("TransferSyntaxUID") if meta is not None else None
        try:
            big_endian = syntax is not None and syntax.is_little_endian is False
        except ValueError:  # a private transfer syntax: assume the usual little endian
            big_endian = False
        lut = np.frombuffer(bytes(raw), dtype=">u2" if big_endian else "<u2", count=-1)
    else:
        lut = np.atleast_1d(np.asarray(raw, dtype=np.float64))
    if lut.size < entries:
        logger.warning(
            "%s: LUT has %d entries but its descriptor says %d", source, lut.size, entries
        )
        entries = lut.size
    if entries == 0:
        raise InputError(
            f"{ROLE} {source}: a LUT in the DICOM header is empty; export the image again"
        )
    table = lut[:entries].astype(np.float32)
    if normalise:
        low, high = float(table.min()), float(table.max())
        table -= np.float32(low)
        if high > low:
            table *= np.float32(1.0 / (high - low))
    if np.issubdtype(values.dtype, np.integer):
        index = values.astype(np.int32)
        index -= np.int32(first)
    else:
        index = np.rint(values - np.float32(first)).astype(np.int32)
    np.clip(index, 0, entries - 1, out=index)
    result: FloatArray = table[index]
    if normalise:
        np.clip(result, 0.0, 1.0, out=result)
    return result


def _dicom_spacing(dataset: Dataset, source: Path) -> tuple[Spacing | None, str | None]:
    for keyword in ("PixelSpacing", "ImagerPixelSpacing"):
        value = dataset.get(keyword)
        if value is None or value == "":
            continue
        try:
            row_spacing, column_spacing = (float(v) for v in value)
        except (TypeError, ValueError):
            row_spacing = column_spacing = math.nan
        if all(math.isfinite(v) and v > 0 for v in (row_spacing, column_spacing)):
            return (column_spacing, row_spacing), keyword
        logger.warning("%s: ignoring %s %r, not two positive numbers", source, keyword, value)
    return None, None


def _first(value: Any) -> Any:
    """The first of several values (a DICOM multi-valued element), or the value itself."""
    if value is None or isinstance(value, (str, bytes)):
        return value
    try:
        return next(iter(value), None)
    except TypeError:
        return value


def _number(value: Any, *, default: float | None) -> Any:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return default
    return number if math.isfinite(number) else default


def _integer(value: Any, *, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default
