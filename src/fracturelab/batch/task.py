"""The task function: one scan read in a worker, the same on the local pool and on Dask.

:func:`process_scan` takes a :class:`ScanTask` (picklable: paths and options only) and returns a
:class:`TaskOutcome`; it never raises. The spine model is loaded once per worker process and
kept (a module-level cache keyed by folder and device).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fracturelab.batch.masks import find_mask
from fracturelab.errors import InputError
from fracturelab.imaging import write_volume

if TYPE_CHECKING:
    from fracturelab.spine.learned.bundle import SpineModel

__all__ = ["MASK_FILE", "ScanTask", "TaskOutcome", "process_scan"]

#: The label map a reading used, kept in the scan's output folder (``--out``).
MASK_FILE = "vertebrae.nii.gz"

_MODELS: dict[tuple[str, str], Any] = {}


@dataclass
class ScanTask:
    """What a worker needs to read one scan.

    Attributes:
        key: The scan's key in the results database.
        source: A volume file or the series' folder.
        files: The DICOM series' files (empty for a volume file).
        mask: A given label map, if any.
        name: The name of its output folder under ``out``.
        attempt: Which attempt this is (1 for the first).
        segmenter_command: ``--segmenter-command``.
        totalsegmentator: Try TotalSegmentator when installed.
        labels: Label convention of the mask.
        model: Spine model folder, if any.
        device: Device of the model.
        out: Output folder, if any.
        overview: Write ``overview.png`` too.

    """

    key: str
    source: str
    files: list[str] = field(default_factory=list)
    mask: str | None = None
    name: str = "scan"
    attempt: int = 1
    segmenter_command: str | None = None
    totalsegmentator: bool = True
    labels: str = "auto"
    model: str | None = None
    device: str = "auto"
    out: str | None = None
    overview: bool = True


@dataclass
class TaskOutcome:
    """How a scan's attempt ended.

    Attributes:
        key: The scan's key.
        kind: ``done``, ``failed`` (a problem with the input: not retried) or ``crashed``
            (an unexpected error, or the worker died: retried up to ``--max-attempts``).
        error: One line saying why (``None`` when done).
        result: The ``vertebrae.json`` document (when done).
        elapsed_s: Seconds in the worker.
        out_dir: The written output folder, if any.

    """

    key: str
    kind: str
    error: str | None = None
    result: dict[str, Any] | None = None
    elapsed_s: float = 0.0
    out_dir: str | None = None


def _model(folder: str, device: str) -> tuple[SpineModel, Any]:
    from fracturelab.spine.learned.bundle import SpineModel
    from fracturelab.training.device import select_device

    chosen = select_device(device)
    cache_key = (folder, str(chosen))
    if cache_key not in _MODELS:
        _MODELS[cache_key] = SpineModel.load(folder, chosen)
    return _MODELS[cache_key], chosen


def _stage(task: ScanTask, work_dir: Path) -> Path:
    """The CT as one path: the volume file, or a folder of links to the series' files."""
    if not task.files:
        return Path(task.source)
    folder = work_dir / "series"
    folder.mkdir()
    for number, file in enumerate(sorted(task.files)):
        link = folder / Path(file).name
        if link.exists() or link.is_symlink():  # same name from another folder
            link = folder / f"{number:05d}_{Path(file).name}"
        link.symlink_to(Path(file).resolve())
    return folder


def _publish(reading: Any, out: Path, name: str, overview: bool, keep_mask: bool) -> Path:
    """Write the outputs into a temporary folder, then move it into place in one rename."""
    out.mkdir(parents=True, exist_ok=True)
    final = out / name
    staging = Path(tempfile.mkdtemp(prefix=f".{name}.tmp-", dir=out))
    try:
        reading.write(staging, overview=overview)
        if keep_mask:
            # a segmenter made the label map in a temporary folder: keep it, so that a
            # reviewer sees what was measured (`workstation import findings`)
            write_volume(reading.label_map.volume, staging / MASK_FILE)
        staging.chmod(0o755 & ~_umask())
        if final.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{name}.old-", dir=out))
            final.replace(old / "previous")
            staging.replace(final)
            shutil.rmtree(old, ignore_errors=True)
        else:
            staging.replace(final)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return final


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def process_scan(task: ScanTask) -> TaskOutcome:
    """Read one scan: stage it, find or make its mask, measure, apply the model, write.

    Args:
        task: The scan and the options.

    Returns:
        The outcome; errors are returned, never raised.

    """
    from fracturelab.spine.scan import read_spine_scan

    start = time.perf_counter()
    ct = Path(task.source)
    try:
        with tempfile.TemporaryDirectory(prefix="fracturelab-batch-") as temporary:
            work_dir = Path(temporary)
            ct = _stage(task, work_dir)
            mask, _how = find_mask(
                ct,
                task.mask,
                work_dir,
                command=task.segmenter_command,
                totalsegmentator=task.totalsegmentator,
            )
            model, folder = None, None
            if task.model is not None:
                model, _device = _model(task.model, task.device)
                folder = task.model
            reading = read_spine_scan(
                ct, mask, model=model, model_folder=folder, labels=task.labels
            )
            reading.report.inputs["ct"] = task.source
            reading.report.inputs["vertebrae"] = task.mask or f"({_how})"
            out_dir = None
            if task.out is not None:
                out_dir = str(
                    _publish(reading, Path(task.out), task.name, task.overview, task.mask is None)
                )
                if task.mask is None:
                    reading.report.inputs["vertebrae"] = str(Path(out_dir) / MASK_FILE)
            result = reading.report.to_dict()
    except InputError as error:
        message = str(error).splitlines()[0] if str(error) else "input error"
        if task.files:  # name the series' folder, not the staging folder of links
            message = message.replace(str(ct), task.source)
        return TaskOutcome(task.key, "failed", message, elapsed_s=time.perf_counter() - start)
    except Exception as error:  # anything else is a crash of this attempt: retried
        where = traceback.extract_tb(error.__traceback__)[-1]
        message = f"{type(error).__name__}: {error} ({Path(where.filename).name}:{where.lineno})"
        return TaskOutcome(task.key, "crashed", message, elapsed_s=time.perf_counter() - start)
    return TaskOutcome(
        task.key, "done", result=result, elapsed_s=time.perf_counter() - start, out_dir=out_dir
    )
