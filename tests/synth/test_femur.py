"""Tests of the synthetic femur radiographs against their known ground truth."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from fracturelab.errors import InputError
from fracturelab.imaging.radiograph import Radiograph
from fracturelab.synth import femur as femur_module
from fracturelab.synth.femur import (
    MANIFEST_COLUMNS,
    FemurPhantom,
    make_femur_dataset,
    make_femur_radiograph,
    render_femur_radiograph,
    sample_femur_spec,
)

KINDS = [
    ("AFF", None),
    *(("NFF", kind) for kind in ("transverse", "oblique", "spiral", "comminuted")),
]


def sample(pixels: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Grey values at the pixels nearest to ``[x, y]`` points inside the image."""
    index = np.rint(np.asarray(points, dtype=float)).astype(int)
    height, width = pixels.shape
    inside = (
        (index[:, 0] >= 0) & (index[:, 0] < width) & (index[:, 1] >= 0) & (index[:, 1] < height)
    )
    return pixels[index[inside, 1], index[inside, 0]].astype(float)


def proximal_step(truth: dict[str, Any], mm: float) -> np.ndarray:
    """Pixel offset ``mm`` (detector mm) up the shaft, towards the hip."""
    return -np.asarray(truth["distal_xy"]) * mm / truth["pixel_spacing_mm"]


def lateral_cortex_mm(phantom: FemurPhantom, above_break_mm: float) -> float:
    """Lateral cortex thickness measured on the image row ``above_break_mm`` above the break.

    Outer edge: where the grey value falls to half-way between the cortex peak and the soft
    tissue; inner edge: the peak (the endosteal surface seen edge-on). Needs no tilt.
    """
    truth = phantom.truth
    spacing = truth["pixel_spacing_mm"]
    x_break, y_break = truth["fracture"]["lateral_break_xy_px"]
    row = phantom.pixels[round(y_break - above_break_mm / spacing)].astype(float)
    lateral = 1 if truth["lateral_xy"][0] > 0 else -1
    columns = np.arange(
        round(truth["center_xy_px"][0]), round(x_break + lateral * 6 / spacing), lateral
    )
    profile = row[columns]
    peak = int(np.argmax(profile))
    half = profile[-1] + 0.5 * (profile[peak] - profile[-1])
    outer = peak + int(np.argmax(profile[peak:] < half))
    return float((outer - peak) * spacing)


# ---------------------------------------------------------------------------- ground truth
@pytest.mark.parametrize(("label", "kind"), KINDS)
def test_centre_and_line_lie_in_the_fracture_cleft(label: str, kind: str | None) -> None:
    for seed in range(3):
        phantom = make_femur_radiograph(
            label, seed=seed, kind=kind, size_px=(400, 560), spacing_mm=0.2, noise=0.0
        )
        truth = phantom.truth
        assert truth["label"] == label and (kind is None or truth["kind"] == kind)
        away = proximal_step(truth, 10.0)
        center = np.asarray(truth["center_xy_px"])
        disk = np.array([[dx, dy] for dx in (-1, 0, 1) for dy in (-1, 0, 1)])
        at_centre = sample(phantom.pixels, center + disk).mean()
        assert at_centre < 0.9 * sample(phantom.pixels, center + away + disk).mean()
        line = np.asarray(truth["fracture"]["line_xy_px"])[2:-2]
        along_line = sample(phantom.pixels, line).mean()
        assert along_line < 0.9 * sample(phantom.pixels, line + away).mean()


def test_the_centre_is_where_the_frames_put_it() -> None:
    spec = sample_femur_spec("NFF", seed=4, size_px=(300, 420), spacing_mm=0.18)
    phantom = render_femur_radiograph(spec)
    x, y = phantom.center_xy_px
    assert (x, y) == spec.view.center_xy_px
    assert 0 <= x < 300 and 0 <= y < 420
    assert phantom.truth["center_mm"] == pytest.approx([x * 0.18, y * 0.18])
    line = np.asarray(phantom.truth["fracture"]["line_xy_px"])
    assert np.linalg.norm(line.mean(axis=0) - [x, y]) < 6.0 / 0.18  # within a few mm


