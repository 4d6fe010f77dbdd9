"""A model folder with a two-stage localizer: prediction, saving, and single-stage folders."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from fracturelab.femur.bundle import FemurModel
from fracturelab.femur.geometry import Letterbox
from fracturelab.femur.networks import build_classifier, build_localizer
from fracturelab.femur.presets import PatchGeometry, RefineGeometry
from fracturelab.femur.refine import cut_window
from fracturelab.imaging.radiograph import Radiograph

REFINE = RefineGeometry(input_px=32, window_mm=16.0, offset_mm=2.0, max_offset_mm=5.0)


class _Peak(nn.Module):
    """Heatmap logits with one peak at ``(x, y)`` of an ``S x S`` map."""

    def __init__(self, size: int, x: int, y: int) -> None:
        super().__init__()
        self.size, self.x, self.y = size, x, y
        self.unused = nn.Parameter(torch.zeros(1))

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        logits = torch.zeros(image.shape[0], 1, self.size, self.size)
        logits[:, 0, self.y, self.x] = 20.0
        return logits


def _radiograph() -> Radiograph:
    rng = np.random.default_rng(0)
    return Radiograph(rng.uniform(0, 1, (300, 400)).astype(np.float32), (0.15, 0.15))


def _model(localizer: nn.Module, refiner: nn.Module | None) -> FemurModel:
    return FemurModel(
        "patch", build_classifier("cnn", 32, "tiny"), "cnn", 0.5, model_size="tiny",
        geometry=PatchGeometry(32), localizer=localizer, localizer_backbone="cnn",
        localizer_input_px=64, refiner=refiner, refine=REFINE,
    )  # fmt: skip


def test_prediction_is_the_refiner_peak_around_the_first_estimate() -> None:
    radiograph = _radiograph()
    coarse = Letterbox.fit(radiograph.shape, 64).to_original([40.0, 30.0])
    single = _model(_Peak(64, 40, 30), None).predict(radiograph)
    assert single.center_px == pytest.approx(tuple(coarse), abs=1e-3)
    two = _model(_Peak(64, 40, 30), _Peak(32, 20, 10)).predict(radiograph)
    _, frame = cut_window(radiograph.array, tuple(coarse), (0.15, 0.15), REFINE)
    expected = frame.to_original([20.0, 10.0])
    assert two.center_px == pytest.approx(tuple(expected), abs=1e-3)
    # 16 mm window = 107 px over 32 window px: (20, 10) lies 4.5 / -5.5 px from the middle
    shift = np.asarray(two.center_px) - coarse
    assert shift == pytest.approx([(20 - 15.5) * 107 / 32, (10 - 15.5) * 107 / 32], abs=0.51)


def test_two_stage_folder_round_trip_and_single_stage_folders_still_load(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = _model(build_localizer("cnn", 64, "tiny"), build_localizer("cnn", 32, "tiny"))
    radiograph = _radiograph()
    before = model.predict(radiograph)
    folder = model.save(tmp_path / "two")
    description = json.loads((folder / "model.json").read_text())
    assert description["refiner"]["window_mm"] == 16.0 and (folder / "refiner.pt").is_file()
    loaded = FemurModel.load(folder)
    assert loaded.refiner is not None and loaded.refine == REFINE
    assert loaded.predict(radiograph).to_dict() == before.to_dict()
    # a folder written before the two-stage localizer: no "refiner" key, no refiner.pt
    del description["refiner"]
    (folder / "model.json").write_text(json.dumps(description))
    (folder / "refiner.pt").unlink()
    old = FemurModel.load(folder)
    assert old.refiner is None
    first_stage_only = _model(model.localizer, None).predict(radiograph)  # type: ignore[arg-type]
    assert old.predict(radiograph).center_px == pytest.approx(first_stage_only.center_px)
