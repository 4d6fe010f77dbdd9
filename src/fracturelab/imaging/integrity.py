"""Refuse truncated or damaged image files before a library reads them.

SimpleITK reads a ``.nii.gz`` that ends early without complaint (ITK's NIfTI reader does not
check that the gzip stream is complete), fills a ``.nii`` whose voxel data are cut short, reads
a gzip NRRD without its trailer, and ignores the Adler-32 checksum of a compressed MHA. Pillow
accepts a PNG cut after its image data. So every volume and radiograph file is checked here
first, against what its own header says it should hold:

- **NIfTI** ``.nii`` / ``.nii.gz`` (NIfTI-1 and NIfTI-2): the header is sound (header size,
  magic, a known data type with its bit depth, dimensions, voxel offset) and the file holds
  exactly ``vox_offset`` + voxel bytes. A ``.nii.gz`` is streamed through Python's ``gzip``
  (1 MiB at a time, nothing kept), which checks every member's CRC-32 and length.
- **MetaImage** ``.mha`` / ``.mhd``: the data (``LOCAL`` or a separate ``.raw`` / ``.zraw``
  file) hold exactly ``DimSize`` x channels x element size bytes; compressed data
  (``CompressedData = True``) are inflated as a stream, checking zlib's Adler-32.
- **NRRD** ``.nrrd`` / ``.nhdr``: raw data of the right size, gzip data streamed and checked
  as above, bzip2 data streamed; text and hex encodings are left to ITK.
- **PNG**: every chunk is complete with a correct CRC-32, up to ``IEND``.

TIFF and JPEG files are checked after Pillow opened them, by the reader that needs it
(:mod:`fracturelab.imaging.readers.pillow`): no TIFF directory entry cut short, strips and
tiles inside the file; a JPEG must end with its end-of-image marker.

What cannot be detected: a changed byte inside the uncompressed voxel data of ``.nii``,
``.mha``/``.mhd`` raw, raw NRRD, uncompressed TIFF or DICOM, or in their geometry fields
(spacing, origin, orientation), because these formats carry no checksum; nor a changed byte
in JPEG data. Such a file reads as another valid image. Compressed formats with a checksum
(gzip, zlib, PNG) and structural header fields (magic, dimensions, data type, offsets,
compression flags) are covered.

DICOM files are checked in :mod:`fracturelab.imaging.dicom_checks`.
"""

from __future__ import annotations

import bz2
import gzip
import math
import re
import struct
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

from fracturelab.errors import InputError

__all__ = ["check_image_file", "check_png", "damaged"]

_CHUNK = 1 << 20  # bytes read at a time when streaming

# NIfTI data type code -> bits per voxel (NIfTI-1 nifti1.h; the same codes in NIfTI-2).
_NIFTI_BITS = {
    1: 1, 2: 8, 4: 16, 8: 32, 16: 32, 32: 64, 64: 64, 128: 24, 256: 8, 512: 16, 768: 32,
    1024: 64, 1280: 64, 1536: 128, 1792: 128, 2048: 256, 2304: 32,
}  # fmt: skip

_MET_BYTES = {
    "MET_CHAR": 1, "MET_UCHAR": 1, "MET_SHORT": 2, "MET_USHORT": 2, "MET_INT": 4,
    "MET_UINT": 4, "MET_LONG_LONG": 8, "MET_ULONG_LONG": 8, "MET_FLOAT": 4, "MET_DOUBLE": 8,
}  # fmt: skip

