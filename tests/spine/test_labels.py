import numpy as np
import pytest

from fracturelab.errors import InputError
from fracturelab.imaging import Volume, write_volume
from fracturelab.spine.labels import load_vertebra_labels
from tests.spine.builders import stacked_labels


def _ct_like(labels: Volume) -> Volume:
    return labels.with_array(np.zeros(labels.shape, dtype=np.int16))


def test_verse_map_gets_levels_and_a_detection_note():
    labels = stacked_labels([19, 20, 21])
    result = load_vertebra_labels(labels, _ct_like(labels))
    assert result.levels == {19: "T12", 20: "L1", 21: "L2"}
    assert result.convention == "verse" and "detected" in result.detection
    assert result.labels_in_order() == [19, 20, 21]


def test_explicit_convention_is_used():
    labels = stacked_labels([32, 31, 30])
    result = load_vertebra_labels(labels, _ct_like(labels), convention="totalseg_v2")
    assert result.levels == {32: "T12", 31: "L1", 30: "L2"}


def test_label_map_stored_in_another_orientation_is_placed_losslessly():
    labels = stacked_labels([19, 20])
    ct = _ct_like(labels)
    result = load_vertebra_labels(labels.reoriented("PIR"), ct)
    np.testing.assert_array_equal(result.volume.array, labels.array)


def test_other_grid_is_refused_with_the_fix():
    labels = stacked_labels([19, 20])
    ct = stacked_labels([19, 20], spacing_mm=(2.0, 2.0, 2.0))
    with pytest.raises(InputError, match=r"differs from the CT's .* pass --resample-labels"):
        load_vertebra_labels(labels, ct)


def test_other_grid_is_resampled_on_request():
    labels = stacked_labels([19, 20], spacing_mm=(1.0, 1.0, 1.0))
    affine = labels.affine.copy()
    affine[:3, :3] *= 2.0
    coarse_shape = tuple(n // 2 for n in labels.shape)
    ct = Volume(np.zeros(coarse_shape, dtype=np.int16), affine)
    result = load_vertebra_labels(labels, ct, resample=True)
    assert result.volume.shape == ct.shape
    assert set(np.unique(result.volume.array)) == {0, 19, 20}


def test_non_integer_labels_are_refused():
    labels = stacked_labels([19, 20])
    floating = labels.with_array(labels.array.astype(np.float32) * 0.5)
    with pytest.raises(InputError, match=r"non-integer values \(e\.g\. 9\.5\)"):
        load_vertebra_labels(floating, _ct_like(labels))


def test_integral_float_labels_are_accepted():
    labels = stacked_labels([19, 20])
    floating = labels.with_array(labels.array.astype(np.float32))
    assert load_vertebra_labels(floating, _ct_like(labels)).levels == {19: "T12", 20: "L1"}


def test_empty_label_map_is_refused():
    labels = stacked_labels([19])
    empty = labels.with_array(np.zeros(labels.shape, dtype=np.uint8))
    with pytest.raises(InputError, match=r"is empty \(every voxel is 0\)"):
        load_vertebra_labels(empty, _ct_like(labels))


def test_negative_labels_are_refused():
    labels = stacked_labels([19])
    signed = labels.with_array(labels.array.astype(np.int16) * -1)
    with pytest.raises(InputError, match="negative labels"):
        load_vertebra_labels(signed, _ct_like(labels))


def test_labels_that_match_no_convention_are_refused():
    labels = stacked_labels([19])
    odd = labels.with_array(np.where(labels.array > 0, 300, 0).astype(np.uint16))
    with pytest.raises(InputError, match="match no known convention"):
        load_vertebra_labels(odd, _ct_like(labels))


def test_explicit_convention_without_vertebrae_is_refused():
    labels = stacked_labels([5, 6])  # organs in TotalSegmentator numbering
    with pytest.raises(InputError, match="hold no vertebra in totalseg_v2 numbering"):
        load_vertebra_labels(labels, _ct_like(labels), convention="totalseg_v2")


def test_folder_of_per_level_files_is_combined(tmp_path):
    labels = stacked_labels([19, 20])
    for level, value in (("T12", 19), ("L1", 20)):
        mask = labels.with_array((labels.array == value).astype(np.uint8))
        write_volume(mask, tmp_path / f"vertebrae_{level}.nii.gz")
    write_volume(labels.with_array(np.zeros(labels.shape, np.uint8)), tmp_path / "liver.nii.gz")
    result = load_vertebra_labels(tmp_path, _ct_like(labels))
    assert result.convention == "totalseg_folder"
    assert result.levels == {19: "T12", 20: "L1"}
    np.testing.assert_array_equal(result.volume.array, labels.array)


def test_per_level_files_on_different_grids_are_refused(tmp_path):
    labels = stacked_labels([19, 20])
    write_volume(
        labels.with_array((labels.array == 19).astype(np.uint8)), tmp_path / "vertebrae_T12.nii.gz"
    )
    other = stacked_labels([20], spacing_mm=(2.0, 2.0, 2.0))
    write_volume(
        other.with_array((other.array == 20).astype(np.uint8)), tmp_path / "vertebrae_L1.nii.gz"
    )
    with pytest.raises(InputError, match="all per-level files must share one grid"):
        load_vertebra_labels(tmp_path, _ct_like(labels))