def test_aff_beak_thickens_the_lateral_cortex_and_nff_has_none() -> None:
    for label in ("AFF", "NFF"):
        for seed in range(4):
            phantom = make_femur_radiograph(
                label, seed=seed, kind="transverse", size_px=(900, 700), spacing_mm=0.1,
                rotation_deg=0.0, angle_deg=0.0, noise=0.0,
            )  # fmt: skip
            half_gap = 0.5 * phantom.truth["fracture"]["gap_mm"] * phantom.truth["magnification"]
            near = lateral_cortex_mm(phantom, half_gap + 1.0)
            far = lateral_cortex_mm(phantom, half_gap + 16.0)
            cues = phantom.truth["aff_cues"]
            if label == "AFF":
                assert cues["beak_mm"] >= 0.7 and cues["endosteal_mm"] >= 0.5
                assert near - far > 0.7, (seed, near, far)
            else:
                assert cues == {"beak_mm": 0, "beak_length_mm": 0, "endosteal_mm": 0, "spike_mm": 0}
                assert abs(near - far) < 0.5, (seed, near, far)


def test_the_fracture_survives_downsampling_to_about_256_px() -> None:
    for label in ("AFF", "NFF"):
        phantom = make_femur_radiograph(label, seed=7, size_px=(2000, 2400), spacing_mm=0.15)
        factor = 10  # 240 x 200
        h, w = (s // factor * factor for s in phantom.pixels.shape)
        small = (
            phantom.pixels[:h, :w].reshape(h // factor, factor, w // factor, factor).mean((1, 3))
        )
        truth = phantom.truth
        center = np.asarray(truth["center_xy_px"]) / factor
        away = proximal_step(truth, 12.0) / factor
        at_centre = sample(small, center[None]).mean()
        assert at_centre < 0.95 * sample(small, (center + away)[None]).mean()


def test_aff_cues_are_below_a_pixel_of_a_224_downsample() -> None:
    # 2500 px at 0.15 mm brought to 224 px: 1.67 mm per pixel.
    mm_per_pixel = 2500 / 224 * 0.15
    for seed in range(20):
        spec = sample_femur_spec("AFF", seed=seed)
        magnified = spec.fracture.beak_mm * spec.view.magnification
        assert magnified / mm_per_pixel < 1.1
        assert abs(spec.fracture.spike_mm) * spec.view.magnification / mm_per_pixel < 1.8


# ---------------------------------------------------------------------------- image and API
def test_radiograph_is_float_in_unit_range_with_spacing() -> None:
    phantom = make_femur_radiograph("aff", seed=1, size_px=(256, 320), spacing_mm=0.12, side="left")
    image = phantom.radiograph
    assert isinstance(image, Radiograph)
    assert image.array.dtype == np.float32 and image.shape == (320, 256)
    assert image.array.min() >= 0.0 and image.array.max() <= 1.0 and image.array.std() > 0.05
    assert image.spacing_xy_mm == (0.12, 0.12)
    assert phantom.label == "AFF" and phantom.truth["side"] == "left"
    assert phantom.truth["lateral_xy"][0] > 0.9  # left femur: lateral cortex on the right
    right = make_femur_radiograph("NFF", seed=1, size_px=(64, 64), side="right", rotation_deg=0.0)
    assert right.truth["lateral_xy"] == pytest.approx([-1.0, 0.0])
    assert right.truth["distal_xy"] == pytest.approx([0.0, 1.0])
    assert "FemurPhantom(AFF transverse, left, 256 x 320 px" in repr(phantom)


def test_same_seed_same_image_other_seed_other_image() -> None:
    first = make_femur_radiograph("NFF", seed=11, size_px=(200, 260))
    again = make_femur_radiograph("NFF", seed=11, size_px=(200, 260))
    other = make_femur_radiograph("NFF", seed=12, size_px=(200, 260))
    assert np.array_equal(first.pixels, again.pixels) and first.truth == again.truth
    assert not np.array_equal(first.pixels, other.pixels)
    generator = make_femur_radiograph("NFF", seed=np.random.default_rng(11), size_px=(200, 260))
    assert np.array_equal(generator.pixels, first.pixels)


def test_png_holds_16_bit_pixels_and_the_spacing(tmp_path: Path) -> None:
    phantom = make_femur_radiograph("AFF", seed=2, size_px=(120, 90), spacing_mm=0.137)
    path = phantom.save_png(tmp_path / "a.png")
    with Image.open(path) as image:
        assert image.mode == "I;16" and image.size == (120, 90)
        assert np.array_equal(np.asarray(image), phantom.pixels)
        assert 25.4 / image.info["dpi"][0] == pytest.approx(0.137, rel=1e-3)
        assert image.text["pixel_spacing_mm"] == "0.137"
    assert [p.name for p in tmp_path.iterdir()] == ["a.png"]


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"label": "XFF"}, "label 'XFF' is not valid; use one of AFF, NFF"),
        ({"size_px": (10, 100)}, "size_px (10, 100) is not valid"),
        ({"size_px": 100}, "size_px 100 is not valid"),
        ({"spacing_mm": 0.0}, "spacing_mm 0.0 is not valid"),
        ({"side": "up"}, "side 'up' is not valid; use one of left, right or None"),
        ({"kind": "greenstick"}, "kind 'greenstick' is not valid"),
        ({"kind": "spiral"}, "kind 'spiral' is not valid for an AFF"),
        ({"rotation_deg": 90.0}, "rotation_deg 90.0 is not valid"),
        ({"noise": -1.0}, "noise -1.0 is not valid"),
        ({"seed": -3}, "seed -3 is not valid; give an integer >= 0"),
    ],
)
def test_bad_arguments_are_one_line_input_errors(kwargs: dict[str, Any], expected: str) -> None:
    arguments = {"label": "AFF", "size_px": (64, 64), **kwargs}
    with pytest.raises(InputError) as error:
        make_femur_radiograph(**arguments)
    assert expected in str(error.value) and "\n" not in str(error.value)


