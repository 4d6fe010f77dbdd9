"""Pictures of a femur experiment: ROC, calibration, localisation, example crops, Grad-CAM."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from fracturelab.evaluation import (
    aggregate_by_patient,
    plot_calibration,
    plot_localisation_errors,
    plot_roc,
)
from fracturelab.femur.data import PreparedImage, standardise
from fracturelab.femur.geometry import Letterbox
from fracturelab.femur.networks import gradcam_layer
from fracturelab.femur.result import ExperimentResult, model_name
from fracturelab.femur.splits import TEST
from fracturelab.outputs import pyplot, save_figure
from fracturelab.typing import FloatArray

__all__ = ["draw_figures", "gradcam"]


class _OneLogit(nn.Module):
    """Present a ``(B,)``-logit classifier as ``(B, 1)`` for MONAI's class-indexed CAM."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.net(image)[:, None]  # type: ignore[no-any-return]


def _unit(heat: torch.Tensor) -> torch.Tensor:
    """Scale each map to [0, 1] by its maximum (Grad-CAM maps are >= 0 after the ReLU)."""
    peak = heat.amax(dim=tuple(range(1, heat.ndim)), keepdim=True)
    return heat / peak.clamp_min(1e-12)


def gradcam(classifier: nn.Module, backbone: str, image: FloatArray) -> FloatArray:
    """Grad-CAM of the AFF logit (MONAI ``GradCAM``) for one ``(S, S)`` input image.

    Returns:
        Shape ``(S, S)``, scaled to [0, 1]; bright where evidence for AFF lies.

    """
    from monai.visualize import GradCAM

    device = next(classifier.parameters()).device
    wrapped = _OneLogit(classifier).eval()
    # MONAI's default post-processing maps (min, max) to (1, 0); keep the magnitudes instead.
    cam = GradCAM(
        nn_module=wrapped, target_layers=f"net.{gradcam_layer(backbone)}", postprocessing=_unit
    )
    tensor = standardise(torch.from_numpy(image))[None, None].to(device)
    with torch.enable_grad(), warnings.catch_warnings():
        # MONAI hooks a module's outputs; PyTorch warns that the input needs no gradient.
        warnings.filterwarnings("ignore", message="Full backward hook is firing")
        heat = cam(x=tensor, class_idx=0)
    return np.asarray(heat[0, 0].detach().cpu().numpy(), dtype=np.float32)


def _examples(result: ExperimentResult, per_class: int) -> list[int]:
    test = result.splits.indices(TEST)
    chosen: list[int] = []
    for flag in (1, 0):
        chosen += [int(i) for i in test if result.images[i].label == flag][:per_class]
    return chosen


def _patch(result: ExperimentResult, image: PreparedImage, center: FloatArray) -> FloatArray:
    return image.patch(result.config.patch, (float(center[0]), float(center[1])))


def draw_examples(result: ExperimentResult, path: Path, per_class: int = 3) -> Path | None:
    """Native patches around the predicted centre, with true (+) and predicted (x) centres."""
    chosen = _examples(result, per_class)
    if not chosen:
        return None
    plt = pyplot()
    centers = result.centers[result.best_localizer]
    figure, axes = plt.subplots(2, len(chosen), figsize=(2.6 * len(chosen), 5.6), squeeze=False)
    try:
        for column, index in enumerate(chosen):
            image = result.images[index]
            predicted = centers[index]
            whole = image.baseline_input.astype(np.float32)
            box = _baseline_box(result, image)
            axes[0, column].imshow(whole, cmap="gray", vmin=0, vmax=1)
            for point, marker, colour in (
                (image.center_xy_px, "+", "lime"),
                (predicted, "x", "red"),
            ):
                u, v = box.to_input(point)
                axes[0, column].plot(u, v, marker, color=colour, ms=9, mew=2)
            p = {b: result.probabilities[("patch", b)][index] for b in result.config.backbones}
            title = f"{image.row.label}  " + " ".join(f"p[{b}]={v:.2f}" for b, v in p.items())
            axes[0, column].set_title(title, fontsize=8)
            shown = _inside(result, image, predicted)
            patch = _patch(result, image, shown)
            axes[1, column].imshow(patch, cmap="gray", vmin=0, vmax=1)
            size = result.config.patch.size_px
            half = size / 2
            scale = _patch_scale(result, image)
            for point, marker, colour in (
                (image.center_xy_px, "+", "lime"),
                (predicted, "x", "red"),
            ):
                u = (point[0] - np.floor(shown[0] + 0.5)) * scale + half
                v = (point[1] - np.floor(shown[1] + 0.5)) * scale + half
                # a point off the crop is drawn on its border, as an open marker
                inside = 0 <= u <= size - 1 and 0 <= v <= size - 1
                u, v = float(np.clip(u, 0, size - 1)), float(np.clip(v, 0, size - 1))
                axes[1, column].plot(
                    u, v, marker if inside else "o", color=colour, ms=10, mew=2,
                    fillstyle="full" if inside else "none",
                )  # fmt: skip
            _fix_limits(axes[1, column], size, size)
            _fix_limits(axes[0, column], *whole.shape[::-1])
            error = float(np.hypot(*(predicted - np.asarray(image.center_xy_px))))
            axes[1, column].set_title(f"patch, error {error:.0f} px", fontsize=8)
        for axis in axes.ravel():
            axis.set_xticks([])
            axis.set_yticks([])
        figure.suptitle(
            "Test images: whole image (top) and the classifier's patch (bottom); "
            "+ true centre, x predicted",
            fontsize=9,
        )
        return save_figure(figure, path, tight=True, close=False)
    finally:
        plt.close(figure)


