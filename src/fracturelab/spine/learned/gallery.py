"""The worst errors, shown: sagittal slices of their patches with Grad-CAM of P(fracture).

For each vertebra, Grad-CAM (MONAI ``GradCAM``) of the fracture logit is computed on the
backbone's last feature map (:func:`~fracturelab.spine.learned.network.gradcam_layer`) of
each network that predicted it (its fold network for a validation row, every fold network
for a test row, averaged), and drawn over the mid-sagittal slice of the CT channel
(superior up, anterior right) with the vertebra's mask outline. The PNGs are the
``gallery`` that :func:`fracturelab.spine.learned.report.write_report` puts in the report.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from fracturelab.outputs import pyplot, save_figure
from fracturelab.spine.learned.network import SpineNet, gradcam_layer
from fracturelab.typing import FloatArray

__all__ = ["draw_error_gallery", "gradcam_volume"]


class _FractureLogit(nn.Module):
    """A spine network seen as one class score ``(B, 1)``: the fracture logit."""

    def __init__(self, network: SpineNet, morphometry: torch.Tensor | None) -> None:
        super().__init__()
        self.network = network
        self.morphometry = morphometry

    def forward(self, patch: torch.Tensor) -> torch.Tensor:
        logits: torch.Tensor = self.network(patch, self.morphometry)["fracture"]
        return logits[:, None]


def gradcam_volume(
    networks: Sequence[SpineNet],
    patch: FloatArray,
    backbone: str,
    morphometry: FloatArray | None = None,
) -> FloatArray:
    """Grad-CAM of P(fracture) for one ``(C, D, H, W)`` patch, ``(D, H, W)`` in [0, 1].

    Args:
        networks: The networks whose maps are averaged.
        patch: The patch.
        backbone: Their backbone (names the explained layer).
        morphometry: ``(2,)`` features for networks that fuse them.

    """
    from monai.visualize import GradCAM

    total = np.zeros(patch.shape[1:], dtype=np.float32)
    for network in networks:
        device = next(network.parameters()).device
        extra = None if morphometry is None else torch.from_numpy(morphometry)[None].to(device)
        wrapper = _FractureLogit(network, extra if network.fuse_morphometry else None)
        cam = GradCAM(nn_module=wrapper, target_layers=f"network.{gradcam_layer(backbone)}")
        image = torch.from_numpy(np.asarray(patch, np.float32))[None].to(device)
        result = cam(image, class_idx=0)
        total += np.asarray(result.detach().cpu().numpy()[0, 0], dtype=np.float32)
        network.eval()
    peak = float(total.max())
    return total / peak if peak > 0 else total


def draw_error_gallery(
    worst: Sequence[Mapping[str, Any]],
    patches: Mapping[tuple[str, str], FloatArray],
    networks: Mapping[tuple[str, str], Sequence[SpineNet]],
    backbone: str,
    folder: Path,
    morphometry: Mapping[tuple[str, str], FloatArray] | None = None,
) -> list[tuple[str, Path]]:
    """Draw one PNG per listed vertebra; return ``(caption, path)`` pairs for the report.

    Args:
        worst: Rows with ``case_id``, ``level``, ``genant_grade``, ``fracture_probability``
            and ``predicted_grade`` (the evaluation's ``worst_errors``).
        patches: ``(case_id, level)`` -> its patch.
        networks: ``(case_id, level)`` -> the networks that predicted it.
        backbone: Their backbone.
        folder: Where the PNGs go (created if needed).
        morphometry: ``(case_id, level)`` -> fused features, for networks that fuse them.

    """
    plt = pyplot()
    drawn = []
    for k, row in enumerate(worst, start=1):
        key = (str(row["case_id"]), str(row["level"]))
        if key not in patches:
            continue
        patch = patches[key]
        extra = None if morphometry is None else morphometry.get(key)
        heat = gradcam_volume(networks[key], patch, backbone, extra)
        middle = patch.shape[3] // 2
        figure, axes = plt.subplots(1, 2, figsize=(6.4, 3.4))
        for axis, overlay in zip(axes, (False, True), strict=True):
            axis.imshow(patch[0, :, :, middle], cmap="gray", origin="lower", vmin=0, vmax=1)
            axis.contour(patch[1, :, :, middle], levels=[0.5], colors="deepskyblue", linewidths=0.8)
            if overlay:
                axis.imshow(
                    heat[:, :, middle], cmap="jet", alpha=0.4, origin="lower", vmin=0, vmax=1
                )
            axis.set_xticks([])
            axis.set_yticks([])
        axes[0].set_title("CT, mask outline", fontsize=8)
        axes[1].set_title("Grad-CAM of P(fracture)", fontsize=8)
        axes[0].set_ylabel("superior ->", fontsize=8)
        axes[0].set_xlabel("anterior ->", fontsize=8)
        caption = (
            f"{key[0]} {key[1]}: truth grade {row['genant_grade']}, P(fracture) "
            f"{float(row['fracture_probability']):.2f}, model grade {row['predicted_grade']}"
        )
        figure.suptitle(caption, fontsize=9)
        path = save_figure(figure, folder / f"worst-{k:02d}.png")
        drawn.append((caption, path))
    return drawn
