"""The femur manifest: one CSV row per radiograph (``docs/design.md``), validated up front."""

from __future__ import annotations

import csv
import math
from collections import defaultdict
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fracturelab.checks import did_you_mean
from fracturelab.errors import InputError
from fracturelab.femur.contract import AFF, LABELS, MANIFEST_COLUMNS, REQUIRED_COLUMNS
from fracturelab.imaging import probe_size_px, read_dicom_header
from fracturelab.imaging.modality import (
    allowed_modalities,
    check_radiograph_modality,
    dicom_modality,
)

__all__ = ["Manifest", "ManifestRow", "image_size_px"]


@dataclass(frozen=True)
class ManifestRow:
    """One radiograph of a manifest.

    Attributes:
        line: Line number in the CSV (the header is line 1).
        image: Absolute path of the image file.
        image_text: The ``image`` cell as written (relative to the CSV).
        patient_id: Patient identifier; splits keep a patient's images together.
        label: ``"AFF"``, ``"NFF"`` or ``None`` when unlabelled.
        center_xy_px: Fracture centre ``(x, y)`` in original pixels, or ``None``.
        pixel_spacing_mm: Square pixel size from the manifest, or ``None`` (read from DICOM).

    """

    line: int
    image: Path
    image_text: str
    patient_id: str
    label: str | None
    center_xy_px: tuple[float, float] | None
    pixel_spacing_mm: float | None

    @property
    def is_aff(self) -> bool:
        """Whether the label is the positive class AFF."""
        return self.label == AFF


@dataclass
class Manifest:
    """A validated femur manifest.

    Attributes:
        path: The CSV file.
        rows: Rows in file order.
        notes: Things worth telling the user that are not errors (e.g. a patient with both
            labels).

    """

    path: Path
    rows: list[ManifestRow]
    notes: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self) -> Iterator[ManifestRow]:
        return iter(self.rows)

    @property
    def patients(self) -> list[str]:
        """Patient identifiers in order of first appearance."""
        return list(dict.fromkeys(row.patient_id for row in self.rows))

    def labelled(self) -> Manifest:
        """Rows with both a label and a centre: what training and evaluation can use."""
        kept = [r for r in self.rows if r.label is not None and r.center_xy_px is not None]
        return Manifest(self.path, kept, list(self.notes))

    def class_counts(self) -> dict[str, int]:
        """Number of images per label (unlabelled rows are not counted)."""
        counts = dict.fromkeys(LABELS, 0)
        for row in self.rows:
            if row.label is not None:
                counts[row.label] += 1
        return counts

    @classmethod
    def read(
        cls,
        path: str | Path,
        *,
        check_images: bool = True,
        allow_modalities: Collection[str] = (),
    ) -> Manifest:
        """Read and validate a manifest CSV.

        Every problem found is reported at once, in one line per kind of problem, so a user
        fixes the file in one go.

        Args:
            path: The CSV file; ``image`` paths are relative to its folder.
            check_images: Check that each image exists, that its centre lies inside the
                image and that a DICOM image is a radiograph (reads image headers only).
            allow_modalities: DICOM Modality codes accepted besides CR, DX and DR
                (``--allow-modality``; see :mod:`fracturelab.imaging.modality`).

        Raises:
            InputError: If the file is missing, empty, lacks columns, or has bad cells, or a
                DICOM image is not a radiograph and its modality is not allowed.

        """
        csv_path = Path(path)
        if not csv_path.is_file():
            what = "is a folder" if csv_path.is_dir() else "does not exist"
            raise InputError(f"manifest {csv_path} {what}; give the path of a manifest CSV")
        try:
            text = csv_path.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as error:
            raise InputError(
                f"manifest {csv_path} cannot be read as UTF-8 text ({error})"
            ) from None
        reader = csv.DictReader(text.splitlines())
        columns = [c.strip() for c in (reader.fieldnames or [])]
        if not columns:
            raise InputError(
                f"manifest {csv_path} is empty; write a header "
                f"{','.join(MANIFEST_COLUMNS)} and one row per radiograph"
            )
        missing = [c for c in REQUIRED_COLUMNS if c not in columns]
        if missing:
            hints = [f"{name}{did_you_mean(name, columns)}" for name in missing]
            raise InputError(
                f"manifest {csv_path} lacks the column(s) {', '.join(hints)}; "
                f"the columns are {', '.join(MANIFEST_COLUMNS)}"
            )
        rows: list[ManifestRow] = []
        problems: dict[str, list[str]] = defaultdict(list)
        for number, raw in enumerate(reader, start=2):
            cells = {k.strip(): (v or "").strip() for k, v in raw.items() if k is not None}
            if not any(cells.values()):
                continue
            row = _parse_row(cells, number, csv_path.parent, problems)
            if row is not None:
                rows.append(row)
        if not rows and not problems:
            raise InputError(
                f"manifest {csv_path} has a header but no rows; add one row per radiograph"
            )
        allowed = allowed_modalities(allow_modalities)
        if check_images:
            _check_images(rows, problems, allowed)
        if problems:
            raise InputError(f"manifest {csv_path}: " + "; ".join(_summarise(problems)))
        manifest = cls(csv_path, rows)
        manifest.notes.extend(_notes(rows))
        return manifest


