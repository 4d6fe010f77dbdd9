"""Tests of the spine phantom against independently known ground truth."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy import ndimage

from fracturelab.errors import InputError
from fracturelab.imaging import Volume, read_volume
from fracturelab.synth import FractureSpec, SpinePhantom, make_spine_phantom

FRACTURES = "T12:2:wedge,L1:3:crush,L2:2:biconcave"


@pytest.fixture(scope="module")
def phantom() -> SpinePhantom:
    """T11-L2 at 1 mm: one normal vertebra and one of each fracture kind."""
    return make_spine_phantom(levels="T11-L2", fractures=FRACTURES, spacing_mm=(1.0, 1.0, 1.0))


def entries(phantom: SpinePhantom) -> dict[str, dict[str, Any]]:
    return {entry["level"]: entry for entry in phantom.truth["vertebrae"]}


def sample(labels: Volume, points_mm: np.ndarray) -> np.ndarray:
    """Label at the voxel nearest to each LPS point (0 outside the grid)."""
    index = np.rint(labels.world_to_index(points_mm)).astype(int)
    inside = np.all((index >= 0) & (index < np.array(labels.shape)), axis=-1)
    values = np.zeros(len(index), dtype=labels.array.dtype)
    i, j, k = index[inside].T
    values[inside] = labels.array[i, j, k]
    return values


def measured_height(labels: Volume, entry: dict[str, Any], a_fraction: float) -> float:
    """Brute force: length of the run of the vertebra's label along s through (0, a, 0)."""
    step = 0.02
    center = np.array(entry["body_center_mm"])
    anterior = np.array(entry["frame"]["anterior"])
    superior = np.array(entry["frame"]["superior"])
    start = center + a_fraction * entry["semi_depth_mm"] * anterior
    t = np.arange(-entry["nominal_height_mm"], entry["nominal_height_mm"] + step / 2, step)
    on = sample(labels, start + t[:, None] * superior) == entry["label"]
    middle = len(t) // 2
    assert on[middle], f"{entry['level']}: no label at the body centre line"
    low = middle - int(np.argmin(on[middle::-1])) + 1 if not on[: middle + 1].all() else 0
    high = middle + int(np.argmin(on[middle:])) - 1 if not on[middle:].all() else len(t) - 1
    return float(t[high] - t[low])


# ---------------------------------------------------------------------------- labels and truth
def test_label_map_holds_exactly_the_requested_levels(phantom: SpinePhantom) -> None:
    assert sorted(np.unique(phantom.vertebrae.array).tolist()) == [0, 18, 19, 20, 21]
    assert [e["level"] for e in phantom.truth["vertebrae"]] == ["T11", "T12", "L1", "L2"]
    assert [e["label"] for e in phantom.truth["vertebrae"]] == [18, 19, 20, 21]
    assert phantom.ct.array.dtype == np.int16
    assert phantom.ct.same_grid(phantom.vertebrae)


@pytest.mark.parametrize("spacing", [(1.0, 1.0, 1.0), (0.8, 0.8, 3.0)])
def test_middle_heights_measured_on_the_label_map_match_the_truth(
    phantom: SpinePhantom, spacing: tuple[float, float, float]
) -> None:
    built = (
        phantom
        if spacing == (1.0, 1.0, 1.0)
        else make_spine_phantom(
            levels="T11-L2", fractures=FRACTURES, spacing_mm=spacing, noise_hu=0.0
        )
    )
    tolerance = max(spacing)
    for entry in built.truth["vertebrae"]:
        measured = measured_height(built.vertebrae, entry, 0.0)
        expected = entry["heights_mm"]["middle"]
        assert measured == pytest.approx(expected, abs=tolerance), entry["level"]


