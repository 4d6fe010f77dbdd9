"""The phantom's truth at the walls, checked against computations that do not use its code.

Heights are defined as six-point morphometry places its points: Ha at the anterior wall, Hp at
the posterior wall, Hm in the middle, between the endplate surfaces extrapolated to the wall.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from fracturelab.imaging import Volume
from fracturelab.synth import FractureSpec, make_spine_phantom
from fracturelab.synth._body import BodyShape, Osteophyte
from fracturelab.synth.anatomy import nominal_size
from fracturelab.synth.vertebra import SyntheticVertebra

STRAIGHT = (np.array([-1.0, 0.0, 0.0]), np.array([0.0, -1.0, 0.0]), np.array([0.0, 0.0, 1.0]))


def vertebra(level: str = "T12", fracture: str | None = None, **shape: Any) -> SyntheticVertebra:
    spec = None
    if fracture is not None:
        grade_or_loss, kind = fracture.split(":")
        spec = FractureSpec(level=level, kind=kind, loss_pct=float(grade_or_loss))  # type: ignore[arg-type]
    return SyntheticVertebra(
        level,
        center_mm=np.zeros(3),
        frame=STRAIGHT,
        size=nominal_size(level),
        fracture=spec,
        shape=BodyShape(**shape),
    )


def continuous_profile(model: SyntheticVertebra, a_mm: float) -> tuple[float, float] | None:
    """Top and bottom (local s, mm) of the drawn body at ``r = 0``, to 0.005 mm; brute force."""
    s = np.arange(-20.0, 20.0, 0.005)
    r = np.zeros_like(s)
    a = np.full_like(s, a_mm)
    cortical, cancellous, _ = model.masks(r, a, s)
    body = np.flatnonzero(cortical | cancellous)
    if not len(body):
        return None
    return float(s[body[-1]]), float(s[body[0]])


def label_profile(
    labels: Volume, entry: dict[str, Any], a_mm: float, r_mm: float = 0.0
) -> tuple[float, float]:
    """Top and bottom (mm along the superior axis) of the label's run through ``(r, a, 0)``."""
    center = np.array(entry["body_center_mm"])
    axes = {k: np.array(entry["frame"][k]) for k in ("right", "anterior", "superior")}
    reach = 0.5 * entry["nominal_height_mm"] + 3.0
    t = np.arange(-reach, reach, 0.02)
    points = center + r_mm * axes["right"] + a_mm * axes["anterior"] + t[:, None] * axes["superior"]
    index = np.rint(labels.world_to_index(points)).astype(int)
    on = labels.array[tuple(index.T)] == entry["label"]
    middle = len(t) // 2
    assert on[middle], (entry["level"], a_mm)
    high = middle + int(np.argmin(on[middle:])) - 1
    low = middle - int(np.argmin(on[middle::-1])) + 1
    return float(t[high]), float(t[low])


# ---------------------------------------------------------------------------- at the walls
def test_wedge_heights_are_read_off_the_plane_at_the_walls() -> None:
    model = vertebra("T12", "32.5:wedge", corner_radius_mm=2.5, depression_mm=(1.0, 1.2))
    depth, height = model.semi_depth_mm, 23.0
    # The endplates' plane: Hp at a = -D, Ha = (1 - 0.325) Hp at a = +D, linear in between.
    plane = np.poly1d(np.polyfit([-depth, depth], [height, height * (1 - 0.325)], 1))
    truth = model.heights_mm()
    assert truth["anterior"] == pytest.approx(plane(depth))
    assert truth["posterior"] == pytest.approx(plane(-depth))
    assert truth["middle"] == pytest.approx(plane(0.0) - 2.2)
    assert model.height_loss_pct == pytest.approx(32.5)
    # Not where a measurement 10 % inside the walls would read.
    assert plane(0.8 * depth) - truth["anterior"] > 0.5


@pytest.mark.parametrize("radius", [1.5, 3.0])
def test_rounded_corners_lower_the_mask_at_the_wall_but_not_the_extrapolated_endplate(
    radius: float,
) -> None:
    model = vertebra("L2", "22.5:wedge", corner_radius_mm=radius, depression_mm=(1.0, 1.0))
    depth = model.semi_depth_mm
    truth = model.heights_mm()["anterior"]
    # The drawn body just inside the anterior wall is lower than Ha by about 2 R.
    top, bottom = continuous_profile(model, depth - 0.1) or (0.0, 0.0)
    assert truth - (top - bottom) > 1.2 * radius
    # Fit the endplates where they are flat and straight (beyond the central depression,
    # before the rounded rim) and extrapolate to the wall: that is Ha.
    a = np.linspace(0.72 * depth, depth - radius - 0.1, 12)
    profiles = np.array([continuous_profile(model, x) for x in a])
    at_wall = [np.polyval(np.polyfit(a, profiles[:, i], 1), depth) for i in (0, 1)]
    assert at_wall[0] - at_wall[1] == pytest.approx(truth, abs=0.02)


