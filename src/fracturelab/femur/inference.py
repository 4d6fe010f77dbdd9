"""Running trained femur networks over many images (batched, no gradients)."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from fracturelab.femur.data import PreparedImage, standardise
from fracturelab.femur.heatmap import decode_heatmap
from fracturelab.femur.presets import RefineGeometry
from fracturelab.typing import FloatArray

__all__ = ["predict_centers", "predict_probabilities", "refine_centers"]


def _device(model: nn.Module) -> torch.device:
    return next(model.parameters()).device


@torch.no_grad()
def predict_centers(
    localizer: nn.Module, images: list[PreparedImage], batch_size: int = 32
) -> FloatArray:
    """Predicted fracture centres ``(N, 2)`` as ``(x, y)`` in original pixels."""
    localizer.eval()
    device = _device(localizer)
    out = np.zeros((len(images), 2), dtype=np.float32)
    for start in range(0, len(images), batch_size):
        chunk = images[start : start + batch_size]
        batch = torch.stack(
            [standardise(torch.from_numpy(i.localizer_input.astype(np.float32))) for i in chunk]
        )[:, None].to(device)
        size = chunk[0].localizer_box.size
        with torch.autocast(device.type, dtype=torch.float16, enabled=device.type == "cuda"):
            logits = localizer(batch)
        points = decode_heatmap(logits, size).cpu().numpy()
        for offset, (item, point) in enumerate(zip(chunk, points, strict=True)):
            out[start + offset] = item.localizer_box.to_original(point)
    return out


@torch.no_grad()
def refine_centers(
    refiner: nn.Module,
    images: list[PreparedImage],
    estimates_xy_px: FloatArray,
    geometry: RefineGeometry,
    batch_size: int = 32,
) -> FloatArray:
    """Second-stage centres ``(N, 2)`` in original pixels from first-stage ``estimates``.

    Each image's window (``geometry``) is cut around its estimate and the refiner's heatmap
    peak in that window is mapped back to the original image.
    """
    refiner.eval()
    device = _device(refiner)
    out = np.zeros((len(images), 2), dtype=np.float32)
    for start in range(0, len(images), batch_size):
        chunk = range(start, min(start + batch_size, len(images)))
        windows, frames = [], []
        for index in chunk:
            estimate = (float(estimates_xy_px[index][0]), float(estimates_xy_px[index][1]))
            window, frame = images[index].refine_window(geometry, estimate)
            windows.append(standardise(torch.from_numpy(window)))
            frames.append(frame)
        batch = torch.stack(windows)[:, None].to(device)
        with torch.autocast(device.type, dtype=torch.float16, enabled=device.type == "cuda"):
            logits = refiner(batch)
        points = decode_heatmap(logits, geometry.input_px).cpu().numpy()
        for index, frame, point in zip(chunk, frames, points, strict=True):
            out[index] = frame.to_original(point)
    return out


@torch.no_grad()
def predict_probabilities(
    classifier: nn.Module, dataset: Dataset[dict[str, torch.Tensor]], batch_size: int = 32
) -> FloatArray:
    """P(AFF) ``(N,)`` for every item of a classifier dataset."""
    classifier.eval()
    device = _device(classifier)
    chunks = []
    for batch in DataLoader(dataset, batch_size=batch_size, shuffle=False):
        images = batch["image"].to(device)
        with torch.autocast(device.type, dtype=torch.float16, enabled=device.type == "cuda"):
            logits = classifier(images)
        chunks.append(torch.sigmoid(logits.float()).cpu().numpy())
    return np.concatenate(chunks).astype(np.float32) if chunks else np.zeros(0, np.float32)