_NRRD_BYTES = {
    **dict.fromkeys(("signed char", "int8", "int8_t", "uchar", "unsigned char"), 1),
    **dict.fromkeys(("uint8", "uint8_t"), 1),
    **dict.fromkeys(("short", "short int", "signed short", "signed short int"), 2),
    **dict.fromkeys(("int16", "int16_t", "ushort", "unsigned short", "uint16"), 2),
    **dict.fromkeys(("unsigned short int", "uint16_t"), 2),
    **dict.fromkeys(("int", "signed int", "int32", "int32_t", "uint", "unsigned int"), 4),
    **dict.fromkeys(("uint32", "uint32_t", "float"), 4),
    **dict.fromkeys(("longlong", "long long", "long long int", "signed long long"), 8),
    **dict.fromkeys(("signed long long int", "int64", "int64_t", "ulonglong"), 8),
    **dict.fromkeys(("unsigned long long", "unsigned long long int", "uint64"), 8),
    **dict.fromkeys(("uint64_t", "double"), 8),
}

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def damaged(role: str, source: Path, detail: str) -> InputError:
    """The one-line error for a truncated or damaged file.

    Args:
        role: What the file is for ("CT", "radiograph"), the start of the message.
        source: The damaged file.
        detail: What is wrong, in a few words ("gzip stream ends early").

    Returns:
        The error to raise.

    """
    return InputError(
        f"{role} {source}: the file is truncated or damaged ({detail}); copy or export it again"
    )


def check_image_file(source: Path, role: str) -> None:
    """Check a NIfTI, MetaImage, NRRD or PNG file for truncation and damage.

    Other files (TIFF, JPEG, DICOM, unknown types) are left alone here.

    Args:
        source: The file.
        role: What the file is for, used in messages.

    Raises:
        InputError: If the file is truncated, damaged or its header contradicts its size.

    """
    name = source.name.lower()
    checks: dict[str, Callable[[Path, str], None]] = {
        ".nii": _check_nifti,
        ".nii.gz": _check_nifti,
        ".mha": _check_metaimage,
        ".mhd": _check_metaimage,
        ".nrrd": _check_nrrd,
        ".nhdr": _check_nrrd,
        ".png": check_png,
    }
    for suffix, check in checks.items():
        if name.endswith(suffix):
            try:
                check(source, role)
            except OSError as error:
                raise InputError(
                    f"{role} {source}: cannot be read ({error.strerror or error}); check the "
                    "file and its permissions"
                ) from None
            return


# ------------------------------------------------------------------------------- streams
def _gzip_chunks(handle: BinaryIO, source: Path, role: str, where: str = "") -> Iterator[bytes]:
    """Decompressed chunks of a gzip stream, checking every member's CRC-32 and length."""
    try:
        with gzip.GzipFile(fileobj=handle, mode="rb") as stream:
            while chunk := stream.read(_CHUNK):
                yield chunk
    except EOFError:
        raise damaged(role, source, f"{where}the gzip stream ends early") from None
    except (gzip.BadGzipFile, zlib.error) as error:
        raise damaged(role, source, f"{where}gzip data: {error}") from None


def _zlib_chunks(handle: BinaryIO, source: Path, role: str, where: str = "") -> Iterator[bytes]:
    """Decompressed chunks of one zlib stream, checking its Adler-32; nothing may follow."""
    inflater = zlib.decompressobj()
    try:
        while not inflater.eof and (data := handle.read(_CHUNK)):
            while data:
                yield inflater.decompress(data, _CHUNK)
                data = inflater.unconsumed_tail
    except zlib.error as error:
        raise damaged(role, source, f"{where}zlib data: {error}") from None
    if not inflater.eof:
        raise damaged(role, source, f"{where}the zlib stream ends early")
    if inflater.unused_data or handle.read(1):
        raise damaged(role, source, f"{where}bytes after the end of the zlib stream")


def _bzip2_chunks(handle: BinaryIO, source: Path, role: str, where: str = "") -> Iterator[bytes]:
    try:
        with bz2.BZ2File(handle, mode="rb") as stream:
            while chunk := stream.read(_CHUNK):
                yield chunk
    except EOFError:
        raise damaged(role, source, f"{where}the bzip2 stream ends early") from None
    except OSError as error:
        raise damaged(role, source, f"{where}bzip2 data: {error}") from None


def _byte_count(chunks: Iterator[bytes]) -> int:
    return sum(len(chunk) for chunk in chunks)


