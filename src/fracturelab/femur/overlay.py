"""An overlay picture of a femur prediction: the radiograph, centre, patch box and P(AFF)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from fracturelab.femur.bundle import FemurPrediction
from fracturelab.femur.contract import AFF
from fracturelab.imaging.radiograph import Radiograph
from fracturelab.outputs import atomic_path

__all__ = ["render_overlay"]

AFF_COLOUR = (230, 60, 40)
NFF_COLOUR = (40, 170, 90)


def render_overlay(
    radiograph: Radiograph, prediction: FemurPrediction, path: str | Path, max_side_px: int = 1024
) -> Path:
    """Write a PNG: the image (shrunk to ``max_side_px``), the centre, the patch box, P(AFF).

    Args:
        radiograph: The image that was classified.
        prediction: Its prediction.
        path: PNG to write (atomically).
        max_side_px: Longest side of the picture.

    """
    from PIL import Image, ImageDraw

    scale = min(1.0, max_side_px / max(radiograph.shape))
    grey = (np.clip(radiograph.array, 0, 1) * 255).astype(np.uint8)
    picture = Image.fromarray(grey).convert("RGB")
    if scale < 1:
        size = (
            max(1, round(radiograph.width_px * scale)),
            max(1, round(radiograph.height_px * scale)),
        )
        picture = picture.resize(size, Image.Resampling.BOX)
    draw = ImageDraw.Draw(picture)
    colour = AFF_COLOUR if prediction.label == AFF else NFF_COLOUR
    width = max(2, round(max(picture.size) / 300))
    if prediction.patch_box_px is not None:
        x0, y0, x1, y1 = (v * scale for v in prediction.patch_box_px)
        draw.rectangle((x0, y0, x1, y1), outline=colour, width=width)
    if prediction.center_px is not None:
        cx, cy = ((v + 0.5) * scale - 0.5 for v in prediction.center_px)
        arm = 6 * width
        draw.line((cx - arm, cy, cx + arm, cy), fill=colour, width=width)
        draw.line((cx, cy - arm, cx, cy + arm), fill=colour, width=width)
    text = (
        f"{prediction.label}  P(AFF) = {prediction.p_aff:.2f}  "
        f"(threshold {prediction.threshold:.2f})"
    )
    box = draw.textbbox((0, 0), text)
    draw.rectangle((0, 0, box[2] + 12, box[3] + 10), fill=(0, 0, 0))
    draw.text((6, 5), text, fill=colour)
    target = Path(path)
    with atomic_path(target) as temporary:
        picture.save(temporary, format="PNG")
    return target
