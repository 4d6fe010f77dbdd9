"""A batch run: discover the scans, record them, read the pending ones, summarise.

The results database is the source of truth. A run adds every scan it finds (``pending``, or
``skipped`` with the reason), takes back the ``running`` rows of runners that are gone (see
:meth:`ResultsStore.reclaim`), then claims pending scans one at a time and hands them to the
engine. A scan ends ``done``, ``failed`` (a problem with the input, e.g. no mask), or crashes
(an unexpected error, or its worker died): it is then retried, up to ``max_attempts`` starts,
then ``quarantined`` with the reason. A rerun skips what is done, so runs are idempotent.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from fracturelab import __version__
from fracturelab.batch.discovery import discover
from fracturelab.batch.settings import BatchSettings
from fracturelab.batch.sources import ScanSource, eligibility
from fracturelab.batch.store import ResultsStore, ScanIdentity
from fracturelab.batch.task import ScanTask, TaskOutcome
from fracturelab.progress import progress_bar
from fracturelab.typing import PathLike

__all__ = ["ALGORITHM_VERSION", "RunSummary", "model_hash", "run_batch"]

logger = logging.getLogger(__name__)

#: What the ``algorithm_version`` column holds for this fracturelab.
ALGORITHM_VERSION = f"fracturelab {__version__}"
_HEARTBEAT_S = 5.0


class _Engine(Protocol):
    @property
    def idle(self) -> int: ...
    def submit(self, task: ScanTask) -> None: ...
    def wait(self, timeout: float) -> list[TaskOutcome]: ...
    def close(self) -> None: ...


@dataclass
class RunSummary:
    """What one run did.

    Attributes:
        found: Scans found in the inputs.
        done: Scans read this run.
        already_done: Scans done by an earlier run (not read again).
        failed: Scans that failed this run (input problems).
        skipped: Scans not eligible (not a thorax/abdomen CT within the limits).
        quarantined: Scans quarantined this run (crashed ``max_attempts`` times).
        retried: Attempts that crashed and were started again.
        reclaimed: ``running`` rows of a gone runner taken back.
        elapsed_s: Wall time of the run.
        failures: ``(key, reason)`` of each scan that failed or was quarantined this run.

    """

    found: int = 0
    done: int = 0
    already_done: int = 0
    failed: int = 0
    skipped: int = 0
    quarantined: int = 0
    retried: int = 0
    reclaimed: int = 0
    elapsed_s: float = 0.0
    failures: list[tuple[str, str]] = field(default_factory=list)

    @property
    def scans_per_min(self) -> float:
        """Scans read per minute of wall time this run."""
        return 60.0 * self.done / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def lines(self) -> list[str]:
        """The summary printed at the end of ``batch run``."""
        lines = [
            f"{self.found} scan(s) found: {self.done} read, {self.already_done} already done, "
            f"{self.failed} failed, {self.quarantined} quarantined, {self.skipped} skipped",
            f"{self.elapsed_s:.1f} s, {self.scans_per_min:.1f} scans/min"
            + (f", {self.retried} retried" if self.retried else "")
            + (f", {self.reclaimed} taken back from a stopped run" if self.reclaimed else ""),
        ]
        lines.extend(f"  {key}: {reason}" for key, reason in self.failures[:20])
        return lines


def model_hash(folder: PathLike | None) -> str | None:
    """SHA-256 (first 16 hex digits) of a model folder's files, ``None`` without a model."""
    if folder is None:
        return None
    digest = hashlib.sha256()
    for file in sorted(Path(folder).iterdir()):
        if file.is_file() and (file.suffix in (".pt", ".json")):
            digest.update(file.name.encode())
            digest.update(file.read_bytes())
    return digest.hexdigest()[:16]


def _engine(settings: BatchSettings) -> _Engine:
    if settings.engine == "dask":
        from fracturelab.batch.dask_engine import DaskEngine

        return DaskEngine(settings.workers, settings.scheduler)
    from fracturelab.batch.local_pool import LocalPool

    return LocalPool(settings.workers, settings.task_timeout_s)


def _task(scan: ScanSource, settings: BatchSettings, attempt: int) -> ScanTask:
    return ScanTask(
        key=scan.key,
        source=scan.source,
        files=list(scan.files),
        mask=scan.mask,
        name=scan.name,
        attempt=attempt,
        segmenter_command=settings.segmenter_command,
        totalsegmentator=settings.totalsegmentator,
        labels=settings.labels,
        model=str(settings.model) if settings.model is not None else None,
        device=settings.device,
        out=str(Path(settings.out).expanduser().absolute()) if settings.out is not None else None,
        overview=settings.overview,
    )


