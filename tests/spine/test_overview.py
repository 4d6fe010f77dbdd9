"""The overview picture: which reformat is used, where the height points are drawn, orientation."""

import matplotlib.image
import numpy as np
import pytest
from scipy import ndimage

from fracturelab.errors import InputError
from fracturelab.imaging import Volume
from fracturelab.spine import analyze
from fracturelab.spine.overview import render_overview, render_vertebra
from fracturelab.spine.report import SpineReport, VertebraResult
from fracturelab.spine.sagittal import plan_reformat, sample_reformat
from fracturelab.synth import make_spine_phantom

HEIGHTS = ("anterior", "middle", "posterior")
BEAD_RADIUS_MM = 2.5


def _angle_deg(u, v):
    cosine = np.dot(u, v) / (np.linalg.norm(u) * np.linalg.norm(v))
    return float(np.degrees(np.arccos(np.clip(cosine, -1.0, 1.0))))


def _phantom_report(levels, **kwargs):
    phantom = make_spine_phantom(levels=levels, spacing_mm=(1.5, 1.5, 1.5), **kwargs)
    return phantom, analyze(phantom.ct, phantom.vertebrae)


# --- which reformat -----------------------------------------------------------------------


@pytest.mark.parametrize("levels", ["L1-L2", "L2-L4"])
def test_short_crop_uses_an_oblique_plane_along_the_vertebrae(levels):
    phantom, report = _phantom_report(levels)
    reformat = plan_reformat(report)
    assert reformat.kind == "oblique", reformat.reason
    assert "too few" in reformat.reason
    # one plane: every row has the same direction, that of the phantom's own vertebrae
    assert np.allclose(reformat.superior, reformat.superior[0])
    truth_superior = np.mean([v["frame"]["superior"] for v in phantom.truth["vertebrae"]], axis=0)
    truth_anterior = np.mean([v["frame"]["anterior"] for v in phantom.truth["vertebrae"]], axis=0)
    assert _angle_deg(reformat.superior[0], truth_superior) < 8.0
    assert _angle_deg(reformat.anterior[0], truth_anterior) < 10.0
    # every vertebra's centre lies in the picture's mid-plane, within the slab
    for vertebra in phantom.truth["vertebrae"]:
        row, col = reformat.project(np.array([vertebra["body_center_mm"]]))[0]
        assert 0 <= row < reformat.shape[0] and 0 <= col < reformat.shape[1]
        side = (np.array(vertebra["body_center_mm"]) - reformat.points_mm[0]) @ reformat.right[0]
        assert abs(side) < 4.0


def test_long_curved_phantom_is_straightened_along_the_spine():
    phantom, report = _phantom_report("T8-L5", curvature=1.0)
    reformat = plan_reformat(report)
    assert reformat.kind == "straightened", reformat.reason
    # rows follow the curve: at each vertebra the row direction is its own superior axis
    for vertebra in phantom.truth["vertebrae"]:
        centre = np.array(vertebra["body_center_mm"])
        row = int(np.argmin(np.linalg.norm(reformat.points_mm - centre, axis=1)))
        assert np.linalg.norm(reformat.points_mm[row] - centre) < 4.0
        assert _angle_deg(reformat.superior[row], vertebra["frame"]["superior"]) < 10.0


def test_tight_bend_falls_back_instead_of_folding_the_picture():
    """Centres on a circle of 60 mm radius: the 80 mm posterior columns would cross."""
    report = _hand_built_report(_arc_vertebrae(radius_mm=60.0, step_rad=0.4))
    reformat = plan_reformat(report)
    assert reformat.kind == "oblique"
    assert "fold" in reformat.reason


# --- where the height points are drawn ----------------------------------------------------


