"""A trained femur model folder: localizer + classifier + threshold, saved and loaded whole."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from fracturelab.errors import InputError
from fracturelab.femur.contract import AFF, NFF
from fracturelab.femur.data import standardise
from fracturelab.femur.geometry import Letterbox, crop_patch, patch_box
from fracturelab.femur.heatmap import decode_heatmap
from fracturelab.femur.networks import build_classifier, build_localizer
from fracturelab.femur.presets import APPROACHES, PatchGeometry, RefineGeometry
from fracturelab.femur.refine import cut_window
from fracturelab.imaging.radiograph import Radiograph
from fracturelab.outputs import atomic_path, atomic_write_text
from fracturelab.training.weights import load_weights

__all__ = ["TASK", "FemurModel", "FemurPrediction"]

TASK = "femur-aff"
SCHEMA_VERSION = "1.0"


@dataclass(frozen=True)
class FemurPrediction:
    """The result for one radiograph (the JSON contract of docs/design.md, plus details).

    Attributes:
        image: The file (or a name).
        center_px: Predicted fracture centre ``(x, y)`` in original pixels (``None`` for the
            downsample approach, which does not localize).
        center_mm: The centre in mm from the image corner, ``None`` without pixel spacing.
        p_aff: Probability of an atypical femoral fracture.
        label: ``"AFF"`` if ``p_aff >= threshold`` else ``"NFF"``.
        threshold: Decision threshold, chosen on validation data during training.
        approach: ``"patch"`` or ``"downsample"``.
        patch_box_px: ``(x0, y0, x1, y1)`` of the classified patch in original pixels.

    """

    image: str
    center_px: tuple[float, float] | None
    center_mm: tuple[float, float] | None
    p_aff: float
    label: str
    threshold: float
    approach: str
    patch_box_px: tuple[float, float, float, float] | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict; the docs/design.md keys first."""

        def rounded(point: tuple[float, ...] | None, digits: int) -> list[float] | None:
            return None if point is None else [round(v, digits) for v in point]

        return {
            "image": self.image,
            "center_px": rounded(self.center_px, 2),
            "center_mm": rounded(self.center_mm, 3),
            "p_aff": round(self.p_aff, 6),
            "label": self.label,
            "threshold": round(self.threshold, 6),
            "approach": self.approach,
            "patch_box_px": rounded(self.patch_box_px, 2),
            "schema_version": SCHEMA_VERSION,
        }


