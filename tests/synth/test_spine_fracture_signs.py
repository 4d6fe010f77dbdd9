"""Fracture signs in the phantom's CT (sclerotic band, cortex gap) and its bone density.

Each sign is checked against the truth the phantom records, by comparing the CT with the same
phantom drawn without signs (the same vertebra, shape only) or by reading the CT where
``truth.json`` says a sign is. The straight spine (``curvature=0``) has its local frame on the
grid axes: superior = +z, anterior = -y.
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
import pytest
from scipy import ndimage

from fracturelab.errors import InputError
from fracturelab.synth import SpinePhantom, make_spine_phantom

#: A straight, noise-free spine of T11-L4 with one fracture of each kind, fixed bone density.
KW: dict[str, Any] = {
    "levels": "T11-L4",
    "fractures": "T12:3:wedge,L1:2:crush,L3:2:biconcave",
    "curvature": 0.0,
    "noise_hu": 0.0,
    "bone_hu": 150.0,
    "fov_mm": (110.0, 110.0, 230.0),
}
NEW_KEYS = ("cancellous_hu", "fracture_signs")


def entries(phantom: SpinePhantom) -> dict[str, dict[str, Any]]:
    return {entry["level"]: entry for entry in phantom.truth["vertebrae"]}


def interpolate(hu: np.ndarray, index: np.ndarray) -> np.ndarray:
    """Values of ``hu`` at fractional voxel indices, shape ``(3, N)``: trilinear."""
    return np.asarray(ndimage.map_coordinates(hu, index, order=1))


def column(phantom: SpinePhantom, point: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """CT values (float) along z through the voxel nearest ``point``, and the voxels' z (mm)."""
    i, j, _ = np.rint(phantom.ct.world_to_index(point)).astype(int)
    z = phantom.ct.affine[2, 3] + phantom.ct.affine[2, 2] * np.arange(phantom.ct.shape[2])
    return phantom.ct.array[i, j, :].astype(float), z


@pytest.fixture(scope="module", params=[0, 3])
def pair(request: pytest.FixtureRequest) -> tuple[SpinePhantom, SpinePhantom]:
    """The same phantom with fracture signs and without, per seed."""
    seed = int(request.param)
    return (
        make_spine_phantom(seed=seed, **KW),
        make_spine_phantom(seed=seed, fracture_signs=False, **KW),
    )


def test_signs_leave_the_label_map_and_the_truth_unchanged(
    pair: tuple[SpinePhantom, SpinePhantom],
) -> None:
    on, off = pair
    assert np.array_equal(on.vertebrae.array, off.vertebrae.array)
    assert not np.array_equal(on.ct.array, off.ct.array)
    for with_signs, without in zip(on.truth["vertebrae"], off.truth["vertebrae"], strict=True):
        assert {k: v for k, v in with_signs.items() if k not in NEW_KEYS} == {
            k: v for k, v in without.items() if k not in NEW_KEYS
        }
        assert without["fracture_signs"] is None
    assert on.truth["parameters"]["fracture_signs"] is True
    assert off.truth["parameters"]["fracture_signs"] is False


def test_only_fractured_vertebrae_get_signs(pair: tuple[SpinePhantom, SpinePhantom]) -> None:
    on, off = pair
    for level, entry in entries(on).items():
        assert (entry["fracture_signs"] is not None) == (entry["genant_grade"] >= 1), level
        if entry["genant_grade"] == 0:
            # A normal vertebra's CT is exactly the shape-only one: no band, no gap.
            inside = on.vertebrae.array == entry["label"]
            assert np.array_equal(on.ct.array[inside], off.ct.array[inside]), level
    # A deformity below grade 1 is not a fracture: no signs.
    mild = make_spine_phantom(**{**KW, "levels": "L1-L2", "fractures": "L1:10%:wedge"})
    assert all(entry["fracture_signs"] is None for entry in mild.truth["vertebrae"])


def test_band_follows_the_fracture_kind(pair: tuple[SpinePhantom, SpinePhantom]) -> None:
    truth = entries(pair[0])
    expected = {
        "T12": (["superior"], "anterior"),
        "L1": (["superior", "inferior"], "whole"),
        "L3": (["superior", "inferior"], "central"),
    }
    for level, (endplates, region) in expected.items():
        band = truth[level]["fracture_signs"]["sclerotic_band"]
        assert (band["endplates"], band["region"]) == (endplates, region), level
        assert 150 <= band["extra_hu"] <= 350
        assert 2 <= band["thickness_mm"] <= 6
    assert truth["T12"]["fracture_signs"]["cortex_gap"]["endplate"] == "superior"


