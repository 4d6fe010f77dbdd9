import numpy as np
import pytest

from fracturelab.errors import InputError
from fracturelab.spine.conventions import CONVENTIONS, choose_convention, detect_convention


def _column(labels_head_to_foot, step_mm=30.0):
    """Centroids of a straight column: the first label highest (largest LPS z)."""
    return {lab: np.array([0.0, 0.0, -i * step_mm]) for i, lab in enumerate(labels_head_to_foot)}


def test_totalsegmentator_v2_numbering():
    v2 = CONVENTIONS["totalseg_v2"]
    assert [v2.level_of(x) for x in (26, 27, 31, 32, 43, 44, 50)] == [
        "S1", "L5", "L1", "T12", "T1", "C7", "C1",
    ]  # fmt: skip
    assert v2.level_of(25) is None  # the sacrum label, not a vertebra


def test_totalsegmentator_v1_numbering():
    v1 = CONVENTIONS["totalseg_v1"]
    assert [v1.level_of(x) for x in (18, 22, 23, 34, 35, 41)] == [
        "L5",
        "L1",
        "T12",
        "T1",
        "C7",
        "C1",
    ]


def test_verse_column_is_detected_as_verse():
    convention, reason = detect_convention(_column([19, 20, 21, 22]))  # T12, L1, L2, L3
    assert convention.name == "verse"
    assert "VerSe" in reason


def test_totalsegmentator_v2_column_is_detected():
    # T12 (32), L1 (31), L2 (30) ... head to foot: v2 labels decrease towards the feet
    convention, _ = detect_convention(_column([33, 32, 31, 30, 29]))
    assert convention.name == "totalseg_v2"


def test_organ_labels_above_the_verse_range_rule_verse_out():
    centroids = _column([32, 31])
    centroids[5] = np.array([80.0, -60.0, -40.0])  # liver
    centroids[90] = np.array([0.0, 0.0, 200.0])  # brain
    convention, _ = detect_convention(centroids)
    assert convention.name == "totalseg_v2"


def test_reversed_verse_order_is_not_verse():
    # labels 21, 22, 23 stacked with 23 on top contradict VerSe (23 = L4 would be above L2)
    convention, _ = detect_convention(_column([23, 22, 21]))
    assert convention.name == "totalseg_v1"


def test_labels_beyond_every_convention_are_refused():
    with pytest.raises(InputError, match=r"labels \{200, 300\} match no known convention"):
        detect_convention(_column([200, 300]))


def test_label_map_with_only_organs_has_no_vertebrae():
    centroids = {5: np.zeros(3), 52: np.ones(3), 60: np.full(3, 2.0)}
    with pytest.raises(InputError, match="contain no vertebra"):
        detect_convention(centroids)


def test_typo_in_convention_name_suggests_the_closest():
    with pytest.raises(InputError, match="did you mean 'totalseg_v2'"):
        choose_convention("totalseg-v3")