def _arc_vertebrae(radius_mm, step_rad, n=5, heights=(24.0, 22.0, 25.0), depth_mm=30.0):
    """Vertebrae on a circle in the y-z plane, concave backwards (a lordosis), head first.

    Returns (centre, superior, anterior, six points) per vertebra, all LPS mm.
    """
    circle_centre = np.array([0.0, radius_mm - 50.0, 0.0])
    vertebrae = []
    for k in range(n):
        theta = (n // 2 - k) * step_rad
        anterior = np.array([0.0, -np.cos(theta), np.sin(theta)])
        superior = np.array([0.0, np.sin(theta), np.cos(theta)])
        centre = circle_centre + radius_mm * anterior
        points = {}
        for key, height, reach in zip(HEIGHTS, heights, (0.5, 0.0, -0.5), strict=True):
            base = centre + reach * depth_mm * anterior
            points[key] = [base + height / 2 * superior, base - height / 2 * superior]
        vertebrae.append((centre, superior, anterior, points))
    return vertebrae


def _hand_built_report(vertebrae, with_points=True):
    results = []
    for k, (centre, superior, anterior, points) in enumerate(vertebrae):
        result = VertebraResult(
            level=["T12", "L1", "L2", "L3", "L4"][k],
            label=20 + k,
            status="graded",
            centroid_mm=list(centre),
            volume_mm3=30000.0,
            heights_mm={"anterior": 24.0, "middle": 22.0, "posterior": 25.0},
            height_loss_pct=4.0,
            genant_grade=0,
            morphology="normal",
            body_center_mm=list(centre),
            superior_axis=list(superior),
            anterior_axis=list(anterior),
        )
        if with_points:
            result.measurement_points_mm = {
                key: [list(map(float, p)) for p in pair] for key, pair in points.items()
            }
        results.append(result)
    return SpineReport(results, "verse", "test")


def _bead_ct(vertebrae, extent_mm):
    """A black CT (1 mm voxels) with a bright bead at every measurement point."""
    (x0, x1), (y0, y1), (z0, z1) = extent_mm
    shape = (int(x1 - x0) + 1, int(y1 - y0) + 1, int(z1 - z0) + 1)
    affine = np.diag([1.0, 1.0, 1.0, 1.0])
    affine[:3, 3] = (x0, y0, z0)
    ii, jj, kk = np.meshgrid(*[np.arange(n) for n in shape], indexing="ij")
    world = np.stack([ii + x0, jj + y0, kk + z0], axis=-1)
    array = np.full(shape, -1000.0, dtype=np.float32)
    for _, _, _, points in vertebrae:
        for pair in points.values():
            for point in pair:
                inside = np.linalg.norm(world - point, axis=-1) <= BEAD_RADIUS_MM
                array[inside] = 1500.0
    labels = Volume(np.zeros(shape, dtype=np.uint8), affine)
    return Volume(array, affine), labels


def _clusters(mask, min_pixels=4, max_pixels=5000):
    """Centroids (row, col) of the connected blobs of a mask within a size range."""
    components, n = ndimage.label(mask)
    centres = ndimage.center_of_mass(mask, components, range(1, n + 1))
    sizes = ndimage.sum(mask, components, range(1, n + 1))
    return [
        np.array(c) for c, s in zip(centres, sizes, strict=True) if min_pixels <= s <= max_pixels
    ]


def _magenta(image):
    return (image[..., 0] > 0.6) & (image[..., 2] > 0.6) & (image[..., 1] < 0.35)


def _assert_markers_on_beads(with_points_png, without_points_png, expected_markers):
    """Each drawn ring is centred on a bead of the CT (found in the picture without rings)."""
    marked = matplotlib.image.imread(with_points_png)[..., :3]
    plain = matplotlib.image.imread(without_points_png)[..., :3]
    assert not _magenta(plain).any()
    rings = _clusters(_magenta(marked))
    assert len(rings) == expected_markers
    beads = np.array(_clusters(plain.min(axis=-1) > 0.7, min_pixels=2))
    for ring in rings:
        distance = np.linalg.norm(beads - ring, axis=1).min()
        assert distance <= 2.0, f"the marker at pixel {ring} is {distance:.1f} px off its bead"


def test_height_points_drawn_on_the_right_pixels_of_an_oblique_plane(tmp_path):
    vertebrae = _arc_vertebrae(radius_mm=1e6, step_rad=38.0 / 1e6, n=2)
    tilt = np.radians(15.0)  # the pair leans forwards: the plane is oblique, not sagittal
    rotation = np.array(
        [[1, 0, 0], [0, np.cos(tilt), -np.sin(tilt)], [0, np.sin(tilt), np.cos(tilt)]]
    )
    vertebrae = [
        (
            rotation @ c,
            rotation @ s,
            rotation @ a,
            {k: [rotation @ p for p in pair] for k, pair in points.items()},
        )
        for c, s, a, points in vertebrae
    ]
    ct, labels = _bead_ct(vertebrae, ((-8, 8), (-85, -10), (-45, 55)))
    report = _hand_built_report(vertebrae)
    assert plan_reformat(report).kind == "oblique"
    render_overview(ct, labels, report, tmp_path / "marked.png")
    render_overview(ct, labels, _hand_built_report(vertebrae, False), tmp_path / "plain.png")
    _assert_markers_on_beads(tmp_path / "marked.png", tmp_path / "plain.png", 12)


def test_height_points_drawn_on_the_right_pixels_of_a_straightened_curve(tmp_path):
    vertebrae = _arc_vertebrae(radius_mm=250.0, step_rad=0.13)
    ct, labels = _bead_ct(vertebrae, ((-8, 8), (-80, -10), (-140, 140)))
    report = _hand_built_report(vertebrae)
    assert plan_reformat(report).kind == "straightened"
    render_overview(ct, labels, report, tmp_path / "marked.png")
    render_overview(ct, labels, _hand_built_report(vertebrae, False), tmp_path / "plain.png")
    _assert_markers_on_beads(tmp_path / "marked.png", tmp_path / "plain.png", 30)


def test_single_vertebra_picture_marks_its_six_points(tmp_path):
    vertebrae = _arc_vertebrae(radius_mm=250.0, step_rad=0.13)
    ct, labels = _bead_ct(vertebrae, ((-8, 8), (-80, -10), (-140, 140)))
    marked = _hand_built_report(vertebrae).vertebrae[2]
    plain = _hand_built_report(vertebrae, False).vertebrae[2]
    render_vertebra(ct, labels, marked, tmp_path / "marked.png", half_size_mm=22.0)
    render_vertebra(ct, labels, plain, tmp_path / "plain.png", half_size_mm=22.0)
    _assert_markers_on_beads(tmp_path / "marked.png", tmp_path / "plain.png", 6)


def test_vertebrae_without_points_or_with_broken_points_are_drawn_without_markers(tmp_path):
    vertebrae = _arc_vertebrae(radius_mm=250.0, step_rad=0.13, n=2)
    ct, labels = _bead_ct(vertebrae, ((-8, 8), (-80, -10), (-50, 50)))
    report = _hand_built_report(vertebrae)
    report.vertebrae[0].measurement_points_mm = None
    report.vertebrae[1].measurement_points_mm = {"anterior": [[0.0, float("nan"), 0.0]]}
    png = render_overview(ct, labels, report, tmp_path / "o.png")
    assert not _magenta(matplotlib.image.imread(png)[..., :3]).any()


# --- orientation ----------------------------------------------------------------------------


def test_same_scan_stored_lps_or_pir_gives_the_same_picture():
    pictures = []
    for orientation in ("LPS", "PIR"):
        phantom, report = _phantom_report("T11-L3", orientation=orientation)
        reformat = plan_reformat(report)
        image, label_image = sample_reformat(phantom.ct, phantom.vertebrae, reformat)
        pictures.append((reformat, image, label_image, report))
    (a, image_a, labels_a, report_a), (b, image_b, labels_b, report_b) = pictures
    assert a.kind == b.kind and a.shape == b.shape
    assert np.abs(a.points_mm - b.points_mm).max() < a.step_mm  # within a pixel
    assert np.mean(labels_a == labels_b) > 0.99
    assert np.median(np.abs(image_a - image_b)) < 40.0  # HU; the noise differs, not the anatomy
    for va, vb in zip(report_a.vertebrae, report_b.vertebrae, strict=True):
        points_a = getattr(va, "measurement_points_mm", None)
        points_b = getattr(vb, "measurement_points_mm", None)
        if points_a and points_b:
            for key in HEIGHTS:
                pixels = a.project(np.array(points_a[key])) - b.project(np.array(points_b[key]))
                assert np.abs(pixels).max() <= 1.0


# --- real small crops (../shared/data) ------------------------------------------------------


def test_tptbox_crop_is_drawn_on_one_upright_plane_not_a_fan(shared_data):
    folder = shared_data / "ct-tptbox-sample"
    report = analyze(
        folder / "sub-ct_label-22_ct.nii.gz", folder / "sub-ct_seg-vert_label-22_msk.nii.gz"
    )
    reformat = plan_reformat(report)
    assert reformat.kind == "oblique"
    assert np.allclose(reformat.superior, reformat.superior[0])
    assert _angle_deg(reformat.superior[0], report["L3"].superior_axis) < 10.0


def test_twenty_slice_dicom_series_is_not_tilted(shared_data):
    folder = shared_data / "ct-totalsegmentator-example"
    report = analyze(folder / "dicom", folder / "dicom_totalseg_total.nii.gz")
    reformat = plan_reformat(report)
    assert reformat.kind == "oblique"
    # an axial series of a supine patient: the spine runs head-foot, not at 45 degrees
    assert _angle_deg(reformat.superior[0], [0.0, 0.0, 1.0]) < 15.0


def test_a_report_without_vertebrae_is_refused_with_a_clear_message():
    with pytest.raises(InputError, match="no vertebrae"):
        plan_reformat(SpineReport([], "verse", "test"))
