"""The second localisation stage: window geometry, training items and the refinement itself."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from fracturelab.femur.data import RefineDataset, prepare_image
from fracturelab.femur.heatmap import heatmap_loss
from fracturelab.femur.inference import refine_centers
from fracturelab.femur.manifest import ManifestRow
from fracturelab.femur.networks import build_localizer
from fracturelab.femur.presets import PatchGeometry, RefineGeometry
from fracturelab.femur.refine import cut_window, sub_window
from fracturelab.imaging.radiograph import Radiograph

SPACING = 0.15
GEOMETRY = RefineGeometry(input_px=32, window_mm=16.0, offset_mm=3.0, max_offset_mm=6.0)


def _row(k: int, center: tuple[float, float], label: str = "AFF") -> ManifestRow:
    return ManifestRow(
        line=k + 2, image=Path(f"/missing/{k}.png"), image_text=f"{k}.png",
        patient_id=f"P{k}", label=label, center_xy_px=center, pixel_spacing_mm=SPACING,
    )  # fmt: skip


def _dot_image(center: tuple[float, float]) -> np.ndarray:
    """400 x 300 image, one bright 5 x 5 square centred on a whole pixel."""
    image = np.zeros((300, 400), np.float32)
    x, y = round(center[0]), round(center[1])
    image[y - 2 : y + 3, x - 2 : x + 3] = 1.0
    return image


@pytest.mark.parametrize("estimate", [(200.0, 150.0), (231.4, 127.8), (5.0, 290.0)])
def test_window_frame_maps_the_dot_back_to_its_pixel(estimate: tuple[float, float]) -> None:
    truth = (210.0, 140.0) if estimate[0] > 100 else (20.0, 280.0)
    window, frame = cut_window(_dot_image(truth), estimate, (SPACING, SPACING), GEOMETRY)
    assert window.shape == (32, 32)
    # the window spans 16 mm = 106.7 px -> 107 px resampled to 32: 3.34 px per window pixel
    assert frame.step == pytest.approx(107 / 32)
    rows, columns = np.indices(window.shape)
    weight = window.clip(0) / window.clip(0).sum()
    found = frame.to_original([(weight * columns).sum(), (weight * rows).sum()])
    assert np.hypot(*(found - np.asarray(truth))) < 0.5 * frame.step


def test_training_items_put_the_truth_where_the_window_shows_it() -> None:
    truth = (210.0, 140.0)
    image = Radiograph(_dot_image(truth), (SPACING, SPACING))
    prepared = prepare_image(
        _row(0, truth), 64, PatchGeometry(32), 32, radiograph=image, refine=GEOMETRY
    )
    assert prepared.refine_cache is not None and prepared.refine_frame is not None
    torch.manual_seed(0)
    dataset = RefineDataset([prepared], GEOMETRY, augment=False)
    offsets = []
    for _ in range(20):
        item = dataset[0]
        center = item["center"].numpy()
        window = item["image"][0].numpy()
        peak = np.unravel_index(window.argmax(), window.shape)
        assert abs(peak[1] - center[0]) <= 1.5 and abs(peak[0] - center[1]) <= 1.5
        offsets.append(center - (GEOMETRY.input_px - 1) / 2)
        # a 1 mm target is 1 / (16 / 32 mm) = 2 window pixels wide (1.0 = 106.7/107 scale)
        assert float(item["sigma"]) == pytest.approx(2.0, rel=0.01)
    # the simulated first-stage errors vary and stay within max_offset_mm (12 window px)
    spread = np.abs(np.asarray(offsets))
    assert spread.max() <= 12.5 and np.std(np.asarray(offsets)) > 1.0


def test_sub_window_reports_leaving_its_cache() -> None:
    cache = np.ones((50, 50), np.float32)
    _, frame = cut_window(np.ones((300, 400), np.float32), (200.0, 150.0), None, GEOMETRY)
    cache_frame = type(frame)(frame.origin_xy, frame.step, 50)
    assert sub_window(cache, cache_frame, tuple(cache_frame.to_original((25, 25))), 32)[2]
    assert not sub_window(cache, cache_frame, tuple(cache_frame.to_original((5, 25))), 32)[2]


def test_second_stage_improves_an_offset_first_stage_estimate() -> None:
    """A tiny refiner, trained briefly on phantoms, moves 5 mm-off estimates to the fracture."""
    from fracturelab.synth.femur import make_femur_radiograph

    torch.manual_seed(0)
    images = []
    for k in range(14):
        label = "AFF" if k % 2 else "NFF"
        phantom = make_femur_radiograph(label, seed=k, size_px=(300, 400), spacing_mm=SPACING)
        row = _row(k, phantom.center_xy_px, label)
        images.append(
            prepare_image(
                row, 64, PatchGeometry(32), 32, radiograph=phantom.radiograph, refine=GEOMETRY
            )
        )
    train, test = images[:10], images[10:]
    network = build_localizer("cnn", GEOMETRY.input_px, "tiny")
    optimizer = torch.optim.AdamW(network.parameters(), lr=2e-3)
    dataset = RefineDataset(train, GEOMETRY)
    network.train()
    for _ in range(150):
        items = [dataset[int(i)] for i in torch.randint(0, len(dataset), (8,))]
        batch = {key: torch.stack([item[key] for item in items]) for key in items[0]}
        logits = network(batch["image"])
        loss = heatmap_loss(logits, batch["center"], GEOMETRY.input_px, batch["sigma"])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    truth = np.array([image.center_xy_px for image in test])
    start = (truth + np.array([4.0, -3.0]) / SPACING).astype(np.float32)  # 5 mm off
    refined = refine_centers(network, test, start, GEOMETRY)
    before = np.hypot(*(start - truth).T) * SPACING
    after = np.hypot(*(refined - truth).T) * SPACING
    assert before == pytest.approx(5.0)
    assert np.median(after) < 2.5, after
