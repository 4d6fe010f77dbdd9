"""Small manifests with real (tiny) PNG files for the femur tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from fracturelab.femur.config import ExperimentConfig
from fracturelab.femur.presets import RefineGeometry
from fracturelab.training.trainer import TrainConfig


def write_png(path: Path, width: int = 40, height: int = 30, value: int = 128) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((height, width), value, dtype=np.uint8)).save(path)
    return path


def write_manifest(folder: Path, rows: list[dict[str, object]], header: str | None = None) -> Path:
    """Write manifest.csv; rows without an existing image get a 40 x 30 PNG."""
    columns = header or "image,patient_id,label,center_x,center_y,pixel_spacing_mm"
    lines = [columns]
    for row in rows:
        image = str(row.get("image", ""))
        if image and row.get("make_image", True):
            write_png(folder / image)
        lines.append(",".join(str(row.get(c, "")) for c in columns.split(",")))
    path = folder / "manifest.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def balanced_rows(n_patients: int, images_per_patient: int = 2, aff_every: int = 4) -> list[dict]:
    rows = []
    for p in range(n_patients):
        label = "AFF" if p % aff_every == 0 else "NFF"
        for i in range(images_per_patient):
            rows.append(
                {"image": f"img/p{p}_{i}.png", "patient_id": f"P{p:03d}", "label": label,
                 "center_x": 20, "center_y": 15, "pixel_spacing_mm": 0.15}
            )  # fmt: skip
    return rows


# Settings of the tiny end-to-end experiment shared by the femur tests (tests/conftest.py).
TINY_TRAINING = TrainConfig(max_epochs=2, max_steps=4, batch_size=8, device="cpu")
TINY = ExperimentConfig(
    n_folds=2,
    backbones=("cnn", "vit"),
    model_size="tiny",
    localizer_input_px=64,
    refine=RefineGeometry(input_px=32, window_mm=16.0, offset_mm=2.0, max_offset_mm=5.0),
    localizer_training=TINY_TRAINING,
    classifier_training=TINY_TRAINING,
    n_bootstrap=200,
)


def tiny_femur_model(folder: Path) -> Path:
    """An untrained tiny patch model (CNN localizer and classifier at 64 px), saved to ``folder``.

    Enough to check that predictions flow through a command; its outputs mean nothing.
    """
    import torch

    from fracturelab.femur.bundle import FemurModel
    from fracturelab.femur.networks import build_classifier, build_localizer
    from fracturelab.femur.presets import PatchGeometry

    torch.manual_seed(0)
    model = FemurModel(
        approach="patch",
        classifier=build_classifier("cnn", 64, "tiny"),
        classifier_backbone="cnn",
        threshold=0.5,
        model_size="tiny",
        geometry=PatchGeometry(64),
        localizer=build_localizer("cnn", 64, "tiny"),
        localizer_backbone="cnn",
        localizer_input_px=64,
    )
    return model.save(folder)
