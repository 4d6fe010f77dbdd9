import numpy as np
import pytest

from fracturelab.spine.grading import genant_grade, grade_vertebrae
from fracturelab.spine.morphometry import VertebraMeasurement


def _measured(level, label, anterior, middle, posterior):
    return VertebraMeasurement(
        label, level, "measured", np.zeros(3), 30000.0,
        heights_mm={"anterior": anterior, "middle": middle, "posterior": posterior},
    )  # fmt: skip


@pytest.mark.parametrize(
    ("loss", "grade"),
    [(0.0, 0), (19.99, 0), (20.0, 1), (24.99, 1), (25.0, 2), (40.0, 2), (40.01, 3), (75.0, 3)],
)
def test_genant_thresholds(loss, grade):
    assert genant_grade(loss) == grade


def test_wedge_is_graded_from_the_anterior_to_posterior_ratio():
    spine = [
        _measured("T11", 19 - 1, 24.0, 24.0, 24.0),
        _measured("T12", 19, 16.0, 20.0, 25.0),  # Ha/Hp = 0.64 -> 36 % loss
        _measured("L1", 20, 26.0, 26.0, 26.0),
    ]
    grading = grade_vertebrae(spine)[19]
    assert grading.height_loss_pct == pytest.approx(36.0)
    assert grading.genant_grade == 2 and grading.morphology == "wedge"
    assert grading.decided_by == "Ha/Hp"
    assert grading.ratios["Hm/Hp"] == pytest.approx(0.8)


def test_biconcave_is_graded_from_the_middle_height():
    spine = [_measured("L2", 21, 28.0, 21.0, 28.0), _measured("L3", 22, 28.0, 28.0, 28.0)]
    grading = grade_vertebrae(spine)[21]
    assert grading.height_loss_pct == pytest.approx(25.0)
    assert (grading.genant_grade, grading.morphology) == (2, "biconcave")


def test_crush_is_measured_against_the_median_of_neighbours():
    spine = [
        _measured("T10", 17, 22.0, 22.0, 22.0),
        _measured("T11", 18, 23.0, 23.0, 23.0),
        _measured("T12", 19, 12.0, 12.0, 12.0),  # expected median(22, 23, 25, 26) = 24
        _measured("L1", 20, 25.0, 25.0, 25.0),
        _measured("L2", 21, 26.0, 26.0, 26.0),
    ]
    grading = grade_vertebrae(spine)[19]
    assert grading.expected_posterior_mm == pytest.approx(24.0)
    assert grading.height_loss_pct == pytest.approx(50.0)
    assert (grading.genant_grade, grading.morphology, grading.decided_by) == (
        3,
        "crush",
        "Hp/Hp_expected",
    )


def test_normal_vertebra_is_grade_zero_and_named_normal():
    spine = [_measured("L3", 22, 27.0, 26.0, 28.0), _measured("L4", 23, 28.0, 27.0, 28.0)]
    grading = grade_vertebrae(spine)[22]
    assert grading.genant_grade == 0 and grading.morphology == "normal"


def test_without_neighbours_crush_is_not_assessed():
    grading = grade_vertebrae([_measured("L1", 20, 20.0, 20.0, 20.0)])[20]
    assert "Hp/Hp_expected" not in grading.ratios and grading.expected_posterior_mm is None
    assert grading.genant_grade == 0


def test_unmeasured_vertebrae_are_neither_graded_nor_neighbours():
    cut = VertebraMeasurement(19, "T12", "incomplete", np.zeros(3), 1.0, reason="cut")
    spine = [cut, _measured("L1", 20, 25.0, 25.0, 25.0)]
    gradings = grade_vertebrae(spine)
    assert set(gradings) == {20}
    assert gradings[20].expected_posterior_mm is None