def test_truth_of_each_fracture_kind(phantom: SpinePhantom) -> None:
    truth = entries(phantom)
    normal, wedge, crush, dish = truth["T11"], truth["T12"], truth["L1"], truth["L2"]
    # Nominal heights: T1 16 rising linearly to T12 23; L1 25 rising to L5 27.
    assert normal["nominal_height_mm"] == pytest.approx(16 + 7 * 10 / 11)
    assert wedge["nominal_height_mm"] == pytest.approx(23.0)
    assert crush["nominal_height_mm"] == pytest.approx(25.0)
    assert dish["nominal_height_mm"] == pytest.approx(25.5)

    def dips(entry: dict[str, Any]) -> float:
        return float(sum(entry["shape"]["endplate_depression_mm"].values()))

    # A normal T11 is mildly wedged (physiological) and its endplates dip in the middle.
    heights = normal["heights_mm"]
    ratio = normal["shape"]["physiological_wedge_ratio"]
    assert 0.85 <= ratio <= 0.95
    assert heights["posterior"] == pytest.approx(16 + 7 * 10 / 11)
    assert heights["anterior"] == pytest.approx(ratio * heights["posterior"])
    assert heights["middle"] == pytest.approx((1 + ratio) / 2 * heights["posterior"] - dips(normal))
    expected_loss = 100 * max(1 - ratio, 1 - heights["middle"] / heights["posterior"])
    assert normal["height_loss_pct"] == pytest.approx(expected_loss, abs=1e-4)
    assert (normal["kind"], normal["genant_grade"], normal["morphology"]) == ("normal", 0, "normal")

    # Wedge: the plane through the walls loses 32.5 % anteriorly.
    heights = wedge["heights_mm"]
    assert heights["posterior"] == pytest.approx(23.0)
    assert heights["anterior"] == pytest.approx(23.0 * (1 - 0.325))
    assert heights["middle"] == pytest.approx(23.0 * (1 - 0.325 / 2) - dips(wedge))
    assert (wedge["kind"], wedge["height_loss_pct"], wedge["genant_grade"]) == ("wedge", 32.5, 2)
    assert wedge["morphology"] == "wedge"

    heights = crush["heights_mm"]
    assert heights["anterior"] == heights["posterior"] == pytest.approx(12.5)
    assert heights["middle"] == pytest.approx(12.5 - dips(crush))
    assert (crush["kind"], crush["height_loss_pct"], crush["genant_grade"]) == ("crush", 50, 3)

    heights = dish["heights_mm"]
    assert heights["anterior"] == pytest.approx(heights["posterior"])
    assert heights["middle"] / heights["posterior"] == pytest.approx(1 - 0.325)
    assert dips(dish) == 0.0  # the fracture's dish replaces the physiological depression
    reaches = dish["shape"]["dish_reaches_walls"]
    assert (heights["posterior"] < 25.5 - 0.01) == reaches
    assert (dish["kind"], dish["genant_grade"], dish["morphology"]) == ("biconcave", 2, "biconcave")


def test_deformity_below_twenty_percent_is_grade_0_with_normal_morphology() -> None:
    built = make_spine_phantom(
        levels="T12-L1", fractures="T12:15%:wedge,L1:0:crush", spacing_mm=(3.0, 3.0, 3.0)
    )
    truth = entries(built)
    assert (truth["T12"]["kind"], truth["T12"]["genant_grade"]) == ("wedge", 0)
    assert truth["T12"]["morphology"] == "normal"
    assert truth["T12"]["height_loss_pct"] == pytest.approx(15.0)
    # A 0 % crush is a normal L1: its loss is its physiological deformity, well below 20 %.
    assert (truth["L1"]["kind"], truth["L1"]["genant_grade"]) == ("normal", 0)
    assert truth["L1"]["height_loss_pct"] < 15.0 + 1e-6


def test_fracture_specs_can_be_given_as_objects() -> None:
    built = make_spine_phantom(
        levels=("L1",),
        fractures=(FractureSpec.from_grade("L1", 3, "wedge"),),
        spacing_mm=(3.0, 3.0, 3.0),
    )
    assert entries(built)["L1"]["height_loss_pct"] == pytest.approx(50.0)


def test_spinal_canal_is_a_hole_surrounded_by_the_vertebra(phantom: SpinePhantom) -> None:
    for entry in phantom.truth["vertebrae"]:
        center = np.array(entry["body_center_mm"])
        canal = np.array(entry["canal_center_mm"])
        right = np.array(entry["frame"]["right"])
        anterior = np.array(entry["frame"]["anterior"])
        superior = np.array(entry["frame"]["superior"])
        radius = entry["canal_radius_mm"]
        # Directly posterior to the body.
        offset = canal - center
        assert offset @ anterior < -entry["semi_depth_mm"]
        assert abs(offset @ right) < 1e-4 and abs(offset @ superior) < 1e-4
        # Empty inside, at several heights within the neural arch.
        for s in (-3.0, 0.0, 3.0):
            disk = [
                canal + s * superior + rho * (np.cos(t) * right + np.sin(t) * anterior)
                for rho in (0.0, 0.5 * radius, radius - 1.0)
                for t in np.linspace(0, 2 * np.pi, 12, endpoint=False)
            ]
            assert not sample(phantom.vertebrae, np.array(disk)).any(), entry["level"]
        # Surrounded by bone of the same vertebra in the r-a plane.
        angles = np.linspace(0, 2 * np.pi, 24, endpoint=False)
        around = [
            canal + (radius + 1.5) * (np.cos(t) * right + np.sin(t) * anterior) for t in angles
        ]
        assert (sample(phantom.vertebrae, np.array(around)) == entry["label"]).all(), entry["level"]


