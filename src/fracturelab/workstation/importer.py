"""Putting images on the workstation: spine CTs with label maps, femur radiographs.

Cases keep absolute paths to the files on the server; images are never copied into the
database. Importing is idempotent: a case whose name is already there is skipped, so an
interrupted import is finished by running it again (every case is committed on its own).

Spine pairing rule (``import_spine``): every CT in ``ct_dir`` is a case — a volume file
(``.nii.gz``, ``.nii``, ``.mha``, ``.mhd``, ``.nrrd``) named ``<case>.<ext>``, or a folder
``<case>/`` of DICOM slices. Its label map in ``vertebrae_dir`` is, in this order, the first of
``<case>.<ext>``, ``<case>_vertebrae.<ext>``, ``<case>_seg.<ext>`` (any volume extension) or a
folder ``<case>/`` (per-level TotalSegmentator files or DICOM slices). CT and label maps may
share one folder; ``*_vertebrae`` and ``*_seg`` files are then label maps, not cases.

Spine suggestions (``suggest``) come from the morphometry (:func:`spine_suggestion`), or, with
a spine model folder (``model_dir``), from the learned model (:func:`spine_model_suggestion`):
the same per-level keys the front end reads, plus the model's probabilities.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from fracturelab.errors import FracturelabError, InputError
from fracturelab.workstation.models import Case
from fracturelab.workstation.suggestions import spine_suggestion_from_report

if TYPE_CHECKING:
    from fracturelab.imaging import Volume
    from fracturelab.spine.labels import VertebraLabelMap
    from fracturelab.spine.learned.bundle import SpineModel

__all__ = [
    "VOLUME_SUFFIXES",
    "ImportSummary",
    "import_femur",
    "import_spine",
    "spine_model_suggestion",
    "spine_suggestion",
]

#: File endings read as CT volumes and label maps.
VOLUME_SUFFIXES = (".nii.gz", ".nii", ".mha", ".mhd", ".nrrd")
_LABEL_SUFFIXES = ("", "_vertebrae", "_seg")

Progress = Callable[[str], None]


@dataclass
class ImportSummary:
    """What an import did.

    Attributes:
        added: Names of the new cases.
        skipped: Names already in the database.
        failed: ``(name, reason)`` of cases that could not be imported.
        notes: Things worth knowing, e.g. a suggestion that could not be computed.

    """

    added: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def describe(self) -> str:
        """One line: the counts."""
        return (
            f"{len(self.added)} added, {len(self.skipped)} already imported, "
            f"{len(self.failed)} failed"
        )


def _volume_stem(path: Path) -> str | None:
    name = path.name
    for suffix in VOLUME_SUFFIXES:
        if name.lower().endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return None


#: Data files a MetaImage header (``.mhd``) points at; not cases of their own.
_MHD_DATA_SUFFIXES = (".raw", ".zraw", ".img")


def _entries(folder: Path, skipped: list[str] | None = None) -> dict[str, Path]:
    """Volume files and subfolders of ``folder`` by case name (hidden entries skipped).

    Args:
        folder: The folder.
        skipped: When given, gets one line per other file saying why it is not used.

    """
    found: dict[str, Path] = {}
    paths = sorted(folder.iterdir())
    headers = {p.name[: -len(".mhd")].lower() for p in paths if p.name.lower().endswith(".mhd")}
    for path in paths:
        if path.name.startswith("."):
            continue
        stem = path.name if path.is_dir() else _volume_stem(path)
        if stem is None:
            is_mhd_data = path.suffix.lower() in _MHD_DATA_SUFFIXES and (
                path.stem.lower() in headers
            )
            if skipped is not None and not is_mhd_data:
                skipped.append(
                    f"skipped {path.name}: not a CT volume ({', '.join(VOLUME_SUFFIXES)}) or "
                    "a folder of DICOM slices"
                )
            continue
        if stem in found:
            if skipped is not None:
                skipped.append(
                    f"skipped {path.name}: {found[stem].name} already gives the case {stem!r}; "
                    "keep one file per case"
                )
            continue
        found[stem] = path
    return found


def _check_folder(name: str, folder: Path) -> Path:
    if not folder.is_dir():
        what = "is a file" if folder.exists() else "does not exist"
        raise InputError(f"{name} {folder} {what}; give a folder of volumes")
    return folder.resolve()


def _label_map(case: str, ct: Path, labels: dict[str, Path]) -> Path | str:
    """The label map of ``case``, or the reason there is none."""
    for suffix in _LABEL_SUFFIXES:
        candidate = labels.get(case + suffix)
        if candidate is not None and candidate.resolve() != ct.resolve():
            return candidate.resolve()
    tried = ", ".join(f"{case}{s}.nii.gz" for s in _LABEL_SUFFIXES)
    return f"no label map found (looked for {tried}, other volume endings, or a folder {case}/)"


def _existing(session: Session, task: str) -> set[str]:
    return set(session.scalars(select(Case.name).where(Case.task == task)))


def import_spine(
    session: Session,
    ct_dir: str | Path,
    vertebrae_dir: str | Path,
    suggest: bool = False,
    *,
    progress: Progress | None = None,
    model_dir: str | Path | None = None,
) -> ImportSummary:
    """Import spine CTs and their vertebra label maps (pairing rule: see the module).

    Args:
        session: Open session; committed after every case.
        ct_dir: Folder of CT volumes (or DICOM series folders), one per case.
        vertebrae_dir: Folder of vertebra label maps; may be ``ct_dir``.
        suggest: Run ``fracturelab spine analyze`` on every new case and store its per-level
            Genant grade, morphology and height loss as the suggestion.
        progress: Called with each case name before it is imported.
        model_dir: A spine model folder (``spine train``'s ``RUN/models/best``); with it the
            suggestions come from the model (:func:`spine_model_suggestion`), and ``suggest``
            is implied.

    A case is registered only when its CT and label map read cleanly and fit together (the
    checks of ``fracturelab spine analyze``: complete files, a CT series, vertebra-sized
    labels on the CT's grid); otherwise it is listed in ``failed`` with the reason.

    Raises:
        InputError: If a folder is missing or holds no CT, or ``model_dir`` is not a spine
            model folder (checked before any case is imported).

    """
    from fracturelab.spine.pipeline import load_inputs

    model = None
    if model_dir is not None:
        from fracturelab.spine.learned.bundle import SpineModel

        model = SpineModel.load(model_dir)
        suggest = True
    cts = _check_folder("--ct-dir", Path(ct_dir))
    labels_folder = _check_folder("--vertebrae-dir", Path(vertebrae_dir))
    summary = ImportSummary()
    candidates = _entries(cts, summary.notes)
    labels = _entries(labels_folder)
    if cts == labels_folder:
        candidates = {
            name: path
            for name, path in candidates.items()
            if not any(name.endswith(s) for s in _LABEL_SUFFIXES if s)
        }
    if not candidates:
        seen = f" ({'; '.join(summary.notes)})" if summary.notes else ""
        raise InputError(
            f"--ct-dir {cts} holds no CT{seen}; give a folder of {', '.join(VOLUME_SUFFIXES)} "
            "files or DICOM folders"
        )
    existing = _existing(session, "spine")
    for name, ct in candidates.items():
        if name in existing:
            summary.skipped.append(name)
            continue
        if progress is not None:
            progress(name)
        label_map = _label_map(name, ct, labels)
        if isinstance(label_map, str):
            summary.failed.append((name, label_map))
            continue
        # A truncated, damaged or non-CT image, or a label map that cannot be vertebrae, is
        # never registered: the viewer could not open it and it would hold no true labels.
        try:
            inputs = load_inputs(ct, label_map)
        except FracturelabError as error:
            summary.failed.append((name, str(error).splitlines()[0]))
            continue
        suggestion = None
        if suggest:
            try:
                if model is not None and model_dir is not None:
                    suggestion = spine_model_suggestion(*inputs, model, model_dir)
                else:
                    suggestion = spine_suggestion(*inputs)
            except FracturelabError as error:
                summary.notes.append(f"{name}: no suggestion ({error})")
        session.add(
            Case(
                task="spine",
                name=name,
                image_path=str(ct.resolve()),
                labels_path=str(label_map),
                suggestion=suggestion,
            )
        )
        session.commit()
        summary.added.append(name)
    return summary


def spine_suggestion(ct: Path | Volume, label_map: Path | VertebraLabelMap) -> dict[str, Any]:
    """Per-level suggestion from the morphometry pipeline.

    Returns:
        ``{level: {"genant_grade", "morphology", "height_loss_pct"}}`` in cranio-caudal order;
        the values are ``None`` for vertebrae that could not be graded.

    """
    from fracturelab.spine.pipeline import analyze

    return spine_suggestion_from_report(analyze(ct, label_map))


def spine_model_suggestion(
    ct: Volume,
    label_map: VertebraLabelMap,
    model: SpineModel,
    model_dir: str | Path,
) -> dict[str, Any]:
    """Per-level suggestion from a learned spine model (``import spine --suggest --model``).

    Args:
        ct: The CT (as :func:`~fracturelab.spine.pipeline.load_inputs` reads it).
        label_map: Its vertebra label map.
        model: The loaded model.
        model_dir: Its folder, for messages.

    The vertebrae are framed by the morphometry and cut as ``spine analyze --model`` cuts
    them (:mod:`fracturelab.spine.learned.apply`).

    Returns:
        ``{level: {"genant_grade", "morphology", "height_loss_pct", "fracture_probability",
        "grade_probabilities", "source"}}`` in cranio-caudal order: the model's grade and
        morphology (``normal`` for grade 0), morphometry's height loss (``None`` where not
        measured), P(grade >= 1), ``[p0, p1, p2, p3]`` and ``"model"``. Vertebrae the model
        could not see (no patch: C1, C2, S1, unframed) have ``None`` grade and morphology.

    """
    from fracturelab.spine.learned.apply import apply_model
    from fracturelab.spine.pipeline import analyze

    report = analyze(ct, label_map)
    apply_model(report, model, ct, label_map, model_dir)
    return spine_suggestion_from_report(report)


def import_femur(
    session: Session,
    manifest_path: str | Path,
    model_dir: str | Path | None = None,
    *,
    progress: Progress | None = None,
) -> ImportSummary:
    """Import the radiographs of a femur manifest, one case per row.

    The case name is the ``image`` cell as written; the patient identifier and the pixel
    spacing come from the manifest. Labels and centres already in the manifest are not
    imported (readers label from scratch).

    Args:
        session: Open session; committed after every case.
        manifest_path: Femur manifest CSV (``docs/design.md``, "Femur manifest").
        model_dir: A model folder from ``fracturelab femur experiment`` (e.g.
            ``runs/exp1/models/best``); its prediction becomes the suggestion
            ``{"center_x", "center_y", "label", "p_aff"}``.
        progress: Called with each case name before it is imported.

    Raises:
        InputError: If the manifest or the model folder is missing or invalid.

    """
    from fracturelab.femur.manifest import Manifest
    from fracturelab.imaging.radiograph_io import read_radiograph

    manifest = Manifest.read(manifest_path)
    model = None
    if model_dir is not None:
        from fracturelab.femur.bundle import FemurModel

        model = FemurModel.load(model_dir)
    summary = ImportSummary()
    existing = _existing(session, "femur")
    for row in manifest:
        name = row.image_text
        if name in existing:
            summary.skipped.append(name)
            continue
        if progress is not None:
            progress(name)
        # A damaged file or a DICOM that is not a radiograph is never registered.
        try:
            radiograph = read_radiograph(row.image, row.pixel_spacing_mm)
        except FracturelabError as error:
            summary.failed.append((name, str(error).splitlines()[0]))
            continue
        suggestion = None
        if model is not None:
            try:
                prediction = model.predict(radiograph)
            except FracturelabError as error:
                summary.notes.append(f"{name}: no suggestion ({error})")
            else:
                center = prediction.center_px
                suggestion = {
                    "center_x": None if center is None else round(center[0], 2),
                    "center_y": None if center is None else round(center[1], 2),
                    "label": prediction.label,
                    "p_aff": round(prediction.p_aff, 6),
                }
        session.add(
            Case(
                task="femur",
                name=name,
                image_path=str(row.image),
                pixel_spacing_mm=row.pixel_spacing_mm,
                patient_id=row.patient_id,
                suggestion=suggestion,
            )
        )
        session.commit()
        existing.add(name)
        summary.added.append(name)
    return summary
