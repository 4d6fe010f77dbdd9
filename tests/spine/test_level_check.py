"""Level-name sanity: order along the spine, duplicates, gaps (against known positions)."""

import numpy as np

from fracturelab.spine import analyze
from fracturelab.spine.level_check import check_levels
from tests.spine.bodies import Spine


def _column(levels, steps_mm):
    """Centroids on a vertical line, head first, ``steps_mm`` apart."""
    z = np.concatenate([[0.0], -np.cumsum(steps_mm)])
    return list(levels), [np.array([0.0, 0.0, v]) for v in z]


def test_regular_spine_has_no_warning():
    summary, per_level = check_levels(*_column(["T12", "L1", "L2", "L3"], [30, 31, 32]))
    assert summary == [] and per_level == {}


def test_levels_out_of_order_along_the_spine():
    levels, points = _column(["T12", "L1", "L2", "L3"], [30, 31, 32])
    points[1], points[2] = points[2], points[1]  # L1 and L2 swapped
    summary, per_level = check_levels(levels, points)
    assert any("out of anatomical order" in w for w in summary)
    assert "L1" in per_level and "L2" in per_level and "T12" not in per_level


def test_gap_as_wide_as_a_missing_vertebra():
    summary, per_level = check_levels(*_column(["T11", "T12", "L1", "L2"], [28, 60, 31]))
    assert any("gap between T12 and L1" in w for w in summary), summary
    assert set(per_level) == {"T12", "L1"}


def test_labels_two_levels_apart_but_adjacent():
    summary, _ = check_levels(*_column(["T11", "T12", "L2", "L3"], [28, 30, 31]))
    assert any("T12 and L2 are 2 levels apart but adjacent" in w for w in summary), summary


def test_absent_transitional_levels_are_not_a_gap():
    summary, _ = check_levels(*_column(["T11", "T12", "L1", "L5", "S1"], [28, 30, 100, 33]))
    assert not any("L5 and S1" in w for w in summary)
    assert not any("T12 and L1" in w for w in summary)


def test_duplicated_level():
    summary, per_level = check_levels(["L1", "L1", "L2"], [np.zeros(3)] * 3)
    assert any("level L1 is named by 2 labels" in w for w in summary)
    assert "L1" in per_level


def test_swapped_labels_warn_in_the_report():
    ct, labels = Spine().build()
    array = np.asarray(labels.array).copy()
    l1, l2 = array == 20, array == 21
    array[l1], array[l2] = 21, 20
    report = analyze(ct, labels.with_array(array), labels="verse")
    assert any("out of anatomical order" in w for w in report.summary["level_warnings"])
    assert any("out of anatomical order" in w for w in report["L1"].warnings)
    assert report.to_dict()["summary"]["level_warnings"] == report.level_warnings
    assert not any("order" in w for w in report["L4"].warnings)