def test_ct_intensities(phantom: SpinePhantom) -> None:
    clean = make_spine_phantom(levels="T11-T12", spacing_mm=(1.0, 1.0, 1.0), noise_hu=0.0)
    truth = entries(clean)

    def hu(point: np.ndarray) -> int:
        index = np.rint(clean.ct.world_to_index(point)).astype(int)
        return int(clean.ct.array[tuple(index)])

    upper, lower = truth["T11"], truth["T12"]
    center = np.array(upper["body_center_mm"])
    anterior = np.array(upper["frame"]["anterior"])
    assert hu(center) == pytest.approx(upper["cancellous_hu"], abs=2)  # cancellous bone
    assert 100 <= upper["cancellous_hu"] <= 300  # drawn per phantom and vertebra
    assert hu(center + (upper["semi_depth_mm"] + 40) * anterior) == pytest.approx(40, abs=2)
    disc = 0.5 * (center + np.array(lower["body_center_mm"]))
    assert hu(disc) == pytest.approx(90, abs=5)
    assert sample(clean.vertebrae, disc[None])[0] == 0
    assert clean.ct.array[0, 0, 0] == -1000  # air outside the torso
    bone = clean.ct.array[clean.vertebrae.array > 0]
    assert bone.max() > 700  # cortical shell
    # Noise is added on top: same mean, spread about noise_hu in soft tissue.
    index = np.rint(phantom.ct.world_to_index(center + 60 * anterior)).astype(int)
    patch = phantom.ct.array[tuple(slice(i - 5, i + 5) for i in index)].astype(float)
    assert patch.mean() == pytest.approx(40, abs=3)
    assert 10 < patch.std() < 20  # 15 HU noise, slightly smoothed


# ---------------------------------------------------------------------------- geometry
def test_straight_spine_with_zero_curvature() -> None:
    built = make_spine_phantom(levels="T11-L1", curvature=0.0, spacing_mm=(3.0, 3.0, 3.0))
    records = built.truth["vertebrae"]
    centers = np.array([e["body_center_mm"] for e in records])
    assert np.allclose(centers[:, :2], centers[0, :2])
    for entry in records:
        assert np.allclose(entry["frame"]["superior"], [0, 0, 1])
        assert np.allclose(entry["frame"]["anterior"], [0, -1, 0])
        assert np.allclose(entry["frame"]["right"], [-1, 0, 0])
    # Stacked: half a body, the disc below (5 thoracic, 7 below T12), half the next body.
    gaps = -np.diff(centers[:, 2])
    t11, t12, l1 = (e["nominal_height_mm"] for e in records)
    assert gaps == pytest.approx([t11 / 2 + 5 + t12 / 2, t12 / 2 + 7 + l1 / 2])


def test_curve_has_kyphosis_lordosis_and_right_handed_frames() -> None:
    built = make_spine_phantom(levels="T1-L5", spacing_mm=(3.0, 3.0, 3.0), noise_hu=0.0)
    truth = entries(built)
    y = {level: truth[level]["body_center_mm"][1] for level in truth}
    assert y["T7"] > (y["T1"] + y["T12"]) / 2 + 5  # thoracic kyphosis: convex posterior (+y)
    assert y["L3"] < (y["L1"] + y["L5"]) / 2 - 3  # lumbar lordosis: convex anterior
    for entry in truth.values():
        r, a, s = (np.array(entry["frame"][k]) for k in ("right", "anterior", "superior"))
        assert np.allclose(np.cross(r, a), s, atol=1e-5)
        assert np.allclose(
            [r @ r, a @ a, s @ s, r @ a, r @ s, a @ s], [1, 1, 1, 0, 0, 0], atol=1e-5
        )
        assert a[1] < -0.9 and s[2] > 0.9
    assert all(entry["in_field_of_view"] for entry in truth.values())