def _holds(
    role: str, source: Path, actual: int, expected: int, what: str, where: str = ""
) -> InputError:
    return damaged(role, source, f"{where}holds {actual:,} of {expected:,} bytes of {what}")


def _data_location(
    source: Path, role: str, data_file: str | None, data_start: int, header_suffix: str
) -> tuple[Path, int] | None:
    """Where a MetaImage or NRRD header's voxel data live: the file and the byte they start at.

    Args:
        source: The header file.
        role: What the file is for, the start of error messages.
        data_file: The header's data-file field, or ``None`` when the data follow the header.
        data_start: Byte offset just after the header in ``source``.
        header_suffix: ``.mhd`` or ``.nhdr``, for the message when the data file is missing.

    Returns:
        ``(path, start)``, or ``None`` when the data are spread over several files (a ``LIST``
        or a file-name pattern), which ITK reads and checks itself.

    """
    if data_file is None:
        return source, data_start
    if data_file.upper().startswith("LIST") or "%" in data_file or " " in data_file.strip():
        return None
    data_path = source.parent / data_file
    if not data_path.is_file():
        raise InputError(
            f"{role} {source}: its data file {data_path.name} is missing; copy it next to "
            f"the {header_suffix} header"
        )
    return data_path, 0


def _where(source: Path, data_path: Path) -> str:
    """How a message names a separate data file ("" when the data are in ``source``)."""
    return "" if data_path == source else f"its data file {data_path.name} "


# --------------------------------------------------------------------------------- NIfTI
def _check_nifti(source: Path, role: str) -> None:
    with source.open("rb") as handle:
        if handle.read(2) != b"\x1f\x8b":  # ITK also reads a .nii.gz that is not compressed
            handle.seek(0)
            header = handle.read(540)
            expected = _nifti_size(header, source, role)
            actual = source.stat().st_size
        else:
            handle.seek(0)
            chunks = _gzip_chunks(handle, source, role)
            header = b""
            for chunk in chunks:  # the header may span the first chunks of a tiny stream
                header += chunk
                if len(header) >= 540:
                    break
            actual = len(header) + _byte_count(chunks)
            expected = _nifti_size(header[:540], source, role)
    if expected is None:
        return  # not NIfTI at all: ITK says it cannot read it
    if actual < expected:
        raise _holds(role, source, actual, expected, "header and voxel data")
    if actual > expected:
        raise damaged(
            role,
            source,
            f"holds {actual:,} bytes but its header describes {expected:,}; the dimensions or "
            "data type in the header are wrong",
        )


def _nifti_size(header: bytes, source: Path, role: str) -> int | None:
    """``vox_offset`` + voxel bytes that a NIfTI-1 or NIfTI-2 header describes.

    None when the bytes do not start like a NIfTI header at all (neither header size nor magic
    of a single-file NIfTI): ITK then says it cannot read the file.
    """
    if len(header) < 4:
        return None
    if len(header) < 348:
        sizes = {struct.unpack(order + "i", header[:4])[0] for order in "<>"}
        if not sizes & {348, 540}:
            return None
        raise _holds(role, source, len(header), min(sizes & {348, 540}), "NIfTI header")
    sizes = {struct.unpack(order + "i", header[:4])[0] for order in "<>"}
    magic = header[344:348] == b"n+1\x00" or header[4:12] == b"n+2\x00\r\n\x1a\n"
    if not magic and not sizes & {348, 540}:
        return None  # not NIfTI at all
    for order in "<>":
        (size,) = struct.unpack(order + "i", header[:4])
        if size == 348 and header[344:348] == b"n+1\x00":
            dims = struct.unpack(order + "8h", header[40:56])
            datatype, bitpix = struct.unpack(order + "2h", header[70:74])
            (offset,) = struct.unpack(order + "f", header[108:112])
            minimum = 352
            break
        if size == 540 and header[4:12] == b"n+2\x00\r\n\x1a\n":
            if len(header) < 540:
                raise _holds(role, source, len(header), 540, "NIfTI-2 header")
            datatype, bitpix = struct.unpack(order + "2h", header[12:16])
            dims = struct.unpack(order + "8q", header[16:80])
            (offset,) = struct.unpack(order + "q", header[168:176])
            minimum = 544
            break
    else:
        raise damaged(role, source, "NIfTI header size or magic is wrong")
    if _NIFTI_BITS.get(datatype) != bitpix:
        raise damaged(role, source, f"NIfTI data type {datatype} with {bitpix} bits per voxel")
    rank = dims[0]
    if not 1 <= rank <= 7 or any(d < 1 for d in dims[1 : rank + 1]):
        raise damaged(role, source, f"NIfTI dimensions {list(dims)}")
    if not math.isfinite(offset) or offset < minimum:
        raise damaged(role, source, f"NIfTI voxel offset {offset}")
    voxels = math.prod(int(d) for d in dims[1 : rank + 1])
    return int(offset) + (voxels * int(bitpix) + 7) // 8


