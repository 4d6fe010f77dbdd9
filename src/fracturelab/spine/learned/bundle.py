"""A trained spine model folder: the fold networks and what they expect, saved and loaded whole.

``models/best/`` of a run holds ``spine_model.json`` (``task: "spine"``, backbone, size,
patch spec and shape, channels, decision threshold, training data summary, metrics,
fracturelab version) and one weights file per fold (``fold0.pt``, ...). The model's output
is the folds' mean (:mod:`fracturelab.spine.learned.inference`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from fracturelab import __version__
from fracturelab.errors import InputError
from fracturelab.outputs import atomic_path, atomic_write_text
from fracturelab.spine.learned.inference import VertebraOutputs, predict_outputs
from fracturelab.spine.learned.network import SpineNet, build_spine_network
from fracturelab.training.weights import load_weights
from fracturelab.typing import FloatArray, PathLike

__all__ = ["MODEL_FILE", "SCHEMA_VERSION", "TASK", "SpineModel"]

TASK = "spine"
SCHEMA_VERSION = "1.0"
#: Description file of a spine model folder.
MODEL_FILE = "spine_model.json"
_HINT = "give a folder such as runs/<spine run>/models/best"


@dataclass
class SpineModel:
    """Everything needed to classify vertebra patches, as one object and one folder.

    Attributes:
        networks: The fold networks (their mean is the output).
        backbone: ``"cnn"`` or ``"vit"``.
        model_size: Size preset.
        shape: Patch ``(D, H, W)`` in voxels.
        channels: Input channels, in order (``ct``, ``mask``, ``neighbours``).
        fuse_morphometry: Whether the networks take the morphometry features.
        threshold: Decision threshold on P(fracture), chosen on out-of-fold validation data.
        patch_spec: How patches are cut: the training cache's ``spec.json`` document; cut
            inputs with ``PatchSpec.from_dict(patch_spec["spec"])``
            (:mod:`fracturelab.spine.patches`, not imported here so that the pipeline may
            import this module without a cycle).
        training_data: Training data summary (cases, patients, vertebrae per grade).
        metrics: Metrics summary (validation and test), when known.
        info: Free-form provenance.

    """

    networks: list[SpineNet]
    backbone: str
    model_size: str
    shape: tuple[int, int, int]
    channels: tuple[str, ...] = ("ct", "mask", "neighbours")
    fuse_morphometry: bool = False
    threshold: float = 0.5
    patch_spec: dict[str, Any] = field(default_factory=dict)
    training_data: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def needs_mask(self) -> bool:
        """Whether inputs need the vertebra label map (any channel besides the CT)."""
        return any(channel != "ct" for channel in self.channels)

    def check_patches(self, patches: Sequence[FloatArray], source: str = "the input") -> None:
        """Refuse patches this model was not trained on, with one line.

        Raises:
            InputError: If a patch's channels or shape differ from the model's.

        """
        expected = (len(self.channels), *self.shape)
        for patch in patches:
            if self.needs_mask and patch.shape[0] == 1:
                raise InputError(
                    f"{source}: a CT without its vertebra mask was given, but this model reads "
                    f"the channels {', '.join(self.channels)}; give the label map (--vertebrae)"
                )
            if tuple(patch.shape) != expected:
                raise InputError(
                    f"{source}: patch of shape {tuple(patch.shape)} does not fit this model, "
                    f"which takes {expected} (channels {', '.join(self.channels)}); cut patches "
                    "with the model's patch spec (spine_model.json)"
                )

    def predict(
        self,
        patches: Sequence[FloatArray],
        morphometry: Sequence[FloatArray] | None = None,
        batch_size: int = 16,
    ) -> VertebraOutputs:
        """Per-vertebra probabilities for ``(C, D, H, W)`` patches.

        Args:
            patches: Patches cut with :attr:`patch_spec`.
            morphometry: ``(2,)`` features per patch
                (:func:`~fracturelab.spine.learned.data.morphometry_features`); required when
                :attr:`fuse_morphometry`.
            batch_size: Patches per forward pass.

        Raises:
            InputError: For patches of another shape, or missing morphometry.

        """
        self.check_patches(patches)
        if self.fuse_morphometry and morphometry is None:
            raise InputError(
                "this model fuses morphometry; give each vertebra's height loss and "
                "morphometric grade (run morphometry first)"
            )
        return predict_outputs(
            self.networks, patches, morphometry if self.fuse_morphometry else None, batch_size
        )

    # ---------------------------------------------------------------- files
    def save(self, folder: PathLike) -> Path:
        """Write ``spine_model.json`` and ``fold<k>.pt``."""
        target = Path(folder)
        target.mkdir(parents=True, exist_ok=True)
        weights = []
        for k, network in enumerate(self.networks):
            name = f"fold{k}.pt"
            with atomic_path(target / name) as temporary:
                torch.save(network.state_dict(), temporary)
            weights.append(name)
        description = {
            "task": TASK,
            "schema_version": SCHEMA_VERSION,
            "fracturelab_version": __version__,
            "backbone": self.backbone,
            "model_size": self.model_size,
            "patch_shape": list(self.shape),
            "channels": list(self.channels),
            "fuse_morphometry": self.fuse_morphometry,
            "threshold": self.threshold,
            "weights": weights,
            "patch_spec": self.patch_spec,
            "training_data": self.training_data,
            "metrics": self.metrics,
            "info": self.info,
        }
        atomic_write_text(target / MODEL_FILE, json.dumps(description, indent=2) + "\n")
        return target

    @classmethod
    def load(cls, folder: PathLike, device: torch.device | str = "cpu") -> SpineModel:
        """Load a folder written by :meth:`save`.

        Raises:
            InputError: If the folder is missing, holds a femur (or other) model, has no
                ``spine_model.json``, or is damaged.

        """
        source = Path(folder)
        file = source / MODEL_FILE
        if not source.is_dir():
            raise InputError(f"model folder {source} does not exist; {_HINT}")
        if not file.is_file():
            femur = source / "model.json"
            if femur.is_file():
                raise InputError(
                    f"{source} holds a femur model (model.json), not a spine model; {_HINT}"
                )
            raise InputError(f"{source} is not a spine model folder (no {MODEL_FILE}); {_HINT}")
        try:
            description = json.loads(file.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
            raise InputError(f"{file} is not valid JSON ({error}); {_HINT}") from None
        task = description.get("task") if isinstance(description, dict) else None
        if task != TASK:
            raise InputError(f"{source} holds a model for task {task!r}, not 'spine'; {_HINT}")
        try:
            depth, height, width = (int(v) for v in description["patch_shape"])
            shape = (depth, height, width)
            channels = tuple(str(c) for c in description["channels"])
            backbone = str(description["backbone"])
            size = str(description["model_size"])
            fuse = bool(description["fuse_morphometry"])
            if not description["weights"]:
                raise ValueError("weights lists no file")
            networks = []
            for name in description["weights"]:
                network = build_spine_network(backbone, shape, len(channels), size, fuse)
                load_weights(network, source / name, device, MODEL_FILE)
                networks.append(network)
            return cls(
                networks=networks,
                backbone=backbone,
                model_size=size,
                shape=shape,
                channels=channels,
                fuse_morphometry=fuse,
                threshold=float(description["threshold"]),
                patch_spec=dict(description.get("patch_spec", {})),
                training_data=dict(description.get("training_data", {})),
                metrics=dict(description.get("metrics", {})),
                info={
                    **dict(description.get("info", {})),
                    "fracturelab_version": description.get("fracturelab_version"),
                },
            )
        except (KeyError, TypeError, ValueError) as error:
            if isinstance(error, InputError):
                raise
            raise InputError(f"{file} is incomplete or damaged ({error!r}); {_HINT}") from None
