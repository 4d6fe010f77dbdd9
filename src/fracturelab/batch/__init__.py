"""Background reading of many CTs: discovery, the results database, engines, flags.

``run_batch`` reads every eligible scan of folders or manifests into a results database (the
source of truth: idempotent, resumable, bounded retries); ``ResultsStore`` reads it back;
``is_flagged`` says which results to hand to a radiologist.
"""

from fracturelab.batch.flags import finding_rows, is_flagged
from fracturelab.batch.record import STATES, ScanRecord
from fracturelab.batch.runner import ALGORITHM_VERSION, RunSummary, model_hash, run_batch
from fracturelab.batch.settings import BatchSettings
from fracturelab.batch.store import ResultsStore

__all__ = [
    "ALGORITHM_VERSION",
    "STATES",
    "BatchSettings",
    "ResultsStore",
    "RunSummary",
    "ScanRecord",
    "finding_rows",
    "is_flagged",
    "model_hash",
    "run_batch",
]
