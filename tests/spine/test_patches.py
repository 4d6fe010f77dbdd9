"""Per-vertebra patches in the anatomical frame (fracturelab.spine.patches)."""

import numpy as np
import pytest

from fracturelab.errors import InputError
from fracturelab.spine import analyze
from fracturelab.spine.patches import CHANNELS, PatchSpec, extract_patches
from fracturelab.synth import make_spine_phantom

# T12 has only a neighbour below, L1 a wedge fracture (grade 2), L2 is normal.
LEVELS = "T12-L2"
FRACTURES = "L1:2:wedge"
SPEC = PatchSpec(size_mm=(64.0, 64.0, 64.0), spacing_mm=1.0)


@pytest.fixture(scope="module")
def phantom():
    return make_spine_phantom(levels=LEVELS, fractures=FRACTURES, seed=3)


@pytest.fixture(scope="module")
def patches(phantom):
    return extract_patches(phantom.ct, phantom.vertebrae, SPEC)


def _truth(phantom, level):
    return next(v for v in phantom.truth["vertebrae"] if v["level"] == level)


def _angles_deg(axes_a, axes_b):
    cosines = np.clip(np.sum(axes_a * axes_b, axis=1), -1.0, 1.0)
    return np.degrees(np.arccos(cosines))


def _dice(a, b):
    return 2.0 * float((a * b).sum()) / float(a.sum() + b.sum())


def test_spec_shape_and_grid():
    spec = PatchSpec(size_mm=(40.0, 50.0, 60.0), spacing_mm=2.0)
    assert spec.shape == (30, 25, 20)  # (superior, anterior, right)
    grid = spec.local_grid_mm()
    assert grid.shape == (30, 25, 20, 3)
    # centred: first and last sample of each axis are symmetric about 0 (r, a, s order)
    assert grid[0, 0, 0].tolist() == [-19.0, -24.0, -29.0]
    assert grid[-1, -1, -1].tolist() == [19.0, 24.0, 29.0]
    assert PatchSpec.from_dict(spec.to_dict()) == spec


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [
        ({"size_mm": (64.0, 64.0)}, "size_mm"),
        ({"size_mm": (64.0, -1.0, 64.0)}, "size_mm"),
        ({"size_mm": "big"}, "size_mm"),
        ({"spacing_mm": 0.0}, "spacing_mm"),
        ({"spacing_mm": float("nan")}, "spacing_mm"),
        ({"size_mm": (500.0, 64.0, 64.0), "spacing_mm": 0.5}, "size_mm/spacing_mm"),
        ({"window_hu": (1200.0, -200.0)}, "window_hu"),
        ({"ct_order": 2}, "ct_order"),
    ],
)
def test_spec_bad_values_one_line(kwargs, named):
    with pytest.raises(InputError) as caught:
        PatchSpec(**kwargs)
    message = str(caught.value)
    assert "\n" not in message
    assert named in message
    assert "give" in message or "allowed" in message or "choose" in message


def test_patch_channels_and_shape(patches):
    assert [p.level for p in patches] == ["T12", "L1", "L2"]
    for patch in patches:
        assert patch.array is not None
        assert patch.array.shape == (len(CHANNELS), 64, 64, 64)
        assert patch.array.dtype == np.float32
        assert patch.array.min() >= 0.0
        assert patch.array.max() <= 1.0
        centre = patch.array[1, 32, 32, 32]
        assert centre == 1.0  # the body centre lies inside the vertebra
        # the vertebra and its neighbours never overlap
        assert not np.any((patch.array[1] > 0) & (patch.array[2] > 0))
    l1 = patches[1]
    assert l1.status == "graded"
    assert l1.genant_grade == 2  # the phantom's known grade, carried from the morphometry
    assert l1.morphology == "wedge"
    assert l1.height_loss_pct is not None


def test_patch_frame_matches_the_phantom_truth(phantom, patches):
    """Centre and axes against the phantom's own frame (not the morphometry's code)."""
    for patch in patches:
        truth = _truth(phantom, patch.level)
        frame = truth["frame"]
        expected = np.array([frame["superior"], frame["anterior"], frame["right"]])
        # body_center_mm: the truth's body centre; the morphometry finds it within 1.5 mm
        assert np.linalg.norm(patch.center_mm - np.array(truth["body_center_mm"])) < 1.5
        assert np.all(_angles_deg(patch.axes, expected) < 3.0)
        # right = anterior x superior, the patient's right (LPS -x)
        assert np.allclose(np.cross(patch.axes[1], patch.axes[0]), patch.axes[2], atol=1e-9)
        assert patch.axes[2][0] < -0.9


def test_patch_axes_point_where_documented(patches):
    """D runs superior, H anterior: posterior elements lie at low H, T12's neighbour below."""
    for patch in patches:
        mask = patch.array[1]
        posterior = mask[:, :12, :].sum()  # more than 20 mm behind the body centre
        anterior = mask[:, -12:, :].sum()  # more than 20 mm in front of it
        assert posterior > 20 * max(anterior, 1.0)
    t12 = patches[0]  # only L1 below it
    below = t12.array[2][:32].sum()
    above = t12.array[2][32:].sum()
    assert below > 0
    assert above == 0
    sagittal = t12.sagittal(2)  # head up: the neighbour below is in the lower rows
    assert sagittal.shape == (64, 64)
    assert sagittal[:32].sum() == 0
    assert sagittal[32:].sum() > 0
    body = t12.sagittal(1)  # anterior to the left: the columns run from front to back
    assert np.array_equal(body, t12.array[1, ::-1, ::-1, 32])


