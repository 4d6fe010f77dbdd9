"""``batch watch`` against a real Orthanc: phantom series in, readings and SRs back, once."""

import shlex
import sys

import numpy as np
import pytest
import typer
from pydicom.uid import generate_uid
from typer.testing import CliRunner

from fracturelab.cli.batch_watch import register
from fracturelab.imaging import Volume, write_volume
from fracturelab.imaging.dicom_series_writer import DicomSeriesInfo, write_dicom_series
from fracturelab.synth import make_spine_phantom
from tests.pacs.orthanc_helpers import (
    ORTHANC_URL,
    needs_orthanc,
    push_folder,
    series_of,
    wait_stable,
)

pytestmark = needs_orthanc


def watch_app():
    app = typer.Typer()

    @app.callback()
    def batch() -> None:
        """The batch group, as the lead wires it."""

    register(app)
    return app


@pytest.fixture(scope="module")
def pushed(tmp_path_factory):
    """A phantom CT (L1 grade 2) and a small MR pushed to Orthanc; the pointer set before them."""
    from fracturelab.pacs.orthanc import OrthancClient
    from fracturelab.pacs.watch_state import WatchState

    root = tmp_path_factory.mktemp("watch")
    phantom = make_spine_phantom(
        levels="T12-L2", fractures="L1:2:wedge", spacing_mm=(1.5,) * 3, seed=1
    )
    ct_uid, mr_uid = generate_uid(), generate_uid()
    ct_files = write_dicom_series(
        phantom.ct,
        root / "ct",
        DicomSeriesInfo(series_uid=ct_uid, patient_id="W1", body_part="ABDOMEN"),
    )
    mr = Volume(np.full((8, 8, 4), 100.0, np.float32), np.diag([1.0, 1.0, 3.0, 1.0]))
    write_dicom_series(
        mr, root / "mr", DicomSeriesInfo(series_uid=mr_uid, patient_id="W1", modality="MR")
    )
    labels = write_volume(phantom.vertebrae, root / "labels.nii.gz")
    results = str(root / "results.db")
    with OrthancClient(ORTHANC_URL) as client:
        since = client.last_change()
        state = WatchState(results)
        state.set_last_change(client.url, since)  # this test's changes only
        state.close()
        ids = push_folder(client, root / "ct") + push_folder(client, root / "mr")
        ct_id, mr_id = series_of(client, ids[0]), series_of(client, ids[-1])
        wait_stable(client, [ct_id, mr_id], since=since)
    script = "import shutil, sys; shutil.copyfile(sys.argv[1], sys.argv[3])"
    copy = f"{shlex.quote(sys.executable)} -c {shlex.quote(script)}"
    command = f"{copy} {shlex.quote(str(labels))} {{ct}} {{out}}"
    args = [
        "watch", "--orthanc", ORTHANC_URL, "--results", results, "--once", "--quiet",
        "--segmenter-command", command, "--no-totalsegmentator", "--poll-s", "0.5",
    ]  # fmt: skip
    return {"ct_uid": ct_uid, "mr_uid": mr_uid, "ct_files": ct_files, "results": results,
            "args": args, "phantom": phantom, "since": since}  # fmt: skip


def test_watch_reads_ct_skips_mr_sends_sr_and_never_twice(pushed, tmp_path):
    import highdicom as hd
    import pydicom

    from fracturelab.batch import ResultsStore
    from fracturelab.pacs.orthanc import OrthancClient
    from fracturelab.pacs.sr import sr_uids
    from fracturelab.pacs.watch_state import WatchState

    runner = CliRunner()
    first = runner.invoke(watch_app(), [*pushed["args"], "--send-sr"])
    assert first.exit_code == 0, first.output
    store = ResultsStore(pushed["results"])
    ct, mr = store.get(pushed["ct_uid"]), store.get(pushed["mr_uid"])
    assert (ct.state, ct.attempts) == ("done", 1), ct.error
    assert mr.state == "skipped" and "MR" in (mr.error or "")
    grades = {v["level"]: v["genant_grade"] for v in ct.result["vertebrae"]}
    assert grades == {"T12": 0, "L1": 2, "L2": 0}  # the phantom's truth
    assert "SRs sent: 1" in first.output

    # the SR arrived, in the CT's study, with the reading's values and the CT as evidence
    uids = sr_uids(
        pushed["ct_uid"], ct.algorithm_version.removeprefix("fracturelab ").strip(), ct.model_hash
    )
    with OrthancClient(ORTHANC_URL) as client:
        found = client._http.post("/tools/lookup", content=uids.instance).json()
        assert [f["Type"] for f in found] == ["Instance"]
        path = client.download_instance(found[0]["ID"], tmp_path / "sr.dcm")
    sr = hd.sr.srread(path)
    assert sr.StudyInstanceUID == pydicom.dcmread(pushed["ct_files"][0]).StudyInstanceUID
    groups = {g.tracking_identifier: g for g in sr.content.get_image_measurement_groups()}
    l1 = {m.name.value: m.value for m in groups["L1"].get_measurements()}
    expected = next(v for v in ct.result["vertebrae"] if v["level"] == "L1")
    assert l1["genant-grade"] == 2.0
    assert l1["height-loss"] == pytest.approx(expected["height_loss_pct"])
    assert l1["height-anterior"] == pytest.approx(expected["heights_mm"]["anterior"])
    evidence = sr.CurrentRequestedProcedureEvidenceSequence[0].ReferencedSeriesSequence[0]
    assert evidence.SeriesInstanceUID == pushed["ct_uid"]
    sources = {
        pydicom.dcmread(f, stop_before_pixels=True).SOPInstanceUID for f in pushed["ct_files"]
    }
    assert {r.ReferencedSOPInstanceUID for r in evidence.ReferencedSOPSequence} == sources

    # restart: the pointer is past every change, nothing is seen or read again
    again = runner.invoke(watch_app(), [*pushed["args"], "--send-sr"])
    assert again.exit_code == 0, again.output
    assert "read: 0" in again.output
    # the pointer lost: the changes come again, the results database keeps them from rereading
    state = WatchState(pushed["results"])
    state.set_last_change(ORTHANC_URL, pushed["since"])
    state.close()
    replay = runner.invoke(watch_app(), pushed["args"])
    assert replay.exit_code == 0, replay.output
    assert "read: 0" in replay.output and "already handled: 2" in replay.output
    assert store.get(pushed["ct_uid"]).attempts == 1
    assert len(store.records()) == 2
