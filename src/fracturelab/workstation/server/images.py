"""Case images for the browser, read from the case's files (never stored in the database).

- Spine: the CT and the vertebra label map go to NiiVue as NIfTI. A ``.nii``/``.nii.gz`` file
  is served as it is; other formats (DICOM series, MHA, NRRD, per-level folders) are converted
  once into the cache folder. The levels of the label map with their centroids come along.
- Femur: the radiograph is read with the same reader as training and prediction (DICOM display
  chain, MONOCHROME1 inverted), scaled to at most :data:`DISPLAY_MAX_PX` on its longer side
  and sent as raw little-endian ``uint16``; the browser windows it.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from fracturelab.errors import FracturelabError, InputError
from fracturelab.imaging.dicom_header import read_dicom_header
from fracturelab.imaging.io import read_volume, write_volume
from fracturelab.imaging.orientation import lps_to_ras
from fracturelab.imaging.radiograph_io import read_radiograph
from fracturelab.imaging.resize import resize_area
from fracturelab.imaging.volume import Volume
from fracturelab.spine.labels import VertebraLabelMap, load_vertebra_labels
from fracturelab.workstation.models import Case

__all__ = ["DISPLAY_MAX_PX", "CaseImages", "DisplayImage", "ImageUnavailableError"]

logger = logging.getLogger("fracturelab.workstation")

#: Longer side of the radiograph sent to the browser, in pixels.
DISPLAY_MAX_PX = 2048
_NIFTI_SUFFIXES = (".nii", ".nii.gz")
_DICOM_FIELDS = (
    "PatientName", "PatientID", "StudyDate", "Modality", "Manufacturer", "BodyPartExamined",
)  # fmt: skip
HIDDEN = "(hidden)"


class ImageUnavailableError(FracturelabError):
    """A case's image file is missing or cannot be read on the server."""


@dataclass(frozen=True)
class DisplayImage:
    """A radiograph prepared for the browser.

    Attributes:
        data: ``uint16`` little-endian bytes, shape ``(display_height_px, display_width_px)``.
        width_px: Columns of the original image.
        height_px: Rows of the original image.
        display_width_px: Columns sent.
        display_height_px: Rows sent.
        spacing_xy_mm: Pixel spacing of the original image ``(x, y)`` in mm, if known.

    """

    data: bytes
    width_px: int
    height_px: int
    display_width_px: int
    display_height_px: int
    spacing_xy_mm: tuple[float, float] | None


def _is_nifti(path: Path) -> bool:
    return path.is_file() and path.name.lower().endswith(_NIFTI_SUFFIXES)


def _fingerprint(path: Path) -> str:
    stat = path.stat()
    text = f"{path.resolve()}|{stat.st_mtime_ns}|{stat.st_size}"
    return hashlib.sha256(text.encode()).hexdigest()[:20]


