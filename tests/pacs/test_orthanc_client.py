"""The Orthanc REST client: bounded retries with backoff, one-line errors, the round trip."""

import socket

import numpy as np
import pytest

from fracturelab.imaging import Volume
from fracturelab.imaging.dicom_series_writer import DicomSeriesInfo, write_dicom_series
from fracturelab.pacs.orthanc import OrthancClient, OrthancError
from tests.pacs.orthanc_helpers import (
    ORTHANC_URL,
    needs_orthanc,
    push_folder,
    series_of,
    wait_stable,
)


def _closed_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_orthanc_bounded_retries_with_backoff():
    waits = []
    client = OrthancClient(
        f"http://127.0.0.1:{_closed_port()}",
        retries=3,
        backoff_s=0.25,
        sleep=waits.append,
        timeout_s=2,
    )
    with pytest.raises(OrthancError) as caught:
        client.changes(since=0)
    message = str(caught.value)
    assert "\n" not in message
    assert "failed after 4 tries" in message and "check that Orthanc runs" in message
    assert waits == [0.25, 0.5, 1.0]  # exponential backoff, bounded


@pytest.mark.parametrize("url", ["127.0.0.1:8042", "orthanc"])
def test_url_without_scheme_is_refused(url):
    with pytest.raises(OrthancError, match="write it as http://host:8042"):
        OrthancClient(url)


@needs_orthanc
def test_round_trip_upload_changes_series_download(tmp_path):
    volume = Volume(np.full((4, 4, 3), 40.0, np.float32), np.diag([1.0, 1.0, 2.0, 1.0]))
    info = DicomSeriesInfo(series_uid="1.2.826.0.1.3680043.8.498.9101", patient_id="RT1")
    files = write_dicom_series(volume, tmp_path / "ct", info)
    with OrthancClient(ORTHANC_URL) as client:
        assert "Version" in client.system()
        since = client.last_change()
        ids = push_folder(client, tmp_path / "ct")
        series_id = series_of(client, ids[0])
        wait_stable(client, [series_id], since=since)
        series = client.series(series_id)
        assert (series.series_uid, series.modality) == (info.series_uid, "CT")
        assert sorted(series.instances) == sorted(ids)
        got = client.download_instance(ids[0], tmp_path / "back.dcm")
        assert got.read_bytes() in {f.read_bytes() for f in files}
        with pytest.raises(OrthancError, match="HTTP 404"):
            client.series("no-such-series")
