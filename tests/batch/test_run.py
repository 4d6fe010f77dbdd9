"""Batch runs on the local pool: results equal to ``spine analyze``, idempotent reruns, export."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from fracturelab.batch import BatchSettings, ResultsStore, is_flagged, run_batch
from fracturelab.batch.status import status_lines
from fracturelab.spine.scan import read_spine_scan
from tests.batch.conftest import SHARED_DICOM, PhantomSet


def _grades(result: dict) -> dict[str, int | None]:
    return {v["level"]: v["genant_grade"] for v in result["vertebrae"]}


def test_run_rerun_export(phantoms: PhantomSet, dicom_mix: Path, tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'results.db'}"
    manifest = phantoms.manifest(tmp_path, ["case0", "case1", "case3"])
    settings = BatchSettings(workers=2, out=tmp_path / "out", overview=False)
    summary = run_batch([manifest, dicom_mix], db, settings, show_progress=False)
    assert (summary.found, summary.done, summary.skipped, summary.failed) == (6, 4, 2, 0)
    store = ResultsStore(db)
    by_case = {r.case_id: r for r in store.records("done")}
    for case in ("case1", "case3"):  # the drawn fractures, as graded from the phantom's truth
        grades = _grades(by_case[case].result or {})
        fractured = {lvl: g for lvl, g in phantoms.truth[case].items() if g >= 2}
        assert {lvl: grades[lvl] for lvl in fractured} == fractured
        assert is_flagged(by_case[case].result or {})
    # the same result as `spine analyze` on the same files
    direct = read_spine_scan(phantoms.ct("case1"), phantoms.root / "case1" / "seg.nii.gz")
    assert by_case["case1"].result["vertebrae"] == direct.report.to_dict()["vertebrae"]  # type: ignore[index]
    assert (tmp_path / "out" / "case1" / "vertebrae.json").is_file()
    dicom = store.get("1.2.826.0.1.1")
    assert dicom is not None and dicom.state == "done" and dicom.patient_id == "P1"
    assert _grades(dicom.result or {})["L1"] == 2
    skipped = {r.key: r.error for r in store.records("skipped")}
    assert skipped["1.2.826.0.1.3"] == "not enough slices: 10 < 40 (--min-slices)"
    # a rerun reads nothing again
    again = run_batch([manifest, dicom_mix], db, settings, show_progress=False)
    assert (again.done, again.already_done) == (0, 4)
    assert len(store.records()) == 6 and all(r.attempts <= 1 for r in store.records())
    lines = status_lines(db)
    assert lines[0] == "6 scan(s): 0 pending, 0 running, 4 done, 0 failed, 2 skipped, 0 quarantined"
    assert any("modality MR is not CT" in line for line in lines)
    # export
    from fracturelab.batch import finding_rows

    rows = finding_rows(store.records(), flagged_only=True)
    assert {(r["case_id"] or r["series_uid"], r["level"]) for r in rows} == {
        ("case1", "L1"),
        ("case3", "L2"),
        ("1.2.826.0.1.1", "L1"),
    }
    store.dispose()


def test_no_mask_fails_with_reason(phantoms: PhantomSet, tmp_path: Path) -> None:
    db = str(tmp_path / "r.db")
    manifest = phantoms.manifest(tmp_path, ["case0"], masks=False)
    settings = BatchSettings(totalsegmentator=False)
    summary = run_batch([manifest], db, settings, show_progress=False)
    assert summary.failed == 1
    (record,) = ResultsStore(db).records("failed")
    assert record.error is not None and record.error.startswith("no vertebra mask")


def test_unreadable_series_fails(dicom_mix: Path, tmp_path: Path) -> None:
    folder = tmp_path / "broken"
    folder.mkdir()
    for file in sorted(dicom_mix.glob("ct_*.dcm")):
        (folder / file.name).write_bytes(file.read_bytes())
    damaged = sorted(folder.glob("*.dcm"))[5]
    damaged.write_bytes(damaged.read_bytes()[:-5000])  # truncated pixel data
    (folder / "1.2.826.0.1.1_vertebrae.nii.gz").symlink_to(
        dicom_mix / "1.2.826.0.1.1_vertebrae.nii.gz"
    )
    summary = run_batch([folder], str(tmp_path / "r.db"), BatchSettings(), show_progress=False)
    assert summary.failed == 1
    (record,) = ResultsStore(str(tmp_path / "r.db")).records("failed")
    assert record.error is not None and damaged.name in record.error


@pytest.mark.skipif(not SHARED_DICOM.is_dir(), reason="../shared/data is absent")
def test_real_series(tmp_path: Path) -> None:
    manifest = tmp_path / "m.csv"
    mask = SHARED_DICOM / "dicom_totalseg_total.nii.gz"
    manifest.write_text(f"ct,vertebrae\n{SHARED_DICOM / 'dicom'},{mask}\n", encoding="utf-8")
    db = str(tmp_path / "r.db")
    summary = run_batch([manifest], db, BatchSettings(), show_progress=False)
    assert summary.skipped == 1
    summary = run_batch([manifest], db, BatchSettings(min_slices=10), show_progress=False)
    assert summary.done == 1, summary.failures
    (record,) = ResultsStore(db).records("done")
    assert record.key.startswith("sha256:")  # this anonymised series has no SeriesInstanceUID
    assert record.result and record.result["vertebrae"]


def test_export_cli(phantoms: PhantomSet, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from fracturelab.cli.batch import app

    db = str(tmp_path / "r.db")
    manifest = phantoms.manifest(tmp_path, ["case0", "case1"])
    runner = CliRunner()
    result = runner.invoke(app, ["run", str(manifest), "--results", db, "--quiet"])
    assert result.exit_code == 0, result.output
    out = tmp_path / "findings.csv"
    result = runner.invoke(app, ["export", "--results", db, "--out", str(out), "--flagged"])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert [(r["case_id"], r["level"], r["genant_grade"]) for r in rows] == [("case1", "L1", "2")]
    result = runner.invoke(app, ["status", "--results", db])
    assert "2 done" in result.output