def test_whole_spine_vertebrae_are_connected_and_never_overlap(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="fracturelab.synth"):
        built = make_spine_phantom(
            levels="C1-S1",
            fractures="C5:3:wedge,T12:3:wedge,L1:3:crush,L4:3:biconcave",
            spacing_mm=(2.0, 2.0, 2.0),
            curvature=1.5,
            noise_hu=0.0,
        )
    assert "overlaps" not in caplog.text
    labels = built.vertebrae.array
    assert sorted(np.unique(labels).tolist()) == [0, *range(1, 25), 26]
    boxes = ndimage.find_objects(labels)
    for entry in built.truth["vertebrae"]:
        box = boxes[entry["label"] - 1]
        assert box is not None, entry["level"]
        mask = labels[box] == entry["label"]
        _, count = ndimage.label(mask, structure=np.ones((3, 3, 3)))
        assert count == 1, entry["level"]


def test_field_of_view_cuts_the_end_vertebrae() -> None:
    built = make_spine_phantom(
        levels="T11-L2", spacing_mm=(2.0, 2.0, 2.0), fov_mm=(200.0, 180.0, 90.0)
    )
    assert built.ct.shape == (100, 90, 45)
    truth = entries(built)
    assert not truth["T11"]["in_field_of_view"] and not truth["L2"]["in_field_of_view"]
    assert truth["T12"]["in_field_of_view"] and truth["L1"]["in_field_of_view"]
    extent = np.array(built.ct.shape) * built.ct.spacing_mm
    assert extent == pytest.approx([200.0, 180.0, 90.0])


def test_transitional_levels_are_drawn_when_asked_for() -> None:
    built = make_spine_phantom(levels="T12-T13", spacing_mm=(3.0, 3.0, 3.0))
    assert sorted(np.unique(built.vertebrae.array).tolist()) == [0, 19, 28]


# ---------------------------------------------------------------------------- storage, seed
def test_ras_and_lps_storage_hold_the_same_world_voxels() -> None:
    kwargs: dict[str, Any] = {"levels": "T12-L1", "spacing_mm": (2.0, 2.5, 3.0)}
    lps = make_spine_phantom(**kwargs)
    for code in ("RAS", "PIR"):
        other = make_spine_phantom(orientation=code, **kwargs)
        assert other.ct.orientation == other.vertebrae.orientation == code
        assert other.truth["orientation"] == code
        for mine, theirs in ((other.ct, lps.ct), (other.vertebrae, lps.vertebrae)):
            back = mine.reoriented("LPS")
            assert np.allclose(back.affine, theirs.affine)
            assert np.array_equal(back.array, theirs.array)
        # spacing_mm is left-right, anterior-posterior, superior-inferior whatever the storage.
        axis_spacing = dict(zip(other.ct.orientation, other.ct.spacing_mm, strict=True))
        assert axis_spacing.get("R", axis_spacing.get("L")) == pytest.approx(2.0)
        assert axis_spacing.get("A", axis_spacing.get("P")) == pytest.approx(2.5)
        assert axis_spacing.get("S", axis_spacing.get("I")) == pytest.approx(3.0)


def test_seed_makes_output_reproducible_and_draws_anatomy_and_noise() -> None:
    kwargs: dict[str, Any] = {"levels": "L1-L2", "spacing_mm": (3.0, 3.0, 3.0), "noise_hu": 15.0}
    first = make_spine_phantom(seed=1, **kwargs)
    again = make_spine_phantom(seed=1, **kwargs)
    other = make_spine_phantom(seed=2, **kwargs)
    assert np.array_equal(first.ct.array, again.ct.array)
    assert np.array_equal(first.vertebrae.array, again.vertebrae.array)
    assert first.truth == again.truth
    # Another seed draws other corners and depressions, on the same spine.
    assert [e["shape"] for e in first.truth["vertebrae"]] != [
        e["shape"] for e in other.truth["vertebrae"]
    ]
    for mine, theirs in zip(first.truth["vertebrae"], other.truth["vertebrae"], strict=True):
        assert mine["body_center_mm"] == theirs["body_center_mm"]
        assert mine["heights_mm"]["posterior"] == theirs["heights_mm"]["posterior"]
    # The noise: same mean, spread noise_hu, in soft tissue away from the bones.
    quiet = make_spine_phantom(seed=1, **{**kwargs, "noise_hu": 0.0})
    difference = first.ct.array.astype(float) - quiet.ct.array.astype(float)
    assert abs(difference.mean()) < 0.5
    assert difference.std() == pytest.approx(15.0, rel=0.15)


