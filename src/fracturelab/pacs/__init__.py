"""PACS: an Orthanc REST client, DICOM Structured Reports of spine readings, the watcher.

``fracturelab batch watch`` follows an Orthanc server's change feed, reads each new stable CT
series with the batch runner and, with ``--send-sr``, stores the reading back as a DICOM SR
(``docs/pacs.md``). The names load their module on first use (httpx, SQLAlchemy, the batch
runner).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fracturelab.lazy import lazy_exports

if TYPE_CHECKING:
    from fracturelab.pacs.orthanc import OrthancClient, OrthancError
    from fracturelab.pacs.sr import build_spine_sr, read_source_headers, sr_uids
    from fracturelab.pacs.watch import WatchSettings, WatchSummary, watch

__all__ = [
    "OrthancClient",
    "OrthancError",
    "WatchSettings",
    "WatchSummary",
    "build_spine_sr",
    "read_source_headers",
    "sr_uids",
    "watch",
]

_HOMES = {
    "OrthancClient": "fracturelab.pacs.orthanc",
    "OrthancError": "fracturelab.pacs.orthanc",
    "build_spine_sr": "fracturelab.pacs.sr",
    "read_source_headers": "fracturelab.pacs.sr",
    "sr_uids": "fracturelab.pacs.sr",
    "WatchSettings": "fracturelab.pacs.watch",
    "WatchSummary": "fracturelab.pacs.watch",
    "watch": "fracturelab.pacs.watch",
}

__getattr__, __dir__ = lazy_exports(globals(), _HOMES)