def _fix_limits(axis: Any, width: int, height: int) -> None:
    """Keep an image axis to the image (markers off it would shrink it to a strip)."""
    axis.set_xlim(-0.5, width - 0.5)
    axis.set_ylim(height - 0.5, -0.5)


def _inside(result: ExperimentResult, image: PreparedImage, center: FloatArray) -> FloatArray:
    """``center`` moved the least so that the example crop lies inside the image."""
    region = result.config.patch.region_xy_px(image.spacing_xy_mm)
    half = np.asarray(region or (result.config.patch.size_px,) * 2, dtype=np.float64) / 2
    rows, columns = image.shape
    upper = np.array([columns - 1, rows - 1], dtype=np.float64) - half
    low = np.minimum(half, upper)
    return np.asarray(np.clip(np.asarray(center, np.float64), low, np.maximum(low, upper)))


def _baseline_box(result: ExperimentResult, image: PreparedImage) -> Letterbox:
    return Letterbox.fit(image.shape, result.config.baseline_input_px)


def _patch_scale(result: ExperimentResult, image: PreparedImage) -> float:
    region = result.config.patch.region_xy_px(image.spacing_xy_mm)
    return 1.0 if region is None else result.config.patch.size_px / region[0]


def draw_gradcam(result: ExperimentResult, path: Path, per_class: int = 2) -> Path | None:
    """Grad-CAM of every classifier on the same test images (patch and whole image)."""
    chosen = _examples(result, per_class)
    if not chosen:
        return None
    plt = pyplot()
    centers = result.centers[result.best_localizer]
    models = list(result.models)
    figure, axes = plt.subplots(
        len(chosen), len(models), figsize=(2.5 * len(models), 2.6 * len(chosen)), squeeze=False
    )
    try:
        for row, index in enumerate(chosen):
            image = result.images[index]
            for column, (approach, backbone) in enumerate(models):
                if approach == "patch":
                    picture = _patch(result, image, centers[index])
                else:
                    picture = image.baseline_input.astype(np.float32)
                model = result.models[(approach, backbone)].classifier
                heat = gradcam(model, backbone, picture)
                axis = axes[row, column]
                axis.imshow(picture, cmap="gray", vmin=0, vmax=1)
                axis.imshow(heat, cmap="jet", alpha=0.35, vmin=0, vmax=1)
                p = result.probabilities[(approach, backbone)][index]
                axis.set_title(
                    f"{model_name(approach, backbone)}\n{image.row.label}, p={p:.2f}", fontsize=8
                )
                axis.set_xticks([])
                axis.set_yticks([])
        figure.suptitle("Grad-CAM of the AFF output (red: evidence for AFF)", fontsize=9)
        return save_figure(figure, path, tight=True, close=False)
    finally:
        plt.close(figure)


def draw_figures(result: ExperimentResult, metrics: dict[str, Any]) -> dict[str, Path]:
    """Write every figure of the report into the run folder; returns name -> path."""
    folder = result.out / "figures"
    test = result.splits.indices(TEST)
    labels = result.labels[test]
    patients = np.array([i.row.patient_id for i in result.images])[test]
    figures: dict[str, Path] = {}
    image_curves: dict[str, Any] = {}
    patient_curves: dict[str, Any] = {}
    calibration: dict[str, Any] = {}
    for (approach, backbone), p in result.probabilities.items():
        name = model_name(approach, backbone)
        per_image = metrics["classification"]["image"][name]["test"].get("auc_ci")
        per_patient = metrics["classification"]["patient"][name]["test"].get("auc_ci")
        image_curves[name] = (
            labels,
            p[test],
            tuple(per_image) if isinstance(per_image, list) else None,
        )
        _, y_patient, p_patient = aggregate_by_patient(patients, labels, p[test])
        patient_curves[name] = (
            y_patient,
            p_patient,
            tuple(per_patient) if isinstance(per_patient, list) else None,
        )
        calibration[name] = (labels, p[test])
    if len(set(labels.tolist())) == 2:
        figures["roc_image"] = plot_roc(
            image_curves, folder / "roc_test_images.png", "Test set, per image"
        )
        figures["roc_patient"] = plot_roc(
            patient_curves, folder / "roc_test_patients.png", "Test set, per patient"
        )
        figures["calibration"] = plot_calibration(
            calibration, folder / "calibration_test.png", "Test set calibration", n_bins=5
        )
    groups: dict[str, Any] = {}
    for backbone in result.centers:
        errors = result.errors(backbone).mm[test]
        for flag, name in ((1, "AFF"), (0, "NFF")):
            finite = errors[labels == flag]
            if np.isfinite(finite).any():
                groups[f"{backbone} {name}"] = finite
    if groups:
        figures["localisation"] = plot_localisation_errors(
            groups, folder / "localisation_test.png", "Test set: fracture-centre error"
        )
    examples = draw_examples(result, folder / "examples_test.png")
    if examples is not None:
        figures["examples"] = examples
    cams = draw_gradcam(result, folder / "gradcam_test.png")
    if cams is not None:
        figures["gradcam"] = cams
    return figures