def test_a_level_looks_the_same_whichever_levels_are_drawn() -> None:
    short = entries(make_spine_phantom(levels="L1-L2", spacing_mm=(3.0, 3.0, 3.0), seed=4))
    long = entries(make_spine_phantom(levels="T12-L3", spacing_mm=(3.0, 3.0, 3.0), seed=4))
    assert short["L1"]["shape"] == long["L1"]["shape"]
    assert short["L2"]["heights_mm"] == long["L2"]["heights_mm"]


def test_totalsegmentator_v2_labels() -> None:
    built = make_spine_phantom(
        levels="T12-S1", label_convention="totalseg_v2", spacing_mm=(3.0, 3.0, 3.0)
    )
    truth = entries(built)
    assert truth["L1"]["label"] == 31
    assert {level: e["label"] for level, e in truth.items()} == {
        "T12": 32, "L1": 31, "L2": 30, "L3": 29, "L4": 28, "L5": 27, "S1": 26,
    }  # fmt: skip
    assert sorted(np.unique(built.vertebrae.array).tolist()) == [0, *range(26, 33)]
    assert built.truth["label_convention"] == "totalseg_v2"


def test_save_writes_three_files_and_truth_round_trips(tmp_path: Path) -> None:
    built = make_spine_phantom(levels="L1-L2", spacing_mm=(3.0, 3.0, 3.0), orientation="RAS")
    paths = built.save(tmp_path / "out")
    assert {name: path.name for name, path in paths.items()} == {
        "ct": "ct.nii.gz",
        "vertebrae": "vertebrae.nii.gz",
        "truth": "truth.json",
    }
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "ct.nii.gz",
        "truth.json",
        "vertebrae.nii.gz",
    ]
    assert json.loads(paths["truth"].read_text()) == built.truth
    for path, volume in ((paths["ct"], built.ct), (paths["vertebrae"], built.vertebrae)):
        read = read_volume(path)
        assert np.array_equal(read.array, volume.array)
        assert np.allclose(read.affine, volume.affine, atol=1e-4)
        assert read.orientation == "RAS"


# ---------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"levels": "T8-X1"}, "level 'X1' is not a vertebra level"),
        ({"levels": ()}, "levels is empty"),
        ({"levels": [3]}, "levels \\[3\\] is not valid"),
        ({"levels": "T11-T12", "fractures": "L1:2:wedge"}, "L1 is not among the levels drawn"),
        ({"levels": "L5-S1", "fractures": "S1:2:wedge"}, "'S1' cannot be fractured"),
        ({"fractures": "T12:5:wedge"}, "grade 5 is not 0-3"),
        ({"fractures": ("T12:2:wedge",)}, "is not a FractureSpec"),
        ({"spacing_mm": (1.0, 1.0)}, "spacing_mm \\(1.0, 1.0\\) is not valid"),
        ({"spacing_mm": (1.0, 0.0, 1.0)}, "spacing_mm .* three numbers in \\(0, 10\\]"),
        ({"spacing_mm": (1.0, 1.0, 11.0)}, "spacing_mm"),
        ({"spacing_mm": "abc"}, "spacing_mm 'abc'"),
        ({"spacing_mm": (0.1, 0.1, 0.1)}, "voxels, more than"),
        ({"orientation": "LPX"}, "orientation 'LPX' is not valid.*'RAS', 'LPS' or 'PIR'"),
        ({"orientation": "LLS"}, "orientation 'LLS'"),
        ({"orientation": "RA"}, "orientation 'RA'"),
        ({"seed": -1}, "seed -1 is not valid"),
        ({"seed": 1.5}, "seed 1.5"),
        ({"label_convention": "verse2"}, "label_convention 'verse2'.*verse, totalseg_v2"),
        ({"levels": "T13", "label_convention": "totalseg_v2"}, "no label for T13"),
        ({"curvature": -0.1}, "curvature -0.1 .*\\[0, 1.5\\]"),
        ({"curvature": 2.0}, "curvature 2.0"),
        ({"curvature": float("nan")}, "curvature nan"),
        ({"noise_hu": -1.0}, "noise_hu -1.0"),
        ({"noise_hu": float("inf")}, "noise_hu inf"),
        ({"fov_mm": (100.0, 100.0)}, "fov_mm"),
        ({"fov_mm": (100.0, -1.0, 100.0)}, "fov_mm"),
    ],
)
def test_bad_argument_is_an_input_error(kwargs: dict[str, Any], expected: str) -> None:
    with pytest.raises(InputError, match=expected):
        make_spine_phantom(**{"spacing_mm": (3.0, 3.0, 3.0), **kwargs})