# ----------------------------------------------------------------------------- MetaImage
def _check_metaimage(source: Path, role: str) -> None:
    with source.open("rb") as handle:
        fields, data_start = _metaimage_header(handle, source, role)
    data_file = fields["elementdatafile"]
    location = _data_location(
        source, role, None if data_file.upper() == "LOCAL" else data_file, data_start, ".mhd"
    )
    if location is None:
        return  # slices in several files: ITK reads and checks them
    data_path, start = location
    where = _where(source, data_path)
    try:
        dims = [int(v) for v in fields.get("dimsize", "").split()]
        channels = int(fields.get("elementnumberofchannels", "1"))
        header_size = int(fields.get("headersize", "0"))
    except ValueError:
        raise damaged(role, source, "MetaImage DimSize or channel count is not a number") from None
    element = _MET_BYTES.get(fields.get("elementtype", "").upper())
    if not dims or min(dims) < 1 or channels < 1:
        raise damaged(role, source, f"MetaImage DimSize {dims}")
    expected = math.prod(dims) * channels * element if element else None
    compressed = fields.get("compresseddata", "false").lower() == "true"
    with data_path.open("rb") as handle:
        handle.seek(start)
        if compressed:
            actual = _byte_count(_zlib_chunks(handle, source, role, where))
            if expected is not None and actual != expected:
                raise _holds(role, source, actual, expected, "decompressed voxel data", where)
            return
        actual = data_path.stat().st_size - start
    if expected is None or header_size < 0:  # -1: the data are the file's last bytes
        needed = expected or 0
        if actual < needed:
            raise _holds(role, source, actual, needed, "voxel data", where)
        return
    if actual != header_size + expected:
        raise _holds(role, source, actual - header_size, expected, "voxel data", where)


def _metaimage_header(handle: BinaryIO, source: Path, role: str) -> tuple[dict[str, str], int]:
    """``key = value`` fields (keys lower-cased) and where the data start after them."""
    fields: dict[str, str] = {}
    offset = 0
    for line in iter(lambda: handle.readline(1 << 16), b""):
        offset += len(line)
        key, sep, value = line.decode("latin-1").partition("=")
        if not sep:
            continue
        fields[key.strip().lower()] = value.strip()
        if key.strip().lower() == "elementdatafile":
            return fields, offset
        if offset > 1 << 20:
            break
    raise damaged(role, source, "the MetaImage header has no ElementDataFile line")


