"""``batch watch``: follow an Orthanc change feed and read each new stable series.

For each ``StableSeries`` change after the last one handled (kept in the results database,
:mod:`fracturelab.pacs.watch_state`), the series is looked up; one the results database
already holds in a final state for this algorithm is left alone. Otherwise its instances are
downloaded into a spool folder (a series that is not CT: its first instance only, enough for
the batch runner to record it as ``skipped``), read with :func:`fracturelab.batch.run_batch`
(masks from the batch settings' segmenter) and, with ``send_sr``, the reading is stored back
in Orthanc as a DICOM SR (:func:`fracturelab.pacs.sr.build_spine_sr`). The spool folder of a
series is removed once it is handled. Messages name series UIDs and Orthanc identifiers,
never patients.
"""

from __future__ import annotations

import io
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from fracturelab.batch import (
    ALGORITHM_VERSION,
    BatchSettings,
    ResultsStore,
    ScanRecord,
    model_hash,
    run_batch,
)
from fracturelab.errors import InputError
from fracturelab.pacs.orthanc import OrthancClient, OrthancError, SeriesInfo
from fracturelab.pacs.sr import build_spine_sr, read_source_headers
from fracturelab.pacs.watch_state import WatchState
from fracturelab.progress import progress_bar

__all__ = ["FINAL_STATES", "WatchSettings", "WatchSummary", "watch"]

#: States after which a series is not read again by the watcher.
FINAL_STATES = ("done", "skipped", "quarantined")


@dataclass
class WatchSettings:
    """What ``batch watch`` does (its options).

    Attributes:
        orthanc_url: Orthanc's REST URL (``--orthanc``).
        results: The results database, URL or SQLite path (``--results``).
        batch: How each series is read (eligibility, segmenter, model ...).
        send_sr: Store each reading back in Orthanc as a DICOM SR (``--send-sr``).
        once: Handle the changes there are and stop (``--once``); else poll for ever.
        poll_s: Seconds between polls of the change feed when it is exhausted (``--poll-s``).
        spool: Folder for downloaded series (``--spool``); ``None``: a temporary folder.
        page_size: Changes asked for per request.
        auth: ``(user, password)`` for Orthanc, if it requires it.
        retries: Tries again of a failed Orthanc request, with exponential backoff.

    """

    orthanc_url: str
    results: str
    batch: BatchSettings = field(default_factory=BatchSettings)
    send_sr: bool = False
    once: bool = False
    poll_s: float = 10.0
    spool: Path | None = None
    page_size: int = 100
    auth: tuple[str, str] | None = None
    retries: int = 3


@dataclass
class WatchSummary:
    """What a watch did (counts of series; ``last_change`` is the pointer it left)."""

    series_seen: int = 0
    already_handled: int = 0
    read: int = 0
    done: int = 0
    skipped: int = 0
    failed: int = 0
    sr_sent: int = 0
    last_change: int = 0
    states: dict[str, str] = field(default_factory=dict)

    def lines(self) -> list[str]:
        """The summary as lines for the terminal."""
        return [
            f"stable series seen: {self.series_seen} (already handled: {self.already_handled})",
            f"read: {self.read} (done {self.done}, skipped {self.skipped}, "
            f"failed or quarantined {self.failed})",
            f"SRs sent: {self.sr_sent}",
            f"last change handled: {self.last_change}",
        ]


#: Told one line about each series handled (no patient data).
Reporter = Callable[[str], None]