def test_label_map_endplates_extrapolate_to_the_true_heights_at_both_walls() -> None:
    built = make_spine_phantom(
        levels="L2",
        fractures="L2:32.5%:wedge",
        spacing_mm=(0.5, 0.5, 0.5),
        fov_mm=(60.0, 60.0, 40.0),
        curvature=0.0,
        noise_hu=0.0,
        seed=3,
    )
    (entry,) = built.truth["vertebrae"]
    depth, width = entry["semi_depth_mm"], entry["semi_width_mm"]
    # Endplate positions on a ring beyond the central depression and inside the rounded rim,
    # all around the footprint; a plane s = c0 + c1 a fitted to each endplate.
    angles = np.linspace(0.0, 2 * np.pi, 48, endpoint=False)
    ring = [
        (rho * width * np.cos(t), rho * depth * np.sin(t)) for rho in (0.73, 0.77) for t in angles
    ]
    profiles = np.array([label_profile(built.vertebrae, entry, a, r) for r, a in ring])
    a = np.array([a for _, a in ring])
    planes = [np.polyfit(a, profiles[:, i], 1) for i in (0, 1)]
    for name, wall in (("anterior", depth), ("posterior", -depth)):
        top, bottom = (np.polyval(plane, wall) for plane in planes)
        assert top - bottom == pytest.approx(entry["heights_mm"][name], abs=0.4), name
        # The mask itself, just inside the wall, is lower: the corners are rounded.
        wall_top, wall_bottom = label_profile(built.vertebrae, entry, wall - np.sign(wall) * 0.25)
        assert wall_top - wall_bottom < entry["heights_mm"][name] - 0.5, name


def test_six_height_points_lie_on_the_walls_and_span_the_heights() -> None:
    built = make_spine_phantom(levels="T12-L1", fractures="T12:2:wedge", spacing_mm=(3.0,) * 3)
    for entry in built.truth["vertebrae"]:
        center = np.array(entry["body_center_mm"])
        anterior = np.array(entry["frame"]["anterior"])
        for name, offset in (("anterior", 1.0), ("middle", 0.0), ("posterior", -1.0)):
            top, bottom = (
                np.array(entry["height_points_mm"][name][k]) for k in ("superior", "inferior")
            )
            assert np.linalg.norm(top - bottom) == pytest.approx(
                entry["heights_mm"][name], abs=1e-5
            )
            assert (top - center) @ anterior == pytest.approx(
                offset * entry["semi_depth_mm"], abs=1e-5
            )


# ---------------------------------------------------------------------------- biconcave
def test_biconcave_dish_that_reaches_the_walls_lowers_ha_and_hp_too() -> None:
    loss, radius = 0.325, 1.15
    inside = vertebra("L1", "32.5:biconcave", dish_radius=0.7)
    reaching = vertebra("L1", "32.5:biconcave", dish_radius=radius)
    assert inside.heights_mm()["posterior"] == pytest.approx(25.0)
    heights = reaching.heights_mm()
    # Independent: total dish depth c at the centre, c (1 - 1/radius^2) at the walls, and the
    # grade is read from Hm / Hp = 1 - L.
    at_wall = 1 - 1 / radius**2
    centre = loss * 25.0 / (1 - (1 - loss) * at_wall)
    assert heights["middle"] == pytest.approx(25.0 - centre)
    assert heights["posterior"] == heights["anterior"] == pytest.approx(25.0 - centre * at_wall)
    assert heights["posterior"] < 25.0 - 2.0
    assert reaching.height_loss_pct == pytest.approx(32.5)
    # The drawn body is lower near the walls too (away from the rounded rim).
    top, bottom = continuous_profile(reaching, -0.6 * reaching.semi_depth_mm) or (0.0, 0.0)
    top0, bottom0 = continuous_profile(inside, -0.6 * inside.semi_depth_mm) or (0.0, 0.0)
    assert (top0 - bottom0) - (top - bottom) > 1.5


def test_phantom_draws_some_dishes_that_reach_the_walls() -> None:
    reach = []
    for seed in range(12):
        built = make_spine_phantom(
            levels="L1", fractures="L1:2:biconcave", spacing_mm=(3.0,) * 3, seed=seed
        )
        (entry,) = built.truth["vertebrae"]
        assert entry["genant_grade"] == 2 and entry["height_loss_pct"] == pytest.approx(32.5)
        reach.append(entry["shape"]["dish_reaches_walls"])
        assert (entry["heights_mm"]["posterior"] < 25.0 - 1e-6) == reach[-1]
    assert any(reach) and not all(reach)


# ---------------------------------------------------------------------------- normal anatomy
def test_physiological_wedging_at_t11_to_l1_stays_grade_0() -> None:
    ratios: dict[str, list[float]] = {}
    for seed in range(6):
        built = make_spine_phantom(levels="T10-L2", spacing_mm=(3.0,) * 3, seed=seed)
        for entry in built.truth["vertebrae"]:
            heights = entry["heights_mm"]
            ratios.setdefault(entry["level"], []).append(heights["anterior"] / heights["posterior"])
            assert entry["genant_grade"] == 0 and entry["morphology"] == "normal"
            assert entry["height_loss_pct"] <= 15.0 + 1e-6
            # The middle dips below the walls (concave endplates), not by 20 %.
            assert 0.85 <= heights["middle"] / max(heights["anterior"], heights["posterior"]) < 1
    for level in ("T11", "T12", "L1"):
        assert all(0.85 <= r <= 0.95 for r in ratios[level]), level
        assert np.ptp(ratios[level]) > 0.01  # seeded, not fixed
    for level in ("T10", "L2"):
        assert ratios[level] == pytest.approx([1.0] * 6)


