"""A folder of per-vertebra patches prepared once from a spine dataset (the patch cache).

:func:`prepare_cache` reads each scan of a dataset once, runs the morphometry, cuts one patch
per vertebra (:func:`fracturelab.spine.patches.extract_patches`) and writes::

    <out_dir>/spec.json                      how the patches were cut (PatchSpec, channels,
                                             axes, dtype, fracturelab version)
    <out_dir>/index.csv                      one row per vertebra (or per scan without one)
    <out_dir>/patches/<case_id>/<level>.npy  float16, shape (C, D, H, W)
    <out_dir>/patches/<case_id>/case.json    what the case gave, for resuming

``index.csv`` columns (:data:`INDEX_COLUMNS`, read by the trainer): ``case_id, patient_id,
tier, level, label, genant_grade, morphology, fracture, patch, height_loss_pct, morph_grade,
status, reason``. ``genant_grade``, ``morphology`` and ``fracture`` (1 when grade >= 1) are
the reader's, empty for an ungraded vertebra; ``height_loss_pct`` and ``morph_grade`` the
morphometry's, empty when it did not grade the vertebra (``reason`` then says why);
``patch`` is relative to ``out_dir``. ``status`` (:data:`STATUSES`) is ``ok`` (patch
written), ``no_patch`` (the vertebra could not be framed), ``missing`` (a graded level not in
the label map), ``unlabelled`` (a scan with no label map: no patch until a segmenter exists)
or ``failed`` (a scan that could not be read or analysed; ``reason`` holds the error). No
scan or graded vertebra is left out of the index. See ``docs/design.md`` ("Layout").
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from fracturelab.errors import InputError
from fracturelab.outputs import atomic_path, atomic_write_text, check_output_dir, write_csv
from fracturelab.spine.levels import level_index
from fracturelab.spine.patches import AXES, CHANNELS, PatchSpec, VertebraPatch, extract_patches
from fracturelab.spine.pipeline import load_inputs
from fracturelab.threads import share_cores, threads_per_worker

__all__ = [
    "INDEX_COLUMNS",
    "LAYOUT_VERSION",
    "STATUSES",
    "SpineDatasetLike",
    "prepare_cache",
    "read_spec",
]

logger = logging.getLogger(__name__)

#: Columns of ``index.csv``, in order (a contract with the trainer).
INDEX_COLUMNS: tuple[str, ...] = (
    "case_id", "patient_id", "tier", "level", "label", "genant_grade", "morphology",
    "fracture", "patch", "height_loss_pct", "morph_grade", "status", "reason",
)  # fmt: skip

#: Values of the ``status`` column.
STATUSES: tuple[str, ...] = ("ok", "no_patch", "missing", "unlabelled", "failed")

#: Version of the cache layout; a cache of another layout is refused.
LAYOUT_VERSION = "1"

_PATCH_DTYPE = "float16"
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


class _Case(Protocol):
    @property
    def case_id(self) -> str: ...
    @property
    def patient_id(self) -> str: ...
    @property
    def ct(self) -> Path: ...
    @property
    def vertebrae(self) -> Path | None: ...
    @property
    def tier(self) -> str: ...


class _Grade(Protocol):
    @property
    def genant_grade(self) -> int: ...
    @property
    def morphology(self) -> str | None: ...


class SpineDatasetLike(Protocol):
    """What :func:`prepare_cache` needs of a dataset (``fracturelab.spine`` dataset readers)."""

    @property
    def cases(self) -> Sequence[_Case]:
        """The scans (``case_id``, ``patient_id``, ``ct``, ``vertebrae``, ``tier``)."""
        ...

    def grades_of(self, case_id: str) -> Mapping[str, _Grade]:
        """Level -> grade (``genant_grade``, ``morphology``) of one scan's graded vertebrae."""
        ...


@dataclass(frozen=True)
class _Task:
    """One scan to prepare, in plain data (sent to worker processes)."""

    case_id: str
    ct: str
    vertebrae: str
    graded_levels: tuple[str, ...]
    graded_only: bool
    labels: str
    signature: dict[str, Any] = field(hash=False)