def watch(
    settings: WatchSettings,
    *,
    show_progress: bool = True,
    report: Reporter | None = None,
    client: OrthancClient | None = None,
) -> WatchSummary:
    """Follow the change feed and read each new stable series (see the module's notes).

    Args:
        settings: What to watch and how to read.
        show_progress: Draw progress bars (downloads, readings).
        report: Told one line per series handled.
        client: An Orthanc client (default: one for ``settings.orthanc_url``).

    Returns:
        The counts, after the feed is exhausted with ``once`` (else it runs until stopped).

    Raises:
        OrthancError: If Orthanc cannot be reached after the retries.
        InputError: For bad settings or a results database that cannot be opened.

    """
    settings.batch.check()
    tell = report or (lambda line: None)
    own_client = client is None
    orthanc = client or OrthancClient(
        settings.orthanc_url, auth=settings.auth, retries=settings.retries
    )
    state = WatchState(settings.results)
    spool_root = settings.spool
    temporary = None
    if spool_root is None:
        temporary = tempfile.TemporaryDirectory(prefix="fracturelab-spool-")
        spool_root = Path(temporary.name)
    summary = WatchSummary(last_change=state.last_change(orthanc.url))
    identity = (ALGORITHM_VERSION, model_hash(settings.batch.model))
    ResultsStore(settings.results).dispose()  # another version's database: one line, now
    try:
        orthanc.system()
        while True:
            page = orthanc.changes(since=summary.last_change, limit=settings.page_size)
            for change in page.changes:
                if change.change_type == "StableSeries" and change.resource_type == "Series":
                    _handle_series(
                        change.resource_id,
                        identity,
                        orthanc,
                        settings,
                        spool_root,
                        summary,
                        tell,
                        show_progress,
                    )
                summary.last_change = change.seq
                state.set_last_change(orthanc.url, change.seq)
            if page.last > summary.last_change:
                summary.last_change = page.last
                state.set_last_change(orthanc.url, page.last)
            if page.done:
                if settings.once:
                    break
                time.sleep(settings.poll_s)
    finally:
        state.close()
        if own_client:
            orthanc.close()
        if temporary is not None:
            temporary.cleanup()
    return summary


def _handle_series(
    orthanc_id: str,
    identity: tuple[str, str | None],
    orthanc: OrthancClient,
    settings: WatchSettings,
    spool_root: Path,
    summary: WatchSummary,
    tell: Reporter,
    show_progress: bool,
) -> None:
    try:
        info = orthanc.series(orthanc_id)
    except OrthancError as error:
        if error.status_code != 404:
            raise
        tell(f"series {orthanc_id}: deleted from Orthanc before it was read, passed over")
        return
    summary.series_seen += 1
    if info.modality == "SR":
        return  # our own reports (and others'): nothing to read
    store = ResultsStore(settings.results)
    known = store.get(info.series_uid, *identity)
    if known is not None and known.state in FINAL_STATES:
        store.dispose()
        summary.already_handled += 1
        summary.states[info.series_uid] = known.state
        tell(f"{info.series_uid}: already {known.state}, left alone")
        return
    folder = spool_root / orthanc_id
    try:
        _download(orthanc, info, folder, show_progress)
        try:
            run_batch([folder], settings.results, settings.batch, show_progress=show_progress)
            problem = None
        except InputError as error:  # e.g. instances no reader takes: this series only
            problem = str(error).splitlines()[0]
        record = store.get(info.series_uid, *identity)
        summary.read += 1
        state = record.state if record is not None else "failed"
        summary.states[info.series_uid] = state
        if state == "done":
            summary.done += 1
        elif state == "skipped":
            summary.skipped += 1
        else:
            summary.failed += 1
        why = record.error if record is not None else problem
        reason = f" ({why})" if why else ""
        tell(f"{info.series_uid}: {state}{reason}")
        if settings.send_sr and record is not None and state == "done":
            sr_id = _send_sr(orthanc, record, folder)
            summary.sr_sent += 1
            tell(f"{info.series_uid}: SR stored in Orthanc as {sr_id}")
    finally:
        store.dispose()
        shutil.rmtree(folder, ignore_errors=True)


def _download(orthanc: OrthancClient, info: SeriesInfo, folder: Path, show: bool) -> None:
    """The series' instances into ``folder`` (only the first one for a series not CT)."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    instances = info.instances if info.modality == "CT" else info.instances[:1]
    with progress_bar(
        f"downloading series {info.orthanc_id[:8]}", len(instances), show=show
    ) as advance:
        for k, instance in enumerate(instances):
            orthanc.download_instance(instance, folder / f"{k:05d}.dcm")
            advance()


def _send_sr(orthanc: OrthancClient, record: ScanRecord, folder: Path) -> str:
    """Build the SR of ``record`` (evidence: the spooled instances) and upload it."""
    result = record.result or {}
    version = record.algorithm_version.removeprefix("fracturelab ").strip()
    sr = build_spine_sr(
        result,
        read_source_headers(folder),
        algorithm_version=version,
        model_hash=record.model_hash,
    )
    buffer = io.BytesIO()
    sr.save_as(buffer, enforce_file_format=True)
    return str(orthanc.upload(buffer.getvalue())["ID"])
