"""One row of the results database: a scan, its state and its result."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

__all__ = ["STATES", "ScanRecord"]

#: The states of a scan, in the order ``batch status`` lists them.
STATES: tuple[str, ...] = ("pending", "running", "done", "failed", "skipped", "quarantined")


@dataclass
class ScanRecord:
    """A scan in the results database (one row per scan, algorithm version and model hash).

    Attributes:
        key: The scan's identity: its ``SeriesInstanceUID`` for DICOM, else a content id
            (``sha256:`` and the first 32 hex digits of the file's SHA-256).
        series_uid: ``SeriesInstanceUID`` (``None`` for a volume file).
        source: Where the scan was read from (a series folder or a volume file).
        state: ``pending``, ``running``, ``done``, ``failed``, ``skipped`` or ``quarantined``.
        attempts: How many times the scan was started.
        error: Why it failed, was skipped or quarantined (``None`` otherwise).
        algorithm_version: ``fracturelab <version>`` that read it.
        model_hash: SHA-256 (first 16 hex digits) of the spine model's files, ``None``
            without a model.
        result: The ``vertebrae.json`` document (``None`` unless done).
        started_at: When the last attempt started (UTC).
        finished_at: When the last attempt ended (UTC).
        elapsed_s: Seconds the last attempt took in its worker.
        case_id: The manifest's ``case_id`` (``None`` otherwise).
        study_uid: ``StudyInstanceUID`` (DICOM only).
        patient_id: ``PatientID`` (DICOM only; an identifier, never a name).
        out_dir: The scan's output folder, when outputs were written.

    """

    key: str
    series_uid: str | None
    source: str
    state: str
    attempts: int
    error: str | None
    algorithm_version: str
    model_hash: str | None
    result: dict[str, Any] | None
    started_at: datetime | None
    finished_at: datetime | None
    elapsed_s: float | None
    case_id: str | None = None
    study_uid: str | None = None
    patient_id: str | None = None
    out_dir: str | None = None

    @property
    def max_grade(self) -> int | None:
        """The worst Genant grade of the result (``None`` without a result or a graded vertebra)."""
        if not self.result:
            return None
        value = self.result.get("summary", {}).get("max_grade")
        return int(value) if value is not None else None