class CaseImages:
    """Reads, converts and caches the images of cases.

    Args:
        cache_dir: Folder for converted NIfTI files (created when needed).
        max_radiographs: How many prepared radiographs to keep in memory.

    """

    def __init__(self, cache_dir: Path, max_radiographs: int = 8) -> None:
        self.cache_dir = Path(cache_dir)
        self.max_radiographs = max_radiographs
        self._radiographs: OrderedDict[str, DisplayImage] = OrderedDict()
        self._levels: dict[str, list[dict[str, Any]]] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def _lock(self, key: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(key, threading.Lock())

    @staticmethod
    def _source(case: Case, labels: bool = False) -> Path:
        text = case.labels_path if labels else case.image_path
        what = "label map" if labels else "image"
        path = Path(text) if text else None
        if path is None or not path.exists():
            logger.error("case %s: %s %s is missing", case.id, what, text)
            raise ImageUnavailableError(
                f"the {what} of case {case.name!r} is missing on the server; ask an admin to "
                "check the case's files"
            )
        return path

    # --- spine -------------------------------------------------------------------------------

    def spine_image(self, case: Case) -> Path:
        """A NIfTI file of the case's CT (the file itself, or a cached conversion)."""
        source = self._source(case)
        if _is_nifti(source):
            return source
        return self._converted(case, source, "ct", lambda: self._read_ct(case, source))

    def spine_labels(self, case: Case) -> Path:
        """A NIfTI file of the case's vertebra label map."""
        source = self._source(case, labels=True)
        if _is_nifti(source):
            return source
        return self._converted(case, source, "labels", lambda: self._label_map(case)[0].volume)

    def spine_levels(self, case: Case) -> list[dict[str, Any]]:
        """The vertebrae of the label map, cranial first.

        Returns:
            ``[{"level": "L1", "label": 20, "centroid_ras_mm": [x, y, z]}]``; the centroid in
            RAS millimetres (NIfTI / NiiVue world coordinates).

        """
        source = self._source(case, labels=True)
        key = f"{case.id}:{_fingerprint(source)}"
        with self._lock(key):
            if key not in self._levels:
                self._levels[key] = self._compute_levels(case)
            return self._levels[key]

    def _read_ct(self, case: Case, source: Path) -> Volume:
        try:
            return read_volume(source, role="CT")
        except FracturelabError as error:
            raise ImageUnavailableError(f"case {case.name!r}: {error}") from None

    def _label_map(self, case: Case) -> tuple[VertebraLabelMap, Volume]:
        ct = self._read_ct(case, self._source(case))
        try:
            labels = load_vertebra_labels(self._source(case, labels=True), ct, resample=True)
        except FracturelabError as error:
            raise ImageUnavailableError(f"case {case.name!r}: {error}") from None
        return labels, ct

    def _compute_levels(self, case: Case) -> list[dict[str, Any]]:
        from scipy import ndimage

        labels, _ = self._label_map(case)
        order = labels.labels_in_order()
        array = labels.volume.array
        centres = ndimage.center_of_mass(np.ones(array.shape, dtype=np.uint8), array, order)
        levels = []
        for label, centre in zip(order, centres, strict=True):
            lps = labels.volume.index_to_world(np.asarray(centre, dtype=float))
            ras = [round(float(value), 2) for value in lps_to_ras(lps)]
            levels.append(
                {"level": labels.levels[label], "label": int(label), "centroid_ras_mm": ras}
            )
        return levels

    def _converted(self, case: Case, source: Path, kind: str, read: Any) -> Path:
        target = self.cache_dir / f"case{case.id}-{kind}-{_fingerprint(source)}.nii.gz"
        with self._lock(str(target)):
            if not target.is_file():
                self.cache_dir.mkdir(parents=True, exist_ok=True)
                logger.info("case %s: converting %s %s to NIfTI", case.id, kind, source)
                write_volume(read(), target)
            return target

    # --- femur -------------------------------------------------------------------------------

    def radiograph(self, case: Case) -> DisplayImage:
        """The case's radiograph, prepared for the browser (cached in memory)."""
        source = self._source(case)
        key = f"{case.id}:{_fingerprint(source)}"
        with self._lock(key):
            cached = self._radiographs.get(key)
            if cached is None:
                cached = self._prepare_radiograph(case, source)
                self._radiographs[key] = cached
                while len(self._radiographs) > self.max_radiographs:
                    self._radiographs.popitem(last=False)
            self._radiographs.move_to_end(key)
            return cached

    def _prepare_radiograph(self, case: Case, source: Path) -> DisplayImage:
        try:
            image = read_radiograph(source, case.pixel_spacing_mm)
        except FracturelabError as error:
            raise ImageUnavailableError(f"case {case.name!r}: {error}") from None
        rows, columns = image.array.shape
        scale = min(1.0, DISPLAY_MAX_PX / max(rows, columns))
        shown_rows, shown_columns = max(1, round(rows * scale)), max(1, round(columns * scale))
        pixels = image.array
        if (shown_rows, shown_columns) != (rows, columns):
            pixels = resize_area(pixels, shown_rows, shown_columns)
        grey = np.clip(np.rint(pixels * 65535.0), 0, 65535).astype("<u2")
        spacing = image.spacing_xy_mm
        return DisplayImage(
            data=grey.tobytes(),
            width_px=columns,
            height_px=rows,
            display_width_px=shown_columns,
            display_height_px=shown_rows,
            spacing_xy_mm=None if spacing is None else (float(spacing[0]), float(spacing[1])),
        )

    # --- DICOM header ------------------------------------------------------------------------

    def dicom_header(self, case: Case, show_patient_names: bool) -> dict[str, str] | None:
        """A few header fields when the case's image is DICOM, else ``None``.

        ``PatientName`` is replaced by ``"(hidden)"`` unless ``show_patient_names``.
        """
        source = self._source(case)
        files = sorted(p for p in source.iterdir() if p.is_file()) if source.is_dir() else [source]
        for path in files[:50]:
            try:
                header = read_dicom_header(path)
            except InputError:
                continue
            fields = {name: str(header.get(name, "") or "") for name in _DICOM_FIELDS}
            if not show_patient_names and fields["PatientName"]:
                fields["PatientName"] = HIDDEN
            return fields
        return None