# ---------------------------------------------------------------------------- dataset
@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("femur") / "data"
    return make_femur_dataset(
        out, 24, seed=3, size_range_px=(64, 160), spacing_range_mm=(0.12, 0.18), progress=False
    )


def read_manifest(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def test_dataset_writes_manifest_images_and_truth(dataset: Path) -> None:
    assert dataset.name == "manifest.csv"
    assert dataset.read_text().splitlines()[0] == ",".join(MANIFEST_COLUMNS)
    rows = read_manifest(dataset)
    assert len(rows) == 24
    truth = json.loads((dataset.parent / "truth.json").read_text())
    records = {record["image"]: record for record in truth["images"]}
    assert truth["parameters"]["size_range_px"] == [64, 160]
    for row in rows:
        path = dataset.parent / row["image"]
        assert not Path(row["image"]).is_absolute() and path.is_file()
        with Image.open(path) as image:
            width, height = image.size
            assert image.mode == "I;16"
        assert 64 <= width <= 160 and 64 <= height <= 160
        spacing = float(row["pixel_spacing_mm"])
        assert 0.12 <= spacing <= 0.18
        x, y = float(row["center_x"]), float(row["center_y"])
        assert 0 <= x < width and 0 <= y < height
        record = records[row["image"]]
        assert record["center_xy_px"] == pytest.approx([x, y], abs=1e-3)
        assert record["label"] == row["label"] and record["patient_id"] == row["patient_id"]
        assert record["size_px"] == [width, height]


def test_patients_keep_one_label_and_one_side(dataset: Path) -> None:
    truth = json.loads((dataset.parent / "truth.json").read_text())
    by_patient: dict[str, list[dict[str, Any]]] = {}
    for record in truth["images"]:
        by_patient.setdefault(record["patient_id"], []).append(record)
    assert len(by_patient) < 24  # several images per patient
    for records in by_patient.values():
        assert 1 <= len(records) <= 5
        assert len({(r["label"], r["side"], r["kind"]) for r in records}) == 1
        assert len({r["fracture"]["angle_deg"] for r in records}) == 1


def test_same_seed_same_dataset(dataset: Path, tmp_path: Path) -> None:
    again = make_femur_dataset(
        tmp_path, 24, seed=3, size_range_px=(64, 160), spacing_range_mm=(0.12, 0.18), progress=False
    )
    assert again.read_text() == dataset.read_text()
    first = read_manifest(dataset)[5]["image"]
    assert (tmp_path / first).read_bytes() == (dataset.parent / first).read_bytes()


@pytest.mark.parametrize("fraction", [0.2, 0.0, 1.0])
def test_share_of_aff_patients(tmp_path: Path, fraction: float) -> None:
    manifest = make_femur_dataset(
        tmp_path, 90, seed=5, aff_fraction=fraction, size_range_px=(32, 40), progress=False
    )
    labels = {row["patient_id"]: row["label"] for row in read_manifest(manifest)}
    share = sum(label == "AFF" for label in labels.values()) / len(labels)
    assert share == pytest.approx(fraction, abs=1.0 / len(labels))


def test_interrupted_run_leaves_no_manifest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = {"n": 0}
    real = femur_module.render_femur_radiograph

    def failing(spec: Any) -> FemurPhantom:
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real(spec)

    monkeypatch.setattr(femur_module, "render_femur_radiograph", failing)
    with pytest.raises(KeyboardInterrupt):
        make_femur_dataset(tmp_path, 5, size_range_px=(32, 48), progress=False)
    assert not (tmp_path / "manifest.csv").exists() and not (tmp_path / "truth.json").exists()
    assert len(list((tmp_path / "images").iterdir())) == 2
    assert not [p for p in tmp_path.rglob(".*")]  # no temporary files left


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"n_images": 0}, "n_images 0 is not valid; give an integer >= 1"),
        ({"n_images": 2.5}, "n_images 2.5 is not valid"),
        ({"aff_fraction": 1.5}, "aff_fraction 1.5 is not valid; give a share in [0, 1]"),
        ({"size_range_px": (400, 200)}, "size_range_px (400, 200) is not valid"),
        ({"size_range_px": (0, 200)}, "size_range_px (0, 200) is not valid"),
        ({"spacing_range_mm": (0.2, 0.1)}, "spacing_range_mm (0.2, 0.1) is not valid"),
        ({"spacing_range_mm": (-0.1, 0.1)}, "spacing_range_mm (-0.1, 0.1) is not valid"),
        ({"images_per_patient": (0, 3)}, "images_per_patient (0, 3) is not valid"),
        ({"images_per_patient": (1,)}, "images_per_patient (1,) is not valid"),
        ({"seed": "x"}, "seed 'x' is not valid"),
    ],
)
def test_bad_dataset_arguments(tmp_path: Path, kwargs: dict[str, Any], expected: str) -> None:
    arguments: dict[str, Any] = {"n_images": 3, **kwargs}
    with pytest.raises(InputError) as error:
        make_femur_dataset(tmp_path / "out", progress=False, **arguments)
    assert expected in str(error.value) and "\n" not in str(error.value)
    assert not (tmp_path / "out").exists()


def test_out_dir_that_is_a_file_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "file"
    target.write_text("x")
    with pytest.raises(InputError, match="is a file, not a folder"):
        make_femur_dataset(target, 1, progress=False)