def test_ct_channel_is_the_windowed_ct_at_the_patch_points(phantom, patches):
    """Independent check of the index bookkeeping: map each point through world_to_index."""
    from scipy import ndimage

    patch = patches[1]
    local = SPEC.local_grid_mm()  # (D, H, W, 3) in (r, a, s)
    right, anterior, superior = patch.axes[2], patch.axes[1], patch.axes[0]
    world = patch.center_mm + local @ np.stack([right, anterior, superior])
    index = phantom.ct.world_to_index(world.reshape(-1, 3))
    hu = ndimage.map_coordinates(phantom.ct.array.astype(np.float32), index.T, order=1)
    expected = np.clip((hu + 200.0) / 1400.0, 0.0, 1.0).reshape(SPEC.shape)
    assert np.abs(patch.array[0] - expected).max() < 1e-5


@pytest.mark.parametrize("orientation", ["RAS", "PIR"])
def test_same_patch_in_any_storage_orientation(patches, orientation):
    """RAS and PIR store the same voxels at the same world points (a lossless reorientation):
    the label map's voxel set, hence the morphometry frame, is identical, and every sample
    interpolates the same neighbours, so patches agree to float32 rounding (1e-5)."""
    stored = make_spine_phantom(levels=LEVELS, fractures=FRACTURES, seed=3, orientation=orientation)
    assert stored.ct.orientation == orientation
    other = extract_patches(stored.ct, stored.vertebrae, SPEC)
    for a, b in zip(patches, other, strict=True):
        assert a.level == b.level
        assert np.allclose(a.axes, b.axes, atol=1e-6)
        assert np.abs(a.array - b.array).max() < 1e-5


def test_same_patch_at_another_spacing():
    """The same anatomy scanned at 0.8 x 0.9 x 1.5 mm against 1 mm (noise off, so that only
    geometry differs). Tolerances: the label map moves each surface by up to half a voxel
    (0.75 mm along 1.5 mm), so the morphometry's frame turns by up to ~2 degrees and its
    centre moves by under 1 mm; a 2-degree turn moves a point 32 mm from the centre by
    1.1 mm. Masks therefore agree to Dice >= 0.9 (a 1 mm shell of a ~30 mm body is ~10 %),
    and the windowed CT differs on average by under 0.03 (edges of bone move, the rest is
    the same value)."""
    fine = make_spine_phantom(levels=LEVELS, fractures=FRACTURES, seed=3, noise_hu=0.0)
    coarse = make_spine_phantom(
        levels=LEVELS, fractures=FRACTURES, seed=3, noise_hu=0.0, spacing_mm=(0.8, 0.9, 1.5)
    )
    a_patches = extract_patches(fine.ct, fine.vertebrae, SPEC)
    b_patches = extract_patches(coarse.ct, coarse.vertebrae, SPEC)
    for a, b in zip(a_patches, b_patches, strict=True):
        assert np.all(_angles_deg(a.axes, b.axes) < 2.0)
        assert np.linalg.norm(a.center_mm - b.center_mm) < 1.0
        assert _dice(a.array[1], b.array[1]) >= 0.9
        assert _dice(a.array[2], b.array[2]) >= 0.85
        assert np.abs(a.array[0] - b.array[0]).mean() < 0.03
        # the disc and soft tissue well inside the body read the same
        assert abs(a.array[0, 32, 32, 32] - b.array[0, 32, 32, 32]) < 0.05


def test_a_vertebra_without_a_frame_is_kept_with_its_reason():
    lone = make_spine_phantom(levels="L1", seed=1)
    result = extract_patches(lone.ct, lone.vertebrae, SPEC)
    assert len(result) == 1
    assert result[0].array is None
    assert result[0].status == "incomplete"
    assert "no anatomical frame" in result[0].reason
    assert "neighbouring vertebra" in result[0].reason
    with pytest.raises(InputError, match="has no patch"):
        result[0].sagittal()


def test_outside_the_scan_reads_as_air(phantom):
    spec = PatchSpec(size_mm=(64.0, 64.0, 400.0), spacing_mm=4.0)
    report = analyze(phantom.ct, phantom.vertebrae)
    top = extract_patches(phantom.ct, phantom.vertebrae, spec, report=report)[0]
    # 200 mm above T12's centre lies outside a scan that ends 20 mm above T12
    assert np.all(top.array[:, -5:] == 0.0)
    assert top.array[0, 50].max() > 0.5  # bone at the centre


def test_a_report_of_another_label_map_is_refused(phantom):
    other = make_spine_phantom(levels="L3-L4", seed=2)
    report = analyze(other.ct, other.vertebrae)
    with pytest.raises(InputError) as caught:
        extract_patches(phantom.ct, phantom.vertebrae, SPEC, report=report)
    message = str(caught.value)
    assert "\n" not in message
    assert "L3" in message
    assert "not in the label map" in message