@dataclass
class _Outcome:
    """What one scan gave: per-vertebra records (``case.json``) or an error."""

    case_id: str
    vertebrae: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None


def prepare_cache(
    dataset: SpineDatasetLike,
    out_dir: str | Path,
    spec: PatchSpec | None = None,
    *,
    jobs: int = 1,
    levels_with_grades_only: bool = False,
    labels: str = "auto",
    show_progress: bool = True,
) -> Path:
    """Cut every vertebra of a dataset into patches once, and index them.

    Each scan is read once (the CT with Modality CT required for DICOM, the label map put on
    the CT's grid), analysed by the morphometry, and cut into patches. A rerun with the same
    spec reuses the cases already prepared (their inputs unchanged and patches present), so an
    interrupted run resumes; grades are always taken afresh from ``dataset``.

    Args:
        dataset: The scans and grades (:func:`fracturelab.spine` dataset readers).
        out_dir: The cache folder; created if missing.
        spec: How to cut patches; default :class:`~fracturelab.spine.patches.PatchSpec`.
        jobs: Scans prepared in parallel (worker processes); 1 runs in this process.
        levels_with_grades_only: Cut patches only for graded vertebrae, and index only those
            (and the scans without any).
        labels: Label numbering of the label maps (``auto``, ``verse``, ``totalseg_v2``,
            ``totalseg_v1``).
        show_progress: Show a progress bar.

    Returns:
        The path of ``index.csv``.

    Raises:
        InputError: For an ``out_dir`` that cannot be written, a folder holding a cache cut
            with another spec, a ``jobs`` below 1, or a case id that cannot name a folder.
            Scans that fail are not raised: they are listed in the index (``status``
            ``failed``) and logged as warnings at the end.

    """
    spec = spec or PatchSpec()
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise InputError(f"jobs={jobs!r} is not valid; give a number of processes >= 1")
    folder = check_output_dir(out_dir, "out_dir")
    _claim_folder(folder, spec)
    tasks: list[_Task] = []
    outcomes: dict[str, _Outcome] = {}
    for case in dataset.cases:
        _check_case_id(case.case_id)
        if case.vertebrae is None:
            continue
        task = _task(case, dataset.grades_of(case.case_id), levels_with_grades_only, labels)
        reused = _reusable(folder, task)
        if reused is None:
            tasks.append(task)
        else:
            outcomes[task.case_id] = reused
    for outcome in _run(tasks, folder, spec, jobs, show_progress):
        outcomes[outcome.case_id] = outcome
    rows: list[dict[str, Any]] = []
    for case in dataset.cases:
        rows.extend(_rows(case, dataset.grades_of(case.case_id), outcomes, levels_with_grades_only))
    index = write_csv(folder / "index.csv", INDEX_COLUMNS, rows)
    failed = [o for o in outcomes.values() if o.error is not None]
    for outcome in failed:
        logger.warning("patch cache: case %s skipped: %s", outcome.case_id, outcome.error)
    if failed:
        logger.warning(
            "patch cache %s: %d of %d scans failed (status 'failed' in %s)",
            folder,
            len(failed),
            len(dataset.cases),
            index,
        )
    return index


def read_spec(cache_dir: str | Path) -> PatchSpec:
    """The :class:`PatchSpec` a cache was cut with.

    Raises:
        InputError: If ``cache_dir`` holds no ``spec.json`` or an unreadable one.

    """
    path = Path(cache_dir) / "spec.json"
    if not path.is_file():
        raise InputError(f"{path} does not exist; give a patch cache folder (it holds spec.json)")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return PatchSpec.from_dict(data["spec"])
    except (ValueError, KeyError, TypeError, IndexError) as error:
        raise InputError(
            f"{path}: is not a patch cache spec ({error}); rebuild the cache"
        ) from None