def test_physiological_wedge_shows_in_the_label_map() -> None:
    built = make_spine_phantom(levels="T12", spacing_mm=(0.5,) * 3, fov_mm=(60.0, 60.0, 40.0),
                               curvature=0.0, noise_hu=0.0, seed=2)  # fmt: skip
    (entry,) = built.truth["vertebrae"]
    depth = entry["semi_depth_mm"]
    front = np.subtract(*label_profile(built.vertebrae, entry, 0.75 * depth))
    back = np.subtract(*label_profile(built.vertebrae, entry, -0.75 * depth))
    ratio = entry["shape"]["physiological_wedge_ratio"]
    expected = entry["heights_mm"]["posterior"] * (1 - ratio) * 0.75
    assert back - front == pytest.approx(expected, abs=0.6)


def test_normal_endplate_depression_does_not_reach_the_walls() -> None:
    flat = vertebra("L3")
    dipped = vertebra("L3", depression_mm=(1.5, 0.5))
    assert dipped.heights_mm()["anterior"] == flat.heights_mm()["anterior"] == 26.0
    assert dipped.heights_mm()["posterior"] == 26.0
    assert dipped.heights_mm()["middle"] == pytest.approx(24.0)
    for a in (0.72, 0.9, -0.72, -0.9):
        assert continuous_profile(dipped, a * dipped.semi_depth_mm) == continuous_profile(
            flat, a * flat.semi_depth_mm
        )


# ---------------------------------------------------------------------------- osteophytes
def test_osteophyte_adds_bone_beyond_the_anterior_wall_but_does_not_change_ha() -> None:
    spur = Osteophyte(endplate="superior", r_mm=0.0, length_mm=4.0, radius_mm=2.0)
    plain = vertebra("L1", corner_radius_mm=2.0)
    spurred = vertebra("L1", corner_radius_mm=2.0, osteophyte=spur)
    assert spurred.heights_mm() == plain.heights_mm()
    assert spurred.heights_mm()["anterior"] == 25.0  # nominal L1: the plane at the wall
    # Bone of the vertebra beyond the anterior wall, at the superior corner.
    s = np.arange(0.0, 16.0, 0.05)
    beyond = np.full_like(s, plain.semi_depth_mm + 2.0)
    cortical, _, _ = spurred.masks(np.zeros_like(s), beyond, s)
    assert cortical.any() and not plain.masks(np.zeros_like(s), beyond, s)[0].any()
    assert s[cortical].min() > 12.5 - 3.0  # near the superior corner, not mid-wall


def test_osteophytes_in_the_phantom_are_labelled_and_leave_the_truth() -> None:
    found = 0
    for seed in range(8):
        built = make_spine_phantom(levels="L2-L4", spacing_mm=(1.0,) * 3, seed=seed,
                                   curvature=0.0, fov_mm=(80.0, 90.0, 110.0))  # fmt: skip
        for entry in built.truth["vertebrae"]:
            spur = entry["shape"]["osteophyte"]
            assert entry["heights_mm"]["anterior"] == pytest.approx(
                entry["nominal_height_mm"] * entry["shape"]["physiological_wedge_ratio"]
            )
            if spur is None or abs(spur["r_mm"]) > 2:
                continue
            found += 1
            center = np.array(entry["body_center_mm"])
            axes = [np.array(entry["frame"][k]) for k in ("right", "anterior", "superior")]
            sign = 1.0 if spur["endplate"] == "superior" else -1.0
            tip = (center + spur["r_mm"] * axes[0] + (entry["semi_depth_mm"] + 1.5) * axes[1]
                   + sign * (entry["heights_mm"]["anterior"] / 2 + 0.3) * axes[2])  # fmt: skip
            index = tuple(np.rint(built.vertebrae.world_to_index(tip)).astype(int))
            assert built.vertebrae.array[index] == entry["label"], (seed, entry["level"])
    assert found > 0


# ---------------------------------------------------------------------------- independence
def test_the_truth_uses_nothing_of_the_measuring_code() -> None:
    import ast
    from pathlib import Path

    import fracturelab.synth as synth

    folder = Path(synth.__file__).parent
    for name in ("vertebra.py", "_body.py", "spine_phantom.py", "_render.py", "_mask_errors.py",
                 "anatomy.py", "curve.py", "fractures.py"):  # fmt: skip
        tree = ast.parse((folder / name).read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
                "fracturelab.spine"
            ):
                assert node.module == "fracturelab.spine.levels", (name, node.module)
            if isinstance(node, ast.Import):
                assert not any(a.name.startswith("fracturelab.spine") for a in node.names), name
