"""Area resizing without torch, and the LPS <-> RAS flip."""

import numpy as np
import pytest

from fracturelab.imaging.orientation import lps_to_ras, ras_to_lps
from fracturelab.imaging.resize import resize_area


def test_halving_averages_each_two_by_two_block():
    image = np.arange(16, dtype=np.float32).reshape(4, 4)
    expected = [[2.5, 4.5], [10.5, 12.5]]  # means of [[0, 1], [4, 5]], [[2, 3], [6, 7]], ...
    np.testing.assert_array_equal(resize_area(image, 2, 2), expected)


def test_uneven_shrink_uses_overlapping_windows():
    # 5 -> 2 columns: windows [0, 3) and [2, 5), as adaptive average pooling takes them
    image = np.array([[0.0, 1.0, 2.0, 3.0, 4.0]])
    np.testing.assert_allclose(resize_area(image, 1, 2), [[1.0, 3.0]])


def test_result_is_float32_and_same_shape_is_returned_as_is():
    image = np.ones((3, 2), dtype=np.uint16)
    assert resize_area(image, 3, 2).dtype == np.float32
    assert resize_area(image, 2, 1).dtype == np.float32


def test_agrees_with_torch_area_interpolation_to_rounding():
    torch = pytest.importorskip("torch")
    image = np.random.default_rng(0).random((37, 101), dtype=np.float32)
    ours = resize_area(image, 11, 29)
    theirs = torch.nn.functional.interpolate(
        torch.from_numpy(image)[None, None], size=(11, 29), mode="area"
    )[0, 0].numpy()
    np.testing.assert_allclose(ours, theirs, atol=1e-6)


@pytest.mark.parametrize("shape, size", [((0, 3), (1, 1)), ((2, 2, 2), (1, 1)), ((2, 2), (0, 1))])
def test_bad_shapes_are_refused(shape, size):
    with pytest.raises(ValueError, match="resize_area needs"):
        resize_area(np.zeros(shape), *size)


def test_lps_to_ras_negates_x_and_y():
    np.testing.assert_array_equal(lps_to_ras([1.0, -2.0, 3.0]), [-1.0, 2.0, 3.0])
    points = np.array([[1.0, 2.0, 3.0], [-4.0, 5.0, -6.0]])
    np.testing.assert_array_equal(ras_to_lps(lps_to_ras(points)), points)
    with pytest.raises(ValueError, match="3 coordinates"):
        lps_to_ras([1.0, 2.0])