@dataclass
class FemurModel:
    """Everything ``fracturelab femur predict`` needs, as one object and one folder.

    Attributes:
        approach: ``"patch"`` or ``"downsample"``.
        classifier: AFF/NFF network (logits).
        classifier_backbone: ``"cnn"`` or ``"vit"``.
        threshold: Decision threshold on P(AFF).
        model_size: Network size preset.
        geometry: How patches are cut (patch approach).
        localizer: Heatmap network (patch approach) or ``None``.
        localizer_backbone: Its backbone, or ``None``.
        localizer_input_px: Side of the localizer input square.
        baseline_input_px: Side of the downsampled image (downsample approach).
        refiner: Second localisation stage (a heatmap network on a window near native
            resolution around the localizer's estimate), or ``None`` (single stage; model
            folders written before the two-stage localizer load this way).
        refine: The refiner's window (used when ``refiner`` is set).
        info: Free-form provenance (experiment, validation metrics), saved in model.json.

    """

    approach: str
    classifier: nn.Module
    classifier_backbone: str
    threshold: float
    model_size: str = "small"
    geometry: PatchGeometry = field(default_factory=PatchGeometry)
    localizer: nn.Module | None = None
    localizer_backbone: str | None = None
    localizer_input_px: int = 256
    baseline_input_px: int = 224
    refiner: nn.Module | None = None
    refine: RefineGeometry = field(default_factory=RefineGeometry)
    info: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.approach not in APPROACHES:
            raise InputError(f"approach={self.approach!r} is not valid; allowed: patch, downsample")
        if self.approach == "patch" and self.localizer is None:
            raise InputError("approach='patch' needs a localizer")
        if not 0 <= self.threshold <= 1:
            raise InputError(f"threshold={self.threshold!r} is not valid; use a number in [0, 1]")

    # ---------------------------------------------------------------- prediction
    @torch.no_grad()
    def predict(self, radiograph: Radiograph) -> FemurPrediction:
        """Localize (patch approach) and classify one radiograph."""
        device = next(self.classifier.parameters()).device
        pixels = torch.from_numpy(radiograph.array)
        center: tuple[float, float] | None = None
        box: tuple[float, float, float, float] | None = None
        if self.approach == "patch":
            assert self.localizer is not None
            self.localizer.eval()
            letterbox = Letterbox.fit(radiograph.shape, self.localizer_input_px)
            square = standardise(letterbox.apply(pixels))[None, None].to(device)
            point = decode_heatmap(self.localizer(square), self.localizer_input_px)[0].cpu()
            x, y = (float(v) for v in letterbox.to_original(point.numpy()))
            center = (x, y)
            if self.refiner is not None:
                center = self._refine(radiograph, center, device)
            if self.geometry.size_mm is not None and radiograph.spacing_xy_mm is None:
                raise InputError(
                    f"{radiograph.path}: this model cuts {self.geometry.size_mm:g} mm patches but "
                    "the image has no pixel spacing; give --pixel-spacing"
                )
            region = self.geometry.region_xy_px(radiograph.spacing_xy_mm)
            patch = crop_patch(radiograph.array, center, self.geometry.size_px, region_xy_px=region)
            x0, y0, x1, y1 = patch_box(center, self.geometry.size_px, region)
            box = (float(x0), float(y0), float(x1), float(y1))
            image = torch.from_numpy(patch)
        else:
            image = Letterbox.fit(radiograph.shape, self.baseline_input_px).apply(pixels)
        self.classifier.eval()
        logit = self.classifier(standardise(image)[None, None].to(device))
        p_aff = float(torch.sigmoid(logit.float())[0])
        return FemurPrediction(
            image=str(radiograph.path) if radiograph.path is not None else "array",
            center_px=center,
            center_mm=None if center is None else radiograph.to_mm(center),
            p_aff=p_aff,
            label=AFF if p_aff >= self.threshold else NFF,
            threshold=self.threshold,
            approach=self.approach,
            patch_box_px=box,
        )

    def _refine(
        self, radiograph: Radiograph, center: tuple[float, float], device: torch.device
    ) -> tuple[float, float]:
        """The second stage: the heatmap peak in the window around the first estimate."""
        assert self.refiner is not None
        self.refiner.eval()
        window, frame = cut_window(radiograph.array, center, radiograph.spacing_xy_mm, self.refine)
        tensor = standardise(torch.from_numpy(window))[None, None].to(device)
        point = decode_heatmap(self.refiner(tensor), self.refine.input_px)[0].cpu().numpy()
        x, y = (float(v) for v in frame.to_original(point))
        return (x, y)

    # ---------------------------------------------------------------- files
    def save(self, folder: str | Path) -> Path:
        """Write ``model.json``, ``classifier.pt`` and (patch approach) ``localizer.pt``.

        A two-stage localizer adds ``refiner.pt`` and a ``refiner`` entry in ``model.json``
        (its backbone, window and input size).
        """
        target = Path(folder)
        target.mkdir(parents=True, exist_ok=True)
        with atomic_path(target / "classifier.pt") as temporary:
            torch.save(self.classifier.state_dict(), temporary)
        if self.localizer is not None:
            with atomic_path(target / "localizer.pt") as temporary:
                torch.save(self.localizer.state_dict(), temporary)
        if self.refiner is not None:
            with atomic_path(target / "refiner.pt") as temporary:
                torch.save(self.refiner.state_dict(), temporary)
        description = {
            "task": TASK,
            "schema_version": SCHEMA_VERSION,
            "approach": self.approach,
            "threshold": self.threshold,
            "model_size": self.model_size,
            "classifier": {"backbone": self.classifier_backbone, "weights": "classifier.pt"},
            "localizer": None
            if self.localizer is None
            else {
                "backbone": self.localizer_backbone,
                "input_px": self.localizer_input_px,
                "weights": "localizer.pt",
            },
            "refiner": None
            if self.refiner is None
            else {
                "backbone": self.localizer_backbone,
                "weights": "refiner.pt",
                "input_px": self.refine.input_px,
                "window_mm": self.refine.window_mm,
                "offset_mm": self.refine.offset_mm,
                "max_offset_mm": self.refine.max_offset_mm,
                "sigma_mm": self.refine.sigma_mm,
            },
            "patch": {"size_px": self.geometry.size_px, "size_mm": self.geometry.size_mm},
            "baseline_input_px": self.baseline_input_px,
            "info": self.info,
        }
        atomic_write_text(target / "model.json", json.dumps(description, indent=2) + "\n")
        return target

    @classmethod
    def load(cls, folder: str | Path, device: torch.device | str = "cpu") -> FemurModel:
        """Load a folder written by :meth:`save`.

        Raises:
            InputError: If the folder is missing, is not a femur model folder, or is damaged.

        """
        source = Path(folder)
        hint = "give a folder such as runs/<experiment>/models/best"
        description_file = source / "model.json"
        if not source.is_dir():
            raise InputError(f"model folder {source} does not exist; {hint}")
        if not description_file.is_file():
            raise InputError(f"{source} is not a fracturelab model folder (no model.json); {hint}")
        try:
            description = json.loads(description_file.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
            raise InputError(f"{description_file} is not valid JSON ({error}); {hint}") from None
        task = description.get("task") if isinstance(description, dict) else None
        if task != TASK:
            raise InputError(
                f"{source} holds a model for task {task!r}, not {TASK!r} (femur AFF/NFF); {hint}"
            )
        try:
            geometry = PatchGeometry(
                int(description["patch"]["size_px"]), description["patch"]["size_mm"]
            )
            size = str(description["model_size"])
            approach = str(description["approach"])
            input_px = (
                geometry.size_px if approach == "patch" else int(description["baseline_input_px"])
            )
            backbone = str(description["classifier"]["backbone"])
            classifier = build_classifier(backbone, input_px, size)
            load_weights(
                classifier, source / description["classifier"]["weights"], device, "model.json"
            )
            localizer = None
            localizer_spec = description.get("localizer")
            if localizer_spec:
                localizer = build_localizer(
                    str(localizer_spec["backbone"]), int(localizer_spec["input_px"]), size
                )
                load_weights(localizer, source / localizer_spec["weights"], device, "model.json")
            refiner, refine = None, RefineGeometry()
            refiner_spec = description.get("refiner")  # absent: a single-stage model folder
            if refiner_spec:
                refine = RefineGeometry(
                    **{k: refiner_spec[k] for k in refiner_spec if k not in ("backbone", "weights")}
                )
                refiner = build_localizer(str(refiner_spec["backbone"]), refine.input_px, size)
                load_weights(refiner, source / refiner_spec["weights"], device, "model.json")
            return cls(
                approach=approach,
                classifier=classifier,
                classifier_backbone=backbone,
                threshold=float(description["threshold"]),
                model_size=size,
                geometry=geometry,
                localizer=localizer,
                localizer_backbone=None if not localizer_spec else localizer_spec["backbone"],
                localizer_input_px=256 if not localizer_spec else int(localizer_spec["input_px"]),
                baseline_input_px=int(description.get("baseline_input_px", 224)),
                refiner=refiner,
                refine=refine,
                info=dict(description.get("info", {})),
            )
        except (KeyError, TypeError, ValueError) as error:
            if isinstance(error, InputError):
                raise
            raise InputError(
                f"{description_file} is incomplete or damaged ({error!r}); {hint}"
            ) from None
