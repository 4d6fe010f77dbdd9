import numpy as np
import pytest

from fracturelab.errors import InputError
from fracturelab.imaging import Radiograph


def test_stores_float32_rows_by_columns():
    radiograph = Radiograph(np.zeros((3, 5), dtype=np.uint16), (0.2, 0.1), "a.png", "file")
    assert radiograph.array.dtype == np.float32
    assert radiograph.shape == (3, 5)
    assert (radiograph.height_px, radiograph.width_px) == (3, 5)
    assert radiograph.spacing_xy_mm == (0.2, 0.1)
    assert radiograph.spacing_source == "file"
    assert radiograph.path is not None and radiograph.path.name == "a.png"


def test_to_mm_scales_x_by_column_spacing_and_y_by_row_spacing():
    radiograph = Radiograph(np.zeros((4, 4)), spacing_xy_mm=(0.5, 2.0))
    assert radiograph.to_mm([10, 3]) == (5.0, 6.0)


def test_to_mm_is_none_without_spacing():
    radiograph = Radiograph(np.zeros((4, 4)), spacing_source="PixelSpacing")
    assert radiograph.to_mm([1, 1]) is None
    assert radiograph.spacing_source is None  # no spacing, no source


def test_with_spacing_keeps_pixels_and_replaces_spacing():
    radiograph = Radiograph(np.arange(6.0).reshape(2, 3), (1.0, 1.0), "x.dcm", "PixelSpacing")
    other = radiograph.with_spacing((0.3, 0.4), "manifest")
    np.testing.assert_array_equal(other.array, radiograph.array)
    assert other.spacing_xy_mm == (0.3, 0.4)
    assert other.spacing_source == "manifest"
    assert other.path == radiograph.path


def test_repr_gives_width_by_height_and_spacing():
    radiograph = Radiograph(np.zeros((3, 5)), (0.2, 0.1), "dir/a.png")
    assert repr(radiograph) == "Radiograph(a.png, 5 x 3 px, spacing 0.2 x 0.1 mm)"


def test_three_dimensional_array_is_refused():
    with pytest.raises(
        InputError, match=r"a\.dcm: a radiograph must be a 2D grey image.*\(2, 3, 4\)"
    ):
        Radiograph(np.zeros((2, 3, 4)), path="a.dcm")


def test_single_row_is_refused():
    with pytest.raises(InputError, match="holds no picture"):
        Radiograph(np.zeros((1, 30)))


@pytest.mark.parametrize(
    "spacing", [(0.1,), (0.1, 0.2, 0.3), (0.1, -1.0), (0.0, 0.1), (np.nan, 1.0)]
)
def test_bad_spacing_is_refused(spacing):
    with pytest.raises(InputError, match=r"b\.png: spacing_xy_mm=.* is not valid"):
        Radiograph(np.zeros((3, 3)), spacing, path="b.png")


@pytest.mark.parametrize("spacing", [0.1, "ab", ("x", 1.0)])
def test_spacing_that_is_not_two_numbers_is_an_input_error(spacing):
    with pytest.raises(InputError, match="is not valid"):
        Radiograph(np.zeros((3, 3)), spacing)