def _record_scans(
    store: ResultsStore,
    scans: list[ScanSource],
    settings: BatchSettings,
    mhash: str | None,
    summary: RunSummary,
) -> list[ScanSource]:
    """Add every scan to the database; return those to read now."""
    requeue = ["failed"] + (["quarantined"] if settings.retry_quarantined else [])
    store.requeue([s.key for s in scans], ALGORITHM_VERSION, mhash, requeue)
    todo = []
    for scan in scans:
        reason = scan.problem or eligibility(scan, settings)
        identity = ScanIdentity(
            scan.key,
            scan.source,
            series_uid=scan.series_uid,
            study_uid=scan.study_uid,
            patient_id=scan.patient_id,
            case_id=scan.case_id,
        )
        if scan.problem:
            record = store.add(identity, ALGORITHM_VERSION, mhash)
            if record.state == "pending" and store.claim(scan.key, ALGORITHM_VERSION, mhash):
                store.finish(scan.key, ALGORITHM_VERSION, mhash, "failed", error=scan.problem)
                summary.failed += 1
                summary.failures.append((scan.key, scan.problem))
            continue
        record = store.add(identity, ALGORITHM_VERSION, mhash, skip_reason=reason)
        if record.state == "skipped":
            summary.skipped += 1
        elif record.state == "done":
            summary.already_done += 1
        elif record.state in ("pending", "running"):
            todo.append(scan)
    return todo


def run_batch(
    inputs: Sequence[PathLike],
    results_url: str,
    settings: BatchSettings,
    *,
    show_progress: bool = True,
) -> RunSummary:
    """Read every eligible scan of ``inputs`` not yet done, recording all in the database.

    Args:
        inputs: Folders (searched recursively for DICOM series and volumes), manifest CSVs,
            series folders or volume files.
        results_url: The results database (``sqlite:///results.db``, a path, or PostgreSQL).
        settings: Limits, masks, model, outputs and engine.
        show_progress: Draw a progress bar.

    Returns:
        What the run did.

    Raises:
        InputError: Bad settings, missing inputs, a bad manifest, inputs without any scan,
            or a results database that cannot be used.

    """
    settings.check()
    start = time.perf_counter()
    scans = discover(inputs)
    mhash = model_hash(settings.model)
    if settings.model is not None:
        from fracturelab.spine.learned.bundle import SpineModel

        SpineModel.load(settings.model)  # a bad model folder is one line before any work
    store = ResultsStore(results_url)
    summary = RunSummary(found=len(scans))
    try:
        store.register_runner()
        summary.reclaimed = store.reclaim(settings.lease_s)
        todo = _record_scans(store, scans, settings, mhash, summary)
        if todo:
            _read(store, todo, settings, mhash, summary, show_progress)
    finally:
        store.finish_runner()
        store.dispose()
    summary.elapsed_s = time.perf_counter() - start
    return summary


def _read(
    store: ResultsStore,
    todo: list[ScanSource],
    settings: BatchSettings,
    mhash: str | None,
    summary: RunSummary,
    show_progress: bool,
) -> None:
    queue = deque(todo)
    by_key = {scan.key: scan for scan in todo}
    attempts: dict[str, int] = {}
    engine = _engine(settings)
    last_beat = time.monotonic()
    in_flight = 0
    try:
        with progress_bar("scans", len(todo), show=show_progress) as advance:
            while queue or in_flight:
                while queue and engine.idle > 0:
                    scan = queue.popleft()
                    attempt = store.claim(scan.key, ALGORITHM_VERSION, mhash)
                    if attempt is None:  # done or taken by another runner meanwhile
                        advance()
                        continue
                    attempts[scan.key] = attempt
                    engine.submit(_task(scan, settings, attempt))
                    in_flight += 1
                for outcome in engine.wait(1.0):
                    in_flight -= 1
                    if _settle(store, outcome, attempts[outcome.key], settings, mhash, summary):
                        advance()
                    else:
                        queue.append(by_key[outcome.key])
                if time.monotonic() - last_beat > _HEARTBEAT_S:
                    store.heartbeat()
                    last_beat = time.monotonic()
    finally:
        engine.close()


def _settle(
    store: ResultsStore,
    outcome: TaskOutcome,
    attempt: int,
    settings: BatchSettings,
    mhash: str | None,
    summary: RunSummary,
) -> bool:
    """Record an outcome; ``False`` when the scan is to be started again."""
    finish: dict[str, Any] = {"elapsed_s": outcome.elapsed_s, "error": outcome.error}
    if outcome.kind == "done":
        store.finish(
            outcome.key,
            ALGORITHM_VERSION,
            mhash,
            "done",
            result=outcome.result,
            out_dir=outcome.out_dir,
            **{**finish, "error": None},
        )
        summary.done += 1
        return True
    if outcome.kind == "failed":
        store.finish(outcome.key, ALGORITHM_VERSION, mhash, "failed", **finish)
        summary.failed += 1
        summary.failures.append((outcome.key, outcome.error or "failed"))
        return True
    logger.warning("scan %s: attempt %d crashed: %s", outcome.key, attempt, outcome.error)
    if attempt >= settings.max_attempts:
        reason = f"crashed on {attempt} attempt(s); last: {outcome.error}"
        store.finish(
            outcome.key, ALGORITHM_VERSION, mhash, "quarantined", **{**finish, "error": reason}
        )
        summary.quarantined += 1
        summary.failures.append((outcome.key, reason))
        return True
    store.finish(outcome.key, ALGORITHM_VERSION, mhash, "pending", **finish)
    summary.retried += 1
    return False