def _claim_folder(folder: Path, spec: PatchSpec) -> None:
    """Write ``spec.json``, or refuse a folder holding a cache cut another way."""
    path = folder / "spec.json"
    wanted = _spec_document(spec)
    if path.is_file():
        try:
            saved = json.loads(path.read_text(encoding="utf-8"))
        except ValueError:
            saved = {}
        keys = ("layout_version", "spec", "channels", "axes", "dtype")
        if any(saved.get(key) != wanted[key] for key in keys):
            raise InputError(
                f"out_dir {folder}: holds a patch cache cut with {_describe(saved)}, not "
                f"{_describe(wanted)}; use another folder or the same spec"
            )
        return
    atomic_write_text(path, json.dumps(wanted, indent=2) + "\n")


def _spec_document(spec: PatchSpec) -> dict[str, Any]:
    from fracturelab import __version__

    return {
        "layout_version": LAYOUT_VERSION,
        "spec": spec.to_dict(),
        "channels": list(CHANNELS),
        "axes": list(AXES),
        "dtype": _PATCH_DTYPE,
        "fracturelab_version": __version__,
    }


def _describe(document: Mapping[str, Any]) -> str:
    spec = document.get("spec")
    if not isinstance(spec, Mapping):
        return "an unknown spec"
    return (
        f"size_mm={spec.get('size_mm')} spacing_mm={spec.get('spacing_mm')} "
        f"window_hu={spec.get('window_hu')} ct_order={spec.get('ct_order')} "
        f"(layout {document.get('layout_version')})"
    )


def _check_case_id(case_id: str) -> None:
    if not _SAFE_NAME.match(case_id):
        raise InputError(
            f"case_id {case_id!r} cannot name a cache folder; use letters, digits, '.', '_' "
            "and '-' only (starting with a letter or digit)"
        )


def _task(case: _Case, grades: Mapping[str, _Grade], graded_only: bool, labels: str) -> _Task:
    ct, vertebrae = str(case.ct), str(case.vertebrae)
    signature = {
        "ct": _file_signature(ct),
        "vertebrae": _file_signature(vertebrae),
        "labels": labels,
    }
    return _Task(case.case_id, ct, vertebrae, tuple(sorted(grades)), graded_only, labels, signature)


def _file_signature(path: str) -> list[Any]:
    try:
        stat = Path(path).stat()
    except OSError:
        return [path, None, None]
    return [path, stat.st_size, stat.st_mtime_ns]


def _reusable(folder: Path, task: _Task) -> _Outcome | None:
    """The case's earlier outcome when its inputs are unchanged and every wanted patch is there."""
    record = folder / "patches" / task.case_id / "case.json"
    if not record.is_file():
        return None
    try:
        saved = json.loads(record.read_text(encoding="utf-8"))
    except ValueError:
        return None
    if saved.get("signature") != task.signature:
        return None
    vertebrae: list[dict[str, Any]] = saved.get("vertebrae", [])
    for vertebra in vertebrae:
        wanted = not task.graded_only or vertebra["level"] in task.graded_levels
        if wanted and vertebra["framed"] and not vertebra["patch"]:
            return None
        if vertebra["patch"] and not (folder / vertebra["patch"]).is_file():
            return None
    return _Outcome(task.case_id, vertebrae)


