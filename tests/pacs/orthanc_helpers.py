"""Shared pieces of the Orthanc tests: the server from ci/orthanc.sh, pushing and waiting."""

import os
import time
from pathlib import Path

import pytest

ORTHANC_URL = os.environ.get("FRACTURELAB_TEST_ORTHANC_URL", "")

needs_orthanc = pytest.mark.skipif(
    not ORTHANC_URL,
    reason="FRACTURELAB_TEST_ORTHANC_URL is not set (source ci/orthanc.sh; ci_orthanc_up)",
)


def push_folder(client, folder):
    """Upload every DICOM file of ``folder`` through ``POST /instances``; their Orthanc ids."""
    return [client.upload(path.read_bytes())["ID"] for path in sorted(Path(folder).glob("*.dcm"))]


def wait_stable(client, series_ids, since=0, timeout_s=30.0):
    """Wait until Orthanc reported a StableSeries change for each of ``series_ids``."""
    wanted, deadline = set(series_ids), time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        seen, cursor = set(), since
        while True:
            page = client.changes(since=cursor, limit=1000)
            seen |= {c.resource_id for c in page.changes if c.change_type == "StableSeries"}
            cursor = page.last
            if page.done:
                break
        if wanted <= seen:
            return
        time.sleep(0.3)
    raise AssertionError(f"Orthanc did not mark {sorted(wanted - seen)} stable in {timeout_s} s")


def series_of(client, instance_id):
    """Orthanc's id of the series an instance belongs to."""
    return client._json(f"/instances/{instance_id}/series")["ID"]