def test_band_is_as_dense_and_as_thick_as_drawn(pair: tuple[SpinePhantom, SpinePhantom]) -> None:
    """In the crush (L1), the band's excess HU over the shape-only CT, per column.

    Columns near the anterior and posterior walls (``a = +-0.8 D``: flat endplate, no central
    depression), on the side away from the cortex gap. Along a column through the band the
    excess integrates to ``extra_hu * thickness_mm`` at any spacing: the band's inner edge
    carries partial volume, the scanner blur keeps integrals, rounding to int16 HU moves each
    voxel by at most 0.5 HU (30 voxels: 15 HU mm, under 3 % of the smallest 300 HU mm). In the
    band's interior, more than 1.5 mm from either edge (a voxel whose neighbours along the
    column lie wholly inside, so the blur, 0.5 voxel sigma, mixes in nothing else), the excess
    is the drawn ``extra_hu`` within 2 % (rounding and the 0.03 % blur tail two voxels out);
    2 mm beyond the band (four blur sigmas) it is 0 within 1 HU.
    """
    on, off = pair
    entry = entries(on)["L1"]
    signs = entry["fracture_signs"]
    band, gap = signs["sclerotic_band"], signs["cortex_gap"]
    depth = entry["semi_depth_mm"]
    a = -0.8 * depth if gap["a_mm"] > 0 else 0.8 * depth
    center = np.array(entry["body_center_mm"])
    point = center + a * np.array(entry["frame"]["anterior"])
    hu_on, z = column(on, point)
    hu_off, _ = column(off, point)
    excess = hu_on - hu_off
    top = entry["height_points_mm"]["anterior"]["superior"][2]
    bottom = entry["height_points_mm"]["anterior"]["inferior"][2]
    reach = band["depth_below_endplate_mm"][1]
    assert top - bottom > 2 * reach + 1  # the two bands do not meet in this column
    for side, below in (("superior", top - z), ("inferior", z - bottom)):
        half = (below > -3) & (below < 0.5 * (top - bottom))
        integral = float(excess[half].sum())  # 1 mm voxels: HU mm
        expected = band["extra_hu"] * band["thickness_mm"]
        assert integral == pytest.approx(expected, rel=0.03, abs=15), side
        interior = (below > band["depth_below_endplate_mm"][0] + 1.5) & (below < reach - 1.5)
        assert interior.any() or band["thickness_mm"] < 4, side
        if interior.any():
            assert excess[interior].mean() == pytest.approx(band["extra_hu"], rel=0.02), side
        far = half & (below > reach + 2.0)
        assert (np.abs(excess[far]) <= 1).all(), side  # nothing deeper than the band


def test_cortex_gap_is_where_truth_says(pair: tuple[SpinePhantom, SpinePhantom]) -> None:
    """Scan the endplate along the anterior axis: the cortex is missing just across the gap.

    At each anterior position, the column within 4 mm of the gap's endplate surface is
    compared with the shape-only CT. The band only adds bone; the gap replaces the cortex
    (800 HU) by the core's bone (150 HU plus the band's 150-350 HU: at least 300 HU less), and
    a 1 mm voxel holds over half of the 1.5 mm cortex after partial volume and blur, so the
    column's largest loss exceeds 150 HU in the gap, while outside it no voxel loses anything.
    Sampled trilinearly at positions 0.25 mm apart (voxels 1 mm; the gap's edges carry partial
    volume and the blur), the run of positions losing more than half the largest loss matches
    the gap within 0.5 mm at its centre and 0.75 mm in width.
    """
    on, off = pair
    on_hu, off_hu = on.ct.array.astype(float), off.ct.array.astype(float)
    for level, entry in entries(on).items():
        if entry["fracture_signs"] is None:
            continue
        gap = entry["fracture_signs"]["cortex_gap"]
        anterior = np.array(entry["frame"]["anterior"])
        superior = np.array(entry["frame"]["superior"])
        center = np.array(gap["center_mm"])
        limit = entry["semi_depth_mm"] - 4.0
        offsets = np.arange(-0.5 * gap["width_mm"] - 4, 0.5 * gap["width_mm"] + 4, 0.25)
        offsets = offsets[np.abs(gap["a_mm"] + offsets) <= limit]
        loss = []
        for offset in offsets:
            points = center + offset * anterior + np.arange(-4, 4.1, 0.25)[:, None] * superior
            index = on.ct.world_to_index(points).T
            loss.append(float((interpolate(off_hu, index) - interpolate(on_hu, index)).max()))
        losses = np.asarray(loss)
        broken = offsets[losses > 0.5 * losses.max()]
        assert np.all(np.diff(broken) == pytest.approx(0.25)), level  # one run
        assert 0.5 * (broken[0] + broken[-1]) == pytest.approx(0.0, abs=0.5), level
        assert broken[-1] - broken[0] == pytest.approx(gap["width_mm"], abs=0.75), level
        assert losses.max() > 150, level
        outside = np.abs(offsets) > 0.5 * gap["width_mm"] + 2.0
        assert (losses[outside] <= 1).all(), level


