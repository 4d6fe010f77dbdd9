"""Reading a vertebra label map onto the CT grid and naming its vertebrae."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from fracturelab.errors import InputError
from fracturelab.imaging import Volume, read_volume
from fracturelab.spine.conventions import choose_convention, detect_convention
from fracturelab.spine.levels import VERSE_LABELS, level_from_verse, level_index
from fracturelab.spine.plausibility import check_vertebra_labels

__all__ = ["VertebraLabelMap", "load_vertebra_labels"]

_PER_LEVEL_FILE = re.compile(
    r"^vertebrae_(C[1-7]|T1[0-3]|T[1-9]|L[1-6]|S1)\.(nii\.gz|nii|mha|mhd|nrrd)$", re.IGNORECASE
)

_NUMBERING = {
    "verse": "VerSe",
    "totalseg_v2": "TotalSegmentator v2",
    "totalseg_v1": "TotalSegmentator v1",
}


@dataclass
class VertebraLabelMap:
    """A label map on the CT grid together with the level each vertebra label stands for.

    Args:
        volume: Integer labels, shape ``(I, J, K)``, on the same grid as the CT.
        levels: Label value -> level name (``"L1"``), for the labels that are vertebrae.
        convention: Name of the numbering (``verse``, ``totalseg_v2``, ``totalseg_v1``,
            ``totalseg_folder``).
        detection: What was detected or chosen, for the user.
        boxes: Label value -> bounding box of its voxels as array slices.

    """

    volume: Volume
    levels: dict[int, str]
    convention: str
    detection: str
    boxes: dict[int, tuple[slice, slice, slice]] = field(repr=False)

    def labels_in_order(self) -> list[int]:
        """Vertebra labels sorted cranio-caudally by their level."""
        return sorted(self.levels, key=lambda label: level_index(self.levels[label]))


def load_vertebra_labels(
    source: str | Path | Volume,
    reference: Volume,
    *,
    convention: str = "auto",
    resample: bool = False,
) -> VertebraLabelMap:
    """Read a vertebra label map, put it on the CT grid and name its vertebrae.

    Args:
        source: Label map file, DICOM folder, a folder of TotalSegmentator per-level files
            (``vertebrae_L1.nii.gz`` ...), or a :class:`Volume`.
        reference: The CT; the label map must sample the same points (any storage
            orientation), or be resampled onto it when ``resample`` is set.
        convention: ``auto`` or a name from :data:`~fracturelab.spine.conventions.CONVENTIONS`.
        resample: Resample (nearest neighbour) a label map that lies on another grid.

    Raises:
        InputError: For unreadable, non-integer, empty or mismatched label maps, unknown
            conventions, label maps without vertebrae, or labels too large to be one
            vertebra (several vertebrae under one label, see
            :mod:`fracturelab.spine.plausibility`).

    """
    per_level = {} if isinstance(source, Volume) else _per_level_files(Path(source))
    if per_level and not isinstance(source, Volume):
        volume, note = _combine_per_level(Path(source), per_level)
    else:
        volume = source if isinstance(source, Volume) else read_volume(source, role="label map")
        note = ""
    name = str(volume.path) if volume.path is not None else "(in memory)"
    volume = volume.with_array(_integer_labels(volume.array, name))
    volume = _onto_grid(volume, reference, name, resample)
    boxes = _bounding_boxes(volume.array)
    if not boxes:
        raise InputError(f"label map {name}: is empty (every voxel is 0); give the vertebra masks")
    if per_level:
        levels = {label: str(level_from_verse(label)) for label in boxes}
        check_vertebra_labels(volume, levels, boxes, name=name, numbering="per-level file")
        return VertebraLabelMap(volume, levels, "totalseg_folder", note, boxes)
    if convention.strip().lower() == "auto":
        centres = {label: volume.index_to_world(_box_centre(box)) for label, box in boxes.items()}
        try:
            chosen, detection = detect_convention(centres)
        except InputError as error:
            raise InputError(f"label map {name}: {error}") from None
    else:
        chosen = choose_convention(convention)
        detection = f"using {chosen.description} as requested"
    levels = {label: lev for label in boxes if (lev := chosen.level_of(label)) is not None}
    if not levels:
        raise InputError(
            f"label map {name}: labels {sorted(boxes)[:8]} hold no vertebra in {chosen.name} "
            "numbering; check --labels or give a vertebra label map"
        )
    numbering = _NUMBERING.get(chosen.name, chosen.name)
    check_vertebra_labels(volume, levels, boxes, name=name, numbering=numbering)
    return VertebraLabelMap(volume, levels, chosen.name, detection, boxes)


def _integer_labels(array: npt.NDArray[Any], name: str) -> npt.NDArray[np.integer[Any]]:
    if array.dtype.kind == "b":
        return array.astype(np.uint8)
    if array.dtype.kind == "f":
        finite = np.isfinite(array)
        if not finite.all():
            raise InputError(f"label map {name}: holds NaN or infinite values; give integer labels")
        fractional = array != np.round(array)
        if fractional.any():
            example = float(array[fractional].flat[0])
            raise InputError(
                f"label map {name}: holds non-integer values (e.g. {example:g}); give an integer "
                "label map, not a probability or intensity image"
            )
    elif array.dtype.kind not in "iu":
        raise InputError(f"label map {name}: voxel type {array.dtype} is not a label type")
    if array.size and array.min() < 0:
        raise InputError(f"label map {name}: holds negative labels; labels must be >= 0")
    top = int(array.max()) if array.size else 0
    target = np.uint8 if top < 256 else np.uint16 if top < 65536 else np.int64
    return np.asarray(array, dtype=target)


def _onto_grid(volume: Volume, reference: Volume, name: str, resample: bool) -> Volume:
    placed = volume.on_grid_of(reference)
    if placed is not None:
        return placed
    if not resample:
        raise InputError(
            f"label map {name}: grid {_describe(volume)} differs from the CT's "
            f"{_describe(reference)}; pass --resample-labels to resample it onto the CT"
        )
    return volume.resampled_to(reference, nearest=True)


def _describe(volume: Volume) -> str:
    shape = "x".join(str(n) for n in volume.shape)
    spacing = "x".join(f"{s:.3g}" for s in volume.spacing_mm)
    origin = ", ".join(f"{o:.1f}" for o in volume.origin_mm)
    return f"{shape} voxels of {spacing} mm at ({origin}) {volume.orientation}"


def _bounding_boxes(array: npt.NDArray[np.integer[Any]]) -> dict[int, tuple[slice, slice, slice]]:
    from scipy import ndimage

    boxes: dict[int, tuple[slice, slice, slice]] = {}
    for index, box in enumerate(ndimage.find_objects(array)):
        if box is not None:
            boxes[index + 1] = (box[0], box[1], box[2])
    return boxes


def _box_centre(box: tuple[slice, slice, slice]) -> npt.NDArray[np.float64]:
    return np.array([(s.start + s.stop - 1) / 2.0 for s in box])


def _per_level_files(folder: Path) -> dict[str, Path]:
    if not folder.is_dir():
        return {}
    files: dict[str, Path] = {}
    for path in sorted(folder.iterdir()):
        match = _PER_LEVEL_FILE.match(path.name)
        if match:
            files[match.group(1).upper()] = path
    return files


def _combine_per_level(folder: Path, files: dict[str, Path]) -> tuple[Volume, str]:
    ordered = sorted(files, key=level_index)
    first = read_volume(files[ordered[0]], role="label map")
    combined = np.zeros(first.shape, dtype=np.uint8)
    overlaps: list[str] = []
    for level in ordered:
        part = read_volume(files[level], role="label map")
        placed = part.on_grid_of(first)
        if placed is None:
            raise InputError(
                f"label map {files[level]}: grid {_describe(part)} differs from "
                f"{files[ordered[0]].name}'s {_describe(first)}; "
                "all per-level files must share one grid"
            )
        mask = np.asarray(placed.array) > 0
        if np.any(combined[mask]):
            overlaps.append(level)
        combined[mask] = VERSE_LABELS[level]
    note = f"read {len(ordered)} per-level files (vertebrae_<LEVEL>) from {folder}"
    if overlaps:
        note += f"; overlapping masks at {', '.join(overlaps)} (the lower level wins)"
    return Volume(combined, first.affine, path=folder), note