def _parse_row(
    cells: dict[str, str], line: int, folder: Path, problems: dict[str, list[str]]
) -> ManifestRow | None:
    image_text = cells.get("image", "")
    patient = cells.get("patient_id", "")
    if not image_text:
        problems["empty image cell (give the image path)"].append(f"line {line}")
        return None
    if not patient:
        problems["empty patient_id (every image needs its patient)"].append(f"line {line}")
        return None
    label_text = cells.get("label", "").upper()
    label: str | None = None
    if label_text:
        if label_text not in LABELS:
            problems[f"unknown label (allowed: {', '.join(LABELS)} or empty)"].append(
                f"line {line} {cells['label']!r}"
            )
            return None
        label = label_text
    valid, center = _parse_center(
        cells.get("center_x", ""), cells.get("center_y", ""), line, problems
    )
    spacing: float | None = None
    spacing_text = cells.get("pixel_spacing_mm", "")
    if spacing_text:
        try:
            spacing = float(spacing_text)
        except ValueError:
            spacing = math.nan
        if not (math.isfinite(spacing) and spacing > 0):
            problems["pixel_spacing_mm must be a positive number in mm or empty"].append(
                f"line {line} {spacing_text!r}"
            )
            return None
    if not valid:
        return None
    image = (folder / image_text).resolve()
    return ManifestRow(line, image, image_text, patient, label, center, spacing)


def _parse_center(
    x_text: str, y_text: str, line: int, problems: dict[str, list[str]]
) -> tuple[bool, tuple[float, float] | None]:
    if not x_text and not y_text:
        return True, None
    try:
        x, y = float(x_text), float(y_text)
    except ValueError:
        x = y = math.nan
    if not (math.isfinite(x) and math.isfinite(y)):
        problems["center_x and center_y must both be numbers (pixels) or both empty"].append(
            f"line {line} ({x_text!r}, {y_text!r})"
        )
        return False, None
    return True, (x, y)


def _check_images(
    rows: list[ManifestRow], problems: dict[str, list[str]], allowed: frozenset[str]
) -> None:
    for row in rows:
        if not row.image.is_file():
            problems["image file not found (paths are relative to the manifest)"].append(
                f"line {row.line} {row.image_text}"
            )
            continue
        refused = _refused_modality(row.image, allowed)
        if refused is not None:
            problems[
                "DICOM image not a radiograph (CR, DX, DR); give radiographs, or add "
                "--allow-modality CODE if you are sure"
            ].append(f"line {row.line} {row.image_text} ({refused})")
            continue
        if row.center_xy_px is None:
            continue
        size = image_size_px(row.image)
        if size is None:
            continue  # unreadable headers are reported when the image is read
        width, height = size
        x, y = row.center_xy_px
        if not (-0.5 <= x <= width - 0.5 and -0.5 <= y <= height - 0.5):
            problems["centre outside the image (x is the column, y the row, in pixels)"].append(
                f"line {row.line} ({x:g}, {y:g}) in {width} x {height} px"
            )


def _summarise(problems: dict[str, list[str]]) -> list[str]:
    parts = []
    for problem, where in problems.items():
        shown = ", ".join(where[:3]) + (f" and {len(where) - 3} more" if len(where) > 3 else "")
        parts.append(f"{problem}: {shown}")
    return parts


def _notes(rows: list[ManifestRow]) -> list[str]:
    notes = []
    labels: dict[str, set[str]] = defaultdict(set)
    for row in rows:
        if row.label is not None:
            labels[row.patient_id].add(row.label)
    mixed = sorted(p for p, found in labels.items() if len(found) > 1)
    if mixed:
        shown = ", ".join(mixed[:5]) + (" ..." if len(mixed) > 5 else "")
        notes.append(
            f"{len(mixed)} patient(s) have both AFF and NFF images ({shown}); kept, and counted "
            "as AFF when results are aggregated per patient"
        )
    seen: dict[Path, int] = {}
    duplicates = []
    for row in rows:
        if row.image in seen:
            duplicates.append(f"line {row.line} repeats line {seen[row.image]}")
        seen.setdefault(row.image, row.line)
    if duplicates:
        notes.append(f"{len(duplicates)} image(s) listed twice: {', '.join(duplicates[:3])}")
    unlabelled = sum(1 for r in rows if r.label is None or r.center_xy_px is None)
    if unlabelled:
        notes.append(
            f"{unlabelled} row(s) have no label or no centre; training and evaluation skip them"
        )
    return notes


def _refused_modality(path: Path, allowed: frozenset[str]) -> str | None:
    """Why a DICOM file is not accepted as a radiograph (``"modality CT"``), or ``None``."""
    dataset = _dicom_header(path)
    if dataset is None:
        return None  # not DICOM, or an unreadable header: reported when the image is read
    try:
        check_radiograph_modality(dataset, path, allowed, "image")
    except InputError:
        modality, _, name = dicom_modality(dataset)
        return f"modality {modality or 'none'}, {name}"
    return None


def _dicom_header(path: Path) -> Any:
    """The header of a DICOM file (pixels not read), or ``None`` for other or bad files."""
    try:
        return read_dicom_header(path)
    except InputError:
        return None  # not DICOM, or an unreadable header


def image_size_px(path: Path) -> tuple[int, int] | None:
    """Read ``(width, height)`` in pixels from an image's header, without decoding pixels.

    Returns:
        The size, or ``None`` if the header cannot be read.

    """
    try:
        return probe_size_px(path)
    except InputError:
        return None
