"""Header-only probes: a DICOM header without its pixels, and an image's size in pixels.

These read as little of a file as they can (the DICOM elements before the pixel data, or the
image header Pillow parses on open), so that checking many files, e.g. every row of a femur
manifest or a folder of DICOM slices, stays fast. They raise :class:`InputError` with one line
naming the file when the header cannot be read; callers that only want "a size or nothing"
catch it.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

from fracturelab.errors import InputError
from fracturelab.imaging.readers.base import reason
from fracturelab.typing import PathLike

if TYPE_CHECKING:  # pydicom is imported when a file is read, to keep `--help` fast
    from pydicom.dataset import Dataset

__all__ = ["DICOM_SUFFIXES", "is_dicom_file", "probe_size_px", "read_dicom_header"]

logger = logging.getLogger(__name__)

#: Suffixes under which a file without the ``DICM`` preamble is still read as DICOM.
DICOM_SUFFIXES = frozenset({".dcm", ".dicom"})


def _has_preamble(path: Path) -> bool:
    """Whether bytes 128-131 of the file are ``DICM``."""
    try:
        with path.open("rb") as handle:
            head = handle.read(132)
    except OSError as error:
        raise InputError(f"{path}: cannot be read ({error.strerror or error})") from None
    return len(head) == 132 and head[128:] == b"DICM"


def is_dicom_file(path: PathLike) -> bool:
    """Whether a file looks like DICOM: the ``DICM`` preamble, or a ``.dcm``/``.dicom`` name.

    Raises:
        InputError: The file cannot be opened.

    """
    source = Path(path)
    return _has_preamble(source) or source.suffix.lower() in DICOM_SUFFIXES


def read_dicom_header(path: PathLike) -> Dataset:
    """Read a DICOM file's header, stopping before the pixel data.

    A file is read when it has the ``DICM`` preamble, or when it is named ``.dcm`` or
    ``.dicom`` (older files without a File Meta header). Notes pydicom warns about while
    parsing go to the log, not to standard error.

    Args:
        path: The file.

    Returns:
        The header as a ``pydicom`` dataset (no ``PixelData`` element).

    Raises:
        InputError: One line naming the file when it is missing, cannot be opened, is not
            DICOM, or its header cannot be parsed.

    """
    source = Path(path)
    if not source.is_file():
        raise InputError(f"{source}: no such file; check the path")
    if not is_dicom_file(source):
        raise InputError(f"{source}: is not a DICOM file (no DICM preamble)")
    import pydicom

    with warnings.catch_warnings(record=True) as notes:
        warnings.simplefilter("always")
        try:
            dataset = pydicom.dcmread(source, stop_before_pixels=True, force=True)
        except Exception as error:  # pydicom raises many types for damaged or foreign files
            raise InputError(
                f"{source}: the DICOM header cannot be read ({reason(error)})"
            ) from None
    for note in notes:
        logger.info("%s: %s", source, note.message)
    if len(dataset) == 0:
        raise InputError(f"{source}: is not a DICOM file (no data elements)")
    return dataset


def probe_size_px(path: PathLike) -> tuple[int, int]:
    """Read an image's size from its header, without decoding its pixels.

    DICOM files (see :func:`read_dicom_header`) give ``Columns`` and ``Rows``; other files are
    opened with Pillow (PNG, TIFF, JPEG, ...), which parses only the header.

    Args:
        path: The image file.

    Returns:
        ``(width, height)`` = ``(columns, rows)`` in pixels.

    Raises:
        InputError: One line naming the file when its header cannot be read or states no
            size.

    """
    source = Path(path)
    if source.is_file() and is_dicom_file(source):
        dataset = read_dicom_header(source)
        try:
            return int(dataset.Columns), int(dataset.Rows)
        except (AttributeError, TypeError, ValueError):
            raise InputError(f"{source}: the DICOM header states no Rows and Columns") from None
    from PIL import Image

    try:
        with Image.open(source) as image:
            return int(image.size[0]), int(image.size[1])
    except FileNotFoundError:
        raise InputError(f"{source}: no such file; check the path") from None
    except Exception as error:  # Pillow raises many types for damaged or foreign files
        raise InputError(f"{source}: the image header cannot be read ({reason(error)})") from None