# ---------------------------------------------------------------------------------- NRRD
def _check_nrrd(source: Path, role: str) -> None:
    with source.open("rb") as handle:
        fields, data_start = _nrrd_header(handle, source, role)
    data_file = fields.get("data file") or fields.get("datafile")
    location = _data_location(source, role, data_file, data_start, ".nhdr")
    if location is None:
        return  # several data files: ITK reads and checks them
    data_path, start = location
    where = _where(source, data_path)
    try:
        sizes = [int(v) for v in fields.get("sizes", "").split()]
        byte_skip = int(fields.get("byte skip", fields.get("byteskip", "0")))
        line_skip = int(fields.get("line skip", fields.get("lineskip", "0")))
    except ValueError:
        raise damaged(role, source, "NRRD sizes or skips are not numbers") from None
    if not sizes or min(sizes) < 1:
        raise damaged(role, source, f"NRRD sizes {sizes}")
    element = _NRRD_BYTES.get(" ".join(fields.get("type", "").lower().split()))
    expected = math.prod(sizes) * element if element else 0
    encoding = fields.get("encoding", "").lower()
    streams = {"gzip": _gzip_chunks, "gz": _gzip_chunks, "bzip2": _bzip2_chunks}
    with data_path.open("rb") as handle:
        handle.seek(start)
        for _ in range(line_skip):
            handle.readline()
        if encoding in ("gzip", "gz", "bzip2", "bz2"):
            chunks = streams.get(encoding, _bzip2_chunks)(handle, source, role, where)
            actual = _byte_count(chunks) - max(byte_skip, 0)
        elif encoding == "raw":
            actual = data_path.stat().st_size - handle.tell() - max(byte_skip, 0)
        else:
            return  # text and hex: ITK parses the numbers and reports what is missing
    exact = byte_skip >= 0 and line_skip == 0 and element is not None
    if actual < expected or (exact and actual != expected):
        raise _holds(role, source, actual, expected, "voxel data", where)


def _nrrd_header(handle: BinaryIO, source: Path, role: str) -> tuple[dict[str, str], int]:
    """``key: value`` fields (keys lower-cased) and where attached data start."""
    if not re.match(rb"NRRD000\d", handle.readline(64)):
        raise damaged(role, source, "no NRRD magic line")
    fields: dict[str, str] = {}
    for line in iter(lambda: handle.readline(1 << 16), b""):
        text = line.decode("latin-1").rstrip("\r\n")
        if not text:
            return fields, handle.tell()
        if text.startswith("#") or ":=" in text:
            continue
        key, sep, value = text.partition(":")
        if sep:
            fields[key.strip().lower()] = value.strip()
    if "data file" in fields or "datafile" in fields:
        return fields, handle.tell()
    raise damaged(role, source, "the NRRD header does not end with an empty line")


# ----------------------------------------------------------------------------------- PNG
def check_png(source: Path, role: str) -> None:
    """Check that every PNG chunk is complete with a correct CRC-32, up to ``IEND``.

    Args:
        source: The file; one that does not start with the PNG signature is left alone.
        role: What the file is for, used in messages.

    Raises:
        InputError: If the file ends early or a chunk's CRC is wrong.

    """
    with source.open("rb") as handle:
        if handle.read(8) != _PNG_SIGNATURE:
            return  # not a PNG after all: the reader says so
        while True:
            head = handle.read(8)
            if len(head) < 8:
                raise damaged(role, source, "the PNG ends before its IEND chunk")
            length, kind = struct.unpack(">I4s", head)
            if length > 1 << 31:
                raise damaged(role, source, f"PNG chunk length {length}")
            crc = zlib.crc32(kind)
            remaining = length
            while remaining:
                data = handle.read(min(remaining, _CHUNK))
                if not data:
                    raise damaged(role, source, f"the PNG ends inside its {_name(kind)} chunk")
                crc = zlib.crc32(data, crc)
                remaining -= len(data)
            stored = handle.read(4)
            if len(stored) < 4:
                raise damaged(role, source, f"the PNG ends inside its {_name(kind)} chunk")
            if struct.unpack(">I", stored)[0] != crc:
                raise damaged(role, source, f"CRC mismatch in its PNG {_name(kind)} chunk")
            if kind == b"IEND":
                return


def _name(kind: bytes) -> str:
    return kind.decode("latin-1") if kind.isalpha() else repr(kind)