def test_bone_density_is_drawn_per_phantom_and_vertebra() -> None:
    kw = {**KW, "bone_hu": None, "fractures": "", "levels": "T12-L3"}
    spines = [make_spine_phantom(seed=seed, **kw) for seed in (0, 1)]
    means = []
    for phantom in spines:
        values = []
        for entry in phantom.truth["vertebrae"]:
            hu = entry["cancellous_hu"]
            assert 100 <= hu <= 300
            # The body's centre (deep in the core) holds exactly that density.
            index = np.rint(phantom.ct.world_to_index(np.array(entry["body_center_mm"])))
            assert phantom.ct.array[tuple(index.astype(int))] == pytest.approx(hu, abs=1)
            values.append(hu)
        assert len(set(values)) == len(values)  # each vertebra its own
        means.append(np.mean(values))
        assert phantom.truth["parameters"]["bone_hu"] is None
    assert abs(means[0] - means[1]) > 5  # each phantom its own
    # The same seed draws the same densities, whichever levels are drawn.
    fewer = make_spine_phantom(seed=0, **{**kw, "levels": "L1-L2"})
    first = entries(spines[0])
    assert all(
        e["cancellous_hu"] == first[e["level"]]["cancellous_hu"] for e in entries(fewer).values()
    )


def test_bone_hu_fixes_every_vertebra() -> None:
    phantom = make_spine_phantom(**{**KW, "fractures": "", "levels": "L1-L2", "bone_hu": 175})
    for entry in phantom.truth["vertebrae"]:
        assert entry["cancellous_hu"] == 175.0
        index = np.rint(phantom.ct.world_to_index(np.array(entry["body_center_mm"])))
        assert phantom.ct.array[tuple(index.astype(int))] == 175
    assert phantom.truth["parameters"]["bone_hu"] == 175.0


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"bone_hu": -1.0}, r"bone_hu -1.0 is not valid; .*\[0, 700\]"),
        ({"bone_hu": 800}, "bone_hu 800 is not valid"),
        ({"bone_hu": float("nan")}, "bone_hu nan"),
        ({"bone_hu": "220"}, "bone_hu '220'"),
        ({"bone_hu": True}, "bone_hu True"),
        ({"fracture_signs": "yes"}, "fracture_signs 'yes' is not valid; give True .* or False"),
        ({"fracture_signs": 1}, "fracture_signs 1 is not valid"),
    ],
)
def test_bad_sign_options_are_one_line_input_errors(kwargs: dict[str, Any], expected: str) -> None:
    with pytest.raises(InputError, match=expected) as caught:
        make_spine_phantom(levels="L1", spacing_mm=(3.0, 3.0, 3.0), **kwargs)
    assert "\n" not in str(caught.value)


def test_shape_only_at_the_old_density_is_the_ct_drawn_before_the_signs() -> None:
    """``fracture_signs=False, bone_hu=220`` reproduces the CT drawn before both existed.

    The digest was taken from the phantom code of commit 2c0d934 (no signs, 220 HU
    everywhere) with these arguments: the new options cost nothing when switched off, so
    results measured on earlier phantoms stay comparable.
    """
    phantom = make_spine_phantom(
        levels="T12-L2",
        fractures="L1:3:crush,T12:1:wedge",
        spacing_mm=(2.0, 2.0, 2.0),
        seed=5,
        fracture_signs=False,
        bone_hu=220.0,
    )
    digest = hashlib.sha256(np.ascontiguousarray(phantom.ct.array).tobytes()).hexdigest()
    assert digest == "8b68fbac64b891a16f4904f4fce6d914219a99211bd978ae33b9b9773772f438"
