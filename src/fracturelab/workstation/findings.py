"""The background reader's flagged scans as a review worklist (``workstation import findings``).

Every scan that ``fracturelab batch run`` read (state ``done`` in the results database) and
flagged (a vertebra at or above ``--min-grade``, or the model's ``fracture_probability`` at or
above ``--min-probability``) becomes a spine case, with the reading pre-filled as the
suggestion: the radiologist confirms or corrects each vertebra. The reading is taken from the
results database as it is; nothing is measured again.

A review of flagged scans alone tells how often a flag is right (PPV) but not how many
fractures go unflagged. ``--audit-sample N`` adds N unflagged scans, drawn at random (seeded),
so that ``fracturelab batch compare`` can estimate the reader's sensitivity too
(:mod:`fracturelab.workstation.review_agreement`).

Case names are the scan's ``case_id`` from the batch manifest, else its key in the results
database (the DICOM ``SeriesInstanceUID``, or ``sha256:...`` for a volume file): identifiers,
never patient names.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from fracturelab.errors import InputError
from fracturelab.workstation.importer import ImportSummary
from fracturelab.workstation.models import Case
from fracturelab.workstation.suggestions import spine_suggestion_from_report

if TYPE_CHECKING:
    from fracturelab.batch import ScanRecord

__all__ = ["case_name", "import_findings", "latest_done", "open_results"]

Progress = Callable[[str], None]


def open_results(results: str) -> list[ScanRecord]:
    """The records of an existing results database (``--results``: a path or a URL).

    Raises:
        InputError: If the database does not exist or is not a results database of this
            version (the message names ``--results``).

    """
    from fracturelab.batch import ResultsStore

    store = ResultsStore.existing(results)
    try:
        return store.records()
    finally:
        store.dispose()


def case_name(record: ScanRecord) -> str:
    """The workstation case name of a scan: its manifest ``case_id``, else its key."""
    return record.case_id or record.key


def latest_done(records: list[ScanRecord]) -> list[ScanRecord]:
    """One ``done`` record per scan key (the most recently finished), in key order.

    A scan read again by another fracturelab version or model has a row for each; the review
    shows the latest reading.
    """
    latest: dict[str, ScanRecord] = {}
    for record in records:
        if record.state != "done" or not record.result:
            continue
        current = latest.get(record.key)
        if current is None or _finished(record) >= _finished(current):
            latest[record.key] = record
    return [latest[key] for key in sorted(latest)]


def _finished(record: ScanRecord) -> float:
    return record.finished_at.timestamp() if record.finished_at else 0.0


def import_findings(
    session: Session,
    results: str,
    *,
    min_grade: int = 2,
    min_probability: float | None = None,
    audit_sample: int = 0,
    seed: int = 0,
    progress: Progress | None = None,
) -> ImportSummary:
    """Register the flagged scans of a results database (and an audit sample) as spine cases.

    Args:
        session: Open workstation session; committed after every case.
        results: The results database of ``fracturelab batch run`` (path or URL).
        min_grade: Lowest Genant grade (1-3) that flags a scan (``--min-grade``).
        min_probability: Lowest model ``fracture_probability`` that flags a scan
            (``--min-probability``); ``None``: grades only.
        audit_sample: How many unflagged scans to add, drawn at random (``--audit-sample``).
        seed: Seed of that draw (``--seed``).
        progress: Called with each case name before it is imported.

    Returns:
        What was added, skipped (already a case) and why anything failed (e.g. the label map
        the reading used is gone).

    Raises:
        InputError: For a missing or foreign results database, or limits out of range.

    """
    from fracturelab.batch import is_flagged
    from fracturelab.spine.report import SpineReport

    if not 1 <= min_grade <= 3:
        raise InputError(f"--min-grade {min_grade}: must be 1, 2 or 3")
    if min_probability is not None and not 0.0 <= min_probability <= 1.0:
        raise InputError(f"--min-probability {min_probability}: must be between 0 and 1")
    if audit_sample < 0:
        raise InputError(f"--audit-sample {audit_sample}: must be 0 or more")
    done = latest_done(open_results(results))
    flagged = [
        r
        for r in done
        if is_flagged(r.result or {}, min_grade=min_grade, min_probability=min_probability)
    ]
    chosen = {r.key for r in flagged}
    unflagged = sorted((r for r in done if r.key not in chosen), key=lambda r: r.key)
    audit = random.Random(seed).sample(unflagged, min(audit_sample, len(unflagged)))
    summary = ImportSummary()
    if audit_sample > len(unflagged):
        summary.notes.append(
            f"--audit-sample {audit_sample}: only {len(unflagged)} unflagged scans; took all"
        )
    existing = set(session.scalars(select(Case.name).where(Case.task == "spine")))
    for record in [*flagged, *sorted(audit, key=lambda r: r.key)]:
        name = case_name(record)
        if name in existing:
            summary.skipped.append(name)
            continue
        if progress is not None:
            progress(name)
        report = SpineReport.from_dict(record.result or {})
        labels = _label_map(record, report)
        if isinstance(labels, str):
            summary.failed.append((name, labels))
            continue
        session.add(
            Case(
                task="spine",
                name=name,
                image_path=record.source,
                labels_path=str(labels),
                patient_id=record.patient_id,
                suggestion=spine_suggestion_from_report(report),
            )
        )
        session.commit()
        existing.add(name)
        summary.added.append(name)
    return summary


def _label_map(record: ScanRecord, report: object) -> Path | str:
    """The label map the reading used, or why it cannot be shown."""
    inputs = getattr(report, "inputs", {}) or {}
    given = inputs.get("vertebrae")
    candidates = [Path(given)] if given and not str(given).startswith("(") else []
    if record.out_dir:
        candidates.append(Path(record.out_dir) / "vertebrae.nii.gz")
    for path in candidates:
        if path.exists():
            return path.resolve()
    return (
        "the label map this reading used is not kept (made by a segmenter, or moved); rerun "
        "`fracturelab batch run` with --out so that each scan's label map is kept beside its "
        "results"
    )
