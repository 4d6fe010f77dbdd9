"""The background reader's flagged scans as a review worklist, and the review compared back."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from fracturelab.errors import InputError
from fracturelab.workstation.db import Database
from fracturelab.workstation.findings import import_findings, open_results
from fracturelab.workstation.models import Case
from fracturelab.workstation.review_agreement import compare_review, read_review

VERSION = "fracturelab test"


@pytest.fixture(scope="module")
def reading(spine_files: dict[str, Path]) -> dict[str, Any]:
    """A real reading of the phantom (T12-L2, L1 a 35 % wedge): L1 graded 2, the others 0."""
    from fracturelab.spine.scan import read_spine_scan

    result = read_spine_scan(spine_files["ct_LPS"], spine_files["labels_LPS"]).report.to_dict()
    result["inputs"]["vertebrae"] = str(spine_files["labels_LPS"])
    grades = {v["level"]: v["genant_grade"] for v in result["vertebrae"]}
    assert grades == {"T12": 0, "L1": 2, "L2": 0}
    return result


def _normal(reading: dict[str, Any]) -> dict[str, Any]:
    """The same reading with every vertebra graded 0: a scan the reader does not flag."""
    normal = copy.deepcopy(reading)
    for vertebra in normal["vertebrae"]:
        vertebra["genant_grade"], vertebra["morphology"] = 0, "normal"
    return normal


def _results(folder: Path, ct: Path, readings: dict[str, dict[str, Any]]) -> str:
    """A results database in which every scan of ``readings`` (key -> result) is done."""
    from fracturelab.batch import ResultsStore
    from fracturelab.batch.store import ScanIdentity

    path = folder / "results.db"
    store = ResultsStore(str(path))
    store.register_runner()
    for key, result in readings.items():
        store.add(ScanIdentity(key, str(ct), patient_id=f"P-{key}"), VERSION, None)
        assert store.claim(key, VERSION, None) == 1
        store.finish(key, VERSION, None, "done", result=result, elapsed_s=1.0)
    store.finish_runner()
    store.dispose()
    return str(path)


def _cases(database: Database) -> dict[str, Case]:
    with database.session() as session:
        return {c.name: c for c in session.scalars(select(Case))}


def test_flagged_scans_become_cases_with_the_reading_prefilled(
    database: Database, spine_files: dict[str, Path], reading: dict[str, Any], tmp_path: Path
) -> None:
    ct = spine_files["ct_LPS"]
    results = _results(
        tmp_path, ct, {"A": reading, "B": reading, "C": _normal(reading), "D": _normal(reading)}
    )
    with database.session() as session:
        summary = import_findings(session, results)
    assert sorted(summary.added) == ["A", "B"] and not summary.failed
    cases = _cases(database)
    assert sorted(cases) == ["A", "B"]
    case = cases["A"]
    assert case.task == "spine" and case.patient_id == "P-A"
    assert (
        Path(case.image_path) == ct
        and Path(case.labels_path or "") == spine_files["labels_LPS"].resolve()
    )
    assert case.suggestion is not None
    assert case.suggestion["L1"]["genant_grade"] == 2
    assert case.suggestion["L1"]["morphology"] == "wedge"
    assert [case.suggestion[k]["genant_grade"] for k in ("T12", "L2")] == [0, 0]
    # a second import adds nothing and loses nothing
    with database.session() as session:
        again = import_findings(session, results)
    assert again.added == [] and sorted(again.skipped) == ["A", "B"]


def test_audit_sample_adds_seeded_unflagged_scans_and_probability_flags(
    database: Database, spine_files: dict[str, Path], reading: dict[str, Any], tmp_path: Path
) -> None:
    likely = _normal(reading)
    likely["vertebrae"][0]["fracture_probability"] = 0.9  # a model's call on a normal-height T12
    readings = {"A": reading, "P": likely, **{f"N{i}": _normal(reading) for i in range(5)}}
    results = _results(tmp_path, spine_files["ct_LPS"], readings)
    with database.session() as session:
        summary = import_findings(session, results, min_probability=0.8, audit_sample=2, seed=3)
    assert summary.added[:2] == ["A", "P"]
    audit = summary.added[2:]
    assert len(audit) == 2 and all(name.startswith("N") for name in audit)
    with database.session() as session:
        # the same seed draws the same audit sample
        assert sorted(import_findings(session, results, audit_sample=2, seed=3).skipped) == sorted(
            ["A", *audit]
        )


def test_a_missing_results_database_is_one_line_naming_the_option(
    database: Database, tmp_path: Path
) -> None:
    with database.session() as session, pytest.raises(InputError, match=r"--results .*batch run"):
        import_findings(session, str(tmp_path / "nothing.db"))
    with pytest.raises(InputError, match="--min-grade 0"), database.session() as session:
        import_findings(session, str(tmp_path / "nothing.db"), min_grade=0)


def test_a_scan_whose_label_map_is_gone_is_listed_not_registered(
    database: Database, spine_files: dict[str, Path], reading: dict[str, Any], tmp_path: Path
) -> None:
    segmented = copy.deepcopy(reading)
    segmented["inputs"]["vertebrae"] = "(segmenter command)"
    results = _results(tmp_path, spine_files["ct_LPS"], {"S": segmented})
    with database.session() as session:
        summary = import_findings(session, results)
    assert summary.added == [] and summary.failed[0][0] == "S"
    assert "--out" in summary.failed[0][1]
    assert _cases(database) == {}


def test_review_compared_with_the_reader_by_hand(
    spine_files: dict[str, Path], reading: dict[str, Any], tmp_path: Path
) -> None:
    # read: 4 flagged scans (A, B, G, H) and 6 unflagged (C, D, E, F, I, J)
    flagged, normal = reading, _normal(reading)
    readings = {k: flagged for k in "ABGH"} | {k: normal for k in "CDEFIJ"}
    records = open_results(_results(tmp_path, spine_files["ct_LPS"], readings))
    review = {
        "A": {"T12": 0, "L1": 2, "L2": 0},  # flagged L1 confirmed: TP; 2 TN
        "B": {"T12": 0, "L1": 0, "L2": 0},  # flagged L1 rejected: FP; 2 TN
        "C": {"T12": 0, "L1": 0, "L2": 3},  # missed L2: FN; 2 TN
        "D": {"T12": 0, "L1": 0, "L2": 0},  # 3 TN
        "X": {"L1": 2},  # not read by the reader
    }
    comparison = compare_review(records, review)
    assert comparison.vertebra_counts == {"tp": 1, "fp": 1, "fn": 1, "tn": 9}
    assert comparison.vertebra_sensitivity["value"] == 0.5
    assert comparison.scan_counts == {
        "tp": 1, "fp": 1, "fn": 1, "tn": 1, "n_flagged_read": 4, "n_unflagged_read": 6,
    }  # fmt: skip
    # PPV 1/2 with its Wilson interval: (p + z^2/2n) / (1 + z^2/n) +- z sqrt(p q/n + z^2/4n^2)
    # / (1 + z^2/n), z = 1.96, n = 2: 0.5 +- 0.4055
    ppv = comparison.scan_ppv
    assert ppv["value"] == 0.5
    assert ppv["ci_low"] == pytest.approx(0.0945, abs=1e-3)
    assert ppv["ci_high"] == pytest.approx(0.9055, abs=1e-3)
    # each reviewed scan stands for its stratum: found 1/2 of 4 flagged = 2, missed 1/2 of 6
    # unflagged = 3: sensitivity 2 / (2 + 3)
    assert comparison.scan_sensitivity["value"] == pytest.approx(0.4)
    low, high = comparison.scan_sensitivity["ci_low"], comparison.scan_sensitivity["ci_high"]
    assert low is not None and high is not None and low <= 0.4 <= high
    assert comparison.notes == ["case X is not in the results database"]
    json.dumps(comparison.to_dict(), allow_nan=False)


def test_without_reviewed_unflagged_scans_sensitivity_is_not_estimable(
    spine_files: dict[str, Path], reading: dict[str, Any], tmp_path: Path
) -> None:
    records = open_results(_results(tmp_path, spine_files["ct_LPS"], {"A": reading}))
    comparison = compare_review(records, {"A": {"L1": 2}})
    assert comparison.scan_sensitivity["value"] is None
    assert any("--audit-sample" in note for note in comparison.notes)


def test_read_review_leaves_out_ungraded_rows_and_names_bad_files(tmp_path: Path) -> None:
    good = tmp_path / "review.csv"
    good.write_text(
        "case,level,genant_grade,not_assessable\nA,L1,2,false\nA,L2,,false\nA,L3,1,true\n"
    )
    assert read_review(good) == {"A": {"L1": 2}}
    bad = tmp_path / "bad.csv"
    bad.write_text("case,level\nA,L1\n")
    with pytest.raises(InputError, match=r"--review .*bad.csv.*genant_grade"):
        read_review(bad)
    with pytest.raises(InputError, match="no such file"):
        read_review(tmp_path / "missing.csv")
    for grade in ("x", "4"):
        wrong = tmp_path / f"wrong-{grade}.csv"
        wrong.write_text(f"case,level,genant_grade\nA,L1,{grade}\n")
        expected = f"genant_grade '{grade}' of case A level L1 is not 0-3"
        with pytest.raises(InputError, match=expected):
            read_review(wrong)
