import numpy as np
import pytest

from fracturelab.errors import InputError
from fracturelab.imaging import Volume


def _volume(shape=(4, 5, 6), spacing=(0.5, 0.8, 2.0), origin=(10.0, -20.0, 30.0)):
    affine = np.eye(4)
    affine[:3, :3] = np.diag(spacing)
    affine[:3, 3] = origin
    array = np.arange(np.prod(shape), dtype=np.int16).reshape(shape)
    return Volume(array, affine)


def test_geometry_is_derived_from_the_affine():
    volume = _volume()
    np.testing.assert_allclose(volume.spacing_mm, [0.5, 0.8, 2.0])
    np.testing.assert_allclose(volume.origin_mm, [10.0, -20.0, 30.0])
    assert volume.orientation == "LPS"
    assert volume.voxel_volume_mm3 == pytest.approx(0.8)
    np.testing.assert_allclose(volume.index_to_world([1, 2, 3]), [10.5, -18.4, 36.0])


def test_world_to_index_inverts_index_to_world():
    volume = _volume().reoriented("PIR")
    points = np.array([[0.3, 1.7, 2.2], [3.0, 0.0, 4.5]])
    np.testing.assert_allclose(volume.world_to_index(volume.index_to_world(points)), points)


def test_ras_affine_reads_as_ras():
    affine = np.diag([-1.0, -1.0, 1.0, 1.0])
    assert Volume(np.zeros((2, 2, 2)), affine).orientation == "RAS"


@pytest.mark.parametrize("code", ["RAS", "PIR", "ASL", "LPS"])
def test_reorienting_keeps_every_voxel_at_its_world_position(code):
    volume = _volume()
    moved = volume.reoriented(code)
    assert moved.orientation == code
    assert sorted(moved.shape) == sorted(volume.shape)
    for ijk in [(0, 0, 0), (3, 4, 5), (1, 2, 3)]:
        world = volume.index_to_world(ijk)
        there = np.round(moved.world_to_index(world)).astype(int)
        assert moved.array[tuple(there)] == volume.array[ijk]


def test_on_grid_of_accepts_another_storage_orientation_of_the_same_grid():
    volume = _volume()
    placed = volume.reoriented("RAS").on_grid_of(volume)
    assert placed is not None
    np.testing.assert_array_equal(placed.array, volume.array)


def test_on_grid_of_refuses_another_spacing():
    assert _volume(spacing=(1.0, 1.0, 1.0)).on_grid_of(_volume()) is None


def test_two_dimensional_array_is_refused():
    with pytest.raises(InputError, match="must be 3D"):
        Volume(np.zeros((3, 3)), np.eye(4))


def test_bad_affine_shape_is_refused():
    with pytest.raises(InputError, match=r"shape \(4, 4\)"):
        Volume(np.zeros((2, 2, 2)), np.eye(3))


def test_zero_spacing_is_refused():
    with pytest.raises(InputError, match="spacing"):
        Volume(np.zeros((2, 2, 2)), np.diag([1.0, 0.0, 1.0, 1.0]))


def test_sheared_affine_is_refused():
    affine = np.eye(4)
    affine[0, 1] = 0.5
    with pytest.raises(InputError, match="non-orthogonal"):
        Volume(np.zeros((2, 2, 2)), affine)


@pytest.mark.parametrize("code", ["XYZ", "LLS", "RA"])
def test_bad_orientation_code_is_refused(code):
    with pytest.raises(InputError, match="one letter from each"):
        _volume().reoriented(code)
