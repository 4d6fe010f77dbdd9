"""Training the femur localizers: the reduced-image stage and the near-native refinement.

Stage 1 finds the fracture on the whole radiograph letterboxed to ``localizer_input_px``
(at 256 px one input pixel is 1-2 mm, too coarse for a 0.5 mm gap). With the two-stage
localizer, stage 2 looks again at a window of ``refine.window_mm`` around stage 1's estimate,
resampled to ``refine.input_px`` (0.25 mm per pixel by default), and is trained on windows
around the true centre moved by a simulated stage-1 error. Its cross-validation models
are scored on the out-of-fold stage-1 estimates of their validation images, so the
reported stage-2 error is what the two stages achieve together on unseen images.

Convergence: the heatmap target's width is set in mm (``heatmap_sigma_mm``, ``refine.sigma_mm``)
and converted per image, so a 900 px and a 3500 px radiograph get the same physical target;
and an epoch of a localizer is at least :data:`MIN_STEPS_PER_EPOCH` optimiser steps (the
training images are drawn again, with new augmentation and new simulated stage-1 errors),
so that with a small data set early stopping does not judge a network after a handful of
steps (the cause of localizers that "kept epoch 1" on 100-300 images).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from fracturelab.evaluation import localisation_errors
from fracturelab.femur.data import LocalizerDataset, PreparedImage, RefineDataset
from fracturelab.femur.heatmap import heatmap_loss
from fracturelab.femur.inference import predict_centers, refine_centers
from fracturelab.femur.networks import build_localizer
from fracturelab.femur.result import ExperimentResult
from fracturelab.femur.splits import TEST
from fracturelab.training.trainer import TrainConfig, fit
from fracturelab.typing import FloatArray

__all__ = ["MIN_STEPS_PER_EPOCH", "TrainingRunner", "median_error"]

#: Fewest optimiser steps in one epoch of a localizer (small data sets draw images again).
MIN_STEPS_PER_EPOCH = 25


class _Repeated(torch.utils.data.Dataset[dict[str, torch.Tensor]]):
    """``dataset`` drawn ``times`` times over in one epoch (items are augmented anew)."""

    def __init__(
        self, dataset: torch.utils.data.Dataset[dict[str, torch.Tensor]], n: int, times: int
    ) -> None:
        self.dataset, self.n, self.times = dataset, n, times

    def __len__(self) -> int:
        return self.n * self.times

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return self.dataset[index % self.n]


def median_error(centers: FloatArray, images: list[PreparedImage]) -> float:
    """Median distance to the true centres: mm when every image has a spacing, else px."""
    truth = [image.center_xy_px for image in images]
    spacing = [image.spacing_xy_mm for image in images]
    if all(s is not None for s in spacing):
        errors = localisation_errors(centers, truth, np.asarray(spacing, dtype=np.float64))
        return float(np.median(errors.mm))
    return float(np.median(localisation_errors(centers, truth).px))


class TrainingRunner:
    """Trains networks into the run folder; the localizer part of the experiment."""

    def __init__(self, result: ExperimentResult, progress: Any, main: bool = True) -> None:
        self.r = result
        self.c = result.config
        self.progress = progress
        self.main = main  # whether this process writes files (rank 0)
        self.checkpoints = result.out / "checkpoints"
        self.localizer_models: dict[str, nn.Module] = {}
        self.refiner_models: dict[str, nn.Module] = {}

    def fit(
        self,
        name: str,
        model: nn.Module,
        train_set: torch.utils.data.Dataset[dict[str, torch.Tensor]],
        loss_fn: Callable[[nn.Module, Any], torch.Tensor],
        training: TrainConfig,
        validate: Callable[[nn.Module], float] | None,
        epochs: int | None = None,
    ) -> int:
        """Train (or resume) one network; returns the epoch whose weights were kept."""
        if epochs is not None:
            training = TrainConfig(**{**training.__dict__, "max_epochs": epochs})
        outcome = fit(
            model,
            train_set,
            loss_fn,
            training,
            self.checkpoints / name,
            validate=validate,
            description=name,
            progress=self.progress,
        )
        self.r.history[name] = list(outcome.history)
        if validate is not None:
            self.r.best_epochs[name] = outcome.best_epoch
        if self.progress is not None:
            score = (
                "" if outcome.best_score is None else f", validation score {outcome.best_score:.3f}"
            )
            done = f"{outcome.epochs_run} epochs" + (" (resumed)" if outcome.resumed else "")
            self.progress.console.print(f"{name}: {done}, kept epoch {outcome.best_epoch}{score}")
        return outcome.best_epoch

    # ------------------------------------------------------------------ losses
    def _loss(self, input_px: int) -> Callable[[nn.Module, dict[str, torch.Tensor]], torch.Tensor]:
        def loss(model: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
            return heatmap_loss(model(batch["image"]), batch["center"], input_px, batch["sigma"])

        return loss

    def pretrained(self, network: nn.Module, backbone: str) -> nn.Module:
        """Load the ``--pretrained`` weights of ``backbone`` into ``network``, if any."""
        path = self.c.pretrained.get(backbone)
        if path is not None:
            from fracturelab.training.pretrained import load_pretrained

            load_pretrained(network, Path(path), backbone=backbone)
        return network

    def _stage1(self, backbone: str) -> nn.Module:
        network = build_localizer(backbone, self.c.localizer_input_px, self.c.model_size)
        return self.pretrained(network, backbone) if backbone == "vit" else network

    def _stage2(self, backbone: str) -> nn.Module:
        network = build_localizer(backbone, self.c.refine.input_px, self.c.model_size)
        return self.pretrained(network, backbone) if backbone == "vit" else network

    def _epoch(
        self, dataset: torch.utils.data.Dataset[dict[str, torch.Tensor]], n: int
    ) -> torch.utils.data.Dataset[dict[str, torch.Tensor]]:
        """At least :data:`MIN_STEPS_PER_EPOCH` steps of localizer training per epoch."""
        wanted = MIN_STEPS_PER_EPOCH * self.c.localizer_training.batch_size
        times = max(1, math.ceil(wanted / max(1, n)))
        return dataset if times == 1 else _Repeated(dataset, n, times)

    def _stage1_set(
        self, chosen: list[PreparedImage]
    ) -> torch.utils.data.Dataset[dict[str, torch.Tensor]]:
        dataset = LocalizerDataset(chosen, augment=True, sigma_mm=self.c.heatmap_sigma_mm)
        return self._epoch(dataset, len(chosen))

    def _stage2_set(
        self, chosen: list[PreparedImage]
    ) -> torch.utils.data.Dataset[dict[str, torch.Tensor]]:
        return self._epoch(RefineDataset(chosen, self.c.refine), len(chosen))

    # ------------------------------------------------------------------ training
    def localizers(self, backbone: str) -> None:
        """Cross-validate and train the final localizer(s) of one backbone.

        Fills ``result.centers[backbone]`` (the final stage's estimates) and, for the
        two-stage localizer, ``result.coarse_centers[backbone]`` (stage 1's): out-of-fold
        for development images, from the final models for test images.
        """
        c, images = self.c, self.r.images
        two_stage = c.localizer == "two-stage"
        coarse = np.full((len(images), 2), np.nan, dtype=np.float32)
        fine = np.full((len(images), 2), np.nan, dtype=np.float32)
        stage1_epochs, stage2_epochs = [], []
        for k in range(c.n_folds):
            train, val = self.r.splits.fold(k)
            train_images = [images[i] for i in train]
            val_images = [images[i] for i in val]
            model = self._stage1(backbone)
            stage1_epochs.append(
                self.fit(
                    f"localizer-{backbone}/fold{k}",
                    model,
                    self._stage1_set(train_images),
                    self._loss(c.localizer_input_px),
                    c.localizer_training,
                    lambda m, v=val_images: -median_error(predict_centers(m, v), v),  # type: ignore[misc]
                )
            )
            coarse[val] = predict_centers(model, val_images)
            if not two_stage:
                continue
            refiner = self._stage2(backbone)
            start = coarse[val]
            stage2_epochs.append(
                self.fit(
                    f"refiner-{backbone}/fold{k}",
                    refiner,
                    self._stage2_set(train_images),
                    self._loss(c.refine.input_px),
                    c.localizer_training,
                    lambda m, v=val_images, s=start: (
                        -median_error(  # type: ignore[misc]
                            refine_centers(m, v, s, c.refine), v
                        )
                    ),
                )
            )
            fine[val] = refine_centers(refiner, val_images, start, c.refine)
        test = self.r.splits.indices(TEST)
        test_images = [images[i] for i in test]
        development = [images[i] for i in self.r.splits.development()]
        final = self._stage1(backbone)
        self.fit(
            f"localizer-{backbone}/final",
            final,
            self._stage1_set(development),
            self._loss(c.localizer_input_px),
            c.localizer_training,
            None,
            epochs=max(stage1_epochs),
        )
        coarse[test] = predict_centers(final, test_images)
        self.localizer_models[backbone] = final
        if two_stage:
            refiner = self._stage2(backbone)
            self.fit(
                f"refiner-{backbone}/final",
                refiner,
                self._stage2_set(development),
                self._loss(c.refine.input_px),
                c.localizer_training,
                None,
                epochs=max(stage2_epochs),
            )
            fine[test] = refine_centers(refiner, test_images, coarse[test], c.refine)
            self.refiner_models[backbone] = refiner
            self.r.coarse_centers[backbone] = coarse
            self.r.centers[backbone] = fine
        else:
            self.r.centers[backbone] = coarse