def _run(
    tasks: list[_Task], folder: Path, spec: PatchSpec, jobs: int, show_progress: bool
) -> list[_Outcome]:
    from rich.progress import (  # rich is loaded only when patches are cut
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    progress = Progress(
        *columns, TimeElapsedColumn(), TimeRemainingColumn(), disable=not show_progress
    )
    outcomes: list[_Outcome] = []
    with progress:
        bar = progress.add_task("patches (scans)", total=len(tasks))
        if jobs == 1 or len(tasks) <= 1:
            for task in tasks:
                outcomes.append(_prepare_case(task, folder, spec))
                progress.advance(bar)
            return outcomes
        context = get_context("spawn")  # no fork of a parent that may hold torch's threads
        with ProcessPoolExecutor(
            jobs, mp_context=context, initializer=share_cores, initargs=(threads_per_worker(jobs),)
        ) as pool:
            futures = {pool.submit(_prepare_case, task, folder, spec): task for task in tasks}
            for future in as_completed(futures):
                task = futures[future]
                try:
                    outcomes.append(future.result())
                except Exception as error:  # a worker that died (killed, out of memory)
                    outcomes.append(_Outcome(task.case_id, error=_error_text(error)))
                progress.advance(bar)
    return outcomes


def _prepare_case(task: _Task, folder: Path, spec: PatchSpec) -> _Outcome:
    """Read, analyse and cut one scan; write its patches and ``case.json``. Never raises."""
    try:
        ct, label_map = load_inputs(task.ct, task.vertebrae, labels=task.labels)
        patches = extract_patches(ct, label_map, spec)
    except Exception as error:  # any scan may fail; it is reported, never raised
        return _Outcome(task.case_id, error=_error_text(error))
    case_dir = folder / "patches" / task.case_id
    case_dir.mkdir(parents=True, exist_ok=True)
    records = []
    for patch in patches:
        wanted = not task.graded_only or patch.level in task.graded_levels
        relative = ""
        if wanted and patch.array is not None:
            relative = f"patches/{task.case_id}/{patch.level}.npy"
            with atomic_path(folder / relative) as temporary:
                np.save(temporary, patch.array.astype(_PATCH_DTYPE))
        records.append(_record(patch, relative))
    document = {"case_id": task.case_id, "signature": task.signature, "vertebrae": records}
    atomic_write_text(case_dir / "case.json", json.dumps(document, indent=2) + "\n")
    return _Outcome(task.case_id, records)


def _record(patch: VertebraPatch, relative: str) -> dict[str, Any]:
    loss = patch.height_loss_pct
    return {
        "level": patch.level,
        "label": patch.label,
        "framed": patch.array is not None,
        "patch": relative,
        "height_loss_pct": None if loss is None else round(float(loss), 2),
        "morph_grade": patch.genant_grade,
        "morph_status": patch.status,
        "reason": patch.reason,
    }


def _error_text(error: BaseException) -> str:
    text = " ".join(str(error).split()) or "no message"
    first = text if isinstance(error, InputError) else f"{type(error).__name__}: {text}"
    return first


def _rows(
    case: _Case,
    grades: Mapping[str, _Grade],
    outcomes: Mapping[str, _Outcome],
    graded_only: bool,
) -> list[dict[str, Any]]:
    """The index rows of one scan: its vertebrae, graded levels it lacks, or the scan itself."""
    base = {"case_id": case.case_id, "patient_id": case.patient_id, "tier": case.tier}
    outcome = outcomes.get(case.case_id)
    if case.vertebrae is None or outcome is None:
        reason = "no label map" if case.vertebrae is None else "not prepared"
        status = "unlabelled" if case.vertebrae is None else "failed"
        return [{**base, "status": status, "reason": reason}]
    if outcome.error is not None:
        return [{**base, "status": "failed", "reason": outcome.error}]
    rows = []
    found = set()
    for vertebra in outcome.vertebrae:
        level = vertebra["level"]
        found.add(level)
        grade = grades.get(level)
        if graded_only and grade is None:
            continue
        status = "ok" if vertebra["patch"] else "no_patch"
        reason = vertebra["reason"]
        rows.append(
            {
                **base,
                **_grade_columns(grade),
                "level": level,
                "label": vertebra["label"],
                "patch": vertebra["patch"],
                "height_loss_pct": _blank(vertebra["height_loss_pct"]),
                "morph_grade": _blank(vertebra["morph_grade"]),
                "status": status,
                "reason": _blank(reason),
            }
        )
    for level in sorted(set(grades) - found, key=_order):
        rows.append(
            {
                **base,
                **_grade_columns(grades[level]),
                "level": level,
                "status": "missing",
                "reason": f"graded level {level} is not in the label map {case.vertebrae}",
            }
        )
    return rows


def _grade_columns(grade: _Grade | None) -> dict[str, Any]:
    if grade is None:
        return {}
    return {
        "genant_grade": int(grade.genant_grade),
        "morphology": _blank(grade.morphology),
        "fracture": int(grade.genant_grade >= 1),
    }


def _order(level: str) -> int:
    try:
        return level_index(level)
    except InputError:
        return 10_000


def _blank(value: Any) -> Any:
    return "" if value is None else value
