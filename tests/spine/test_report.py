import csv
import io
import json

import pytest

from fracturelab.spine.report import SpineReport, VertebraResult


def _report():
    graded = VertebraResult(
        level="L1", label=20, status="graded", centroid_mm=[1.234, -2.0, 3.0], volume_mm3=30123.4,
        heights_mm={"anterior": 17.912, "middle": 21.0, "posterior": 27.5},
        height_loss_pct=34.86, genant_grade=2, morphology="wedge", decided_by="Ha/Hp",
        ratios={"Ha/Hp": 0.6514, "Hm/Hp": 0.7636},
    )  # fmt: skip
    cut = VertebraResult(
        level="T12", label=19, status="incomplete", centroid_mm=[0.0, 0.0, 30.0], volume_mm3=9000.0,
        reason="vertebral body cut by the field of view",
        warnings=["vertebral body cut by the field of view"],
    )  # fmt: skip
    return SpineReport([cut, graded], label_convention="verse", label_detection="detected VerSe")


def test_json_holds_the_contract_keys():
    data = json.loads(_report().to_json())
    assert data["schema_version"] == "1.0" and data["label_convention"] == "verse"
    first, second = data["vertebrae"]
    for key in ("level", "label", "status", "heights_mm", "height_loss_pct", "genant_grade",
                "morphology", "centroid_mm"):  # fmt: skip
        assert key in first and key in second
    assert first["genant_grade"] is None and first["morphology"] is None
    assert second["heights_mm"] == {"anterior": 17.91, "middle": 21.0, "posterior": 27.5}
    assert second["height_loss_pct"] == 34.9
    assert data["summary"] == {
        "n_vertebrae": 2, "n_graded": 1, "n_incomplete": 1, "n_failed": 0,
        "n_fractured": 1, "max_grade": 2, "level_warnings": [],
    }  # fmt: skip


def test_csv_has_one_row_per_vertebra():
    rows = list(csv.DictReader(io.StringIO(_report().to_csv())))
    assert [r["level"] for r in rows] == ["T12", "L1"]
    assert rows[1]["height_anterior_mm"] == "17.91" and rows[1]["ratio_ha_hp"] == "0.651"
    assert rows[0]["genant_grade"] == "" and rows[0]["reason"].startswith("vertebral body cut")


def test_report_round_trips_through_json():
    report = _report()
    again = SpineReport.from_dict(json.loads(report.to_json()))
    assert again["L1"].genant_grade == 2 and again["t12"].status == "incomplete"


def test_unknown_level_lookup_lists_the_known_ones():
    with pytest.raises(KeyError, match="it has T12, L1"):
        _report()["L5"]


def test_write_creates_both_files(tmp_path):
    written = _report().write(tmp_path / "out")
    assert written["json"].exists() and written["csv"].exists()
