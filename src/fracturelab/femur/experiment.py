"""The femur experiment: localizers, patch vs downsample classifiers, CNN vs ViT.

For each backbone and each cross-validation fold a localizer and two classifiers (patch and
downsample) are trained; out-of-fold validation predictions choose the decision thresholds
and the best models. Final models are then trained on all non-test images for as many epochs
as the slowest fold needed to reach its best validation score, and score the held-out test
set once. Everything is checkpointed in the run folder, so an
interrupted run resumes where it stopped.

With ``devices=N`` every network is trained by N processes together (distributed data
parallel through :func:`fracturelab.training.launch`; ``docs/training.md``, "Several GPUs"):
the splits and ``config.json`` are written before the processes start, every process trains
and predicts the same networks, and rank 0 alone writes the model folders and the report.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Collection
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from fracturelab.errors import InputError
from fracturelab.evaluation import choose_threshold, roc_auc
from fracturelab.femur.bundle import FemurModel
from fracturelab.femur.config import ExperimentConfig
from fracturelab.femur.data import BaselineDataset, PatchDataset, PreparedImage, prepare_image
from fracturelab.femur.inference import predict_probabilities
from fracturelab.femur.localizers import TrainingRunner, median_error
from fracturelab.femur.manifest import Manifest
from fracturelab.femur.networks import build_classifier
from fracturelab.femur.prepare_pool import prepare_images
from fracturelab.femur.presets import APPROACHES
from fracturelab.femur.report import write_report
from fracturelab.femur.result import ExperimentResult, write_predictions
from fracturelab.femur.splits import TEST, Splits, make_splits
from fracturelab.outputs import atomic_write_text
from fracturelab.training.distributed import barrier, is_main_process, launch, setup
from fracturelab.typing import FloatArray, IntArray

# ExperimentResult is re-exported: it is what run_experiment returns.
__all__ = ["ExperimentResult", "run_experiment"]

log = logging.getLogger(__name__)


def _auc(labels: IntArray, p: FloatArray) -> float:
    """AUC, or 0.5 (chance) when only one class is present (a tiny validation fold)."""
    return roc_auc(labels, p) if len(set(labels.tolist())) == 2 else 0.5


class _Runner(TrainingRunner):
    """Trains and predicts; one instance per experiment run."""

    # ------------------------------------------------------------------ classifiers
    def _dataset(
        self, approach: str, chosen: IntArray, centers: FloatArray | None, train: bool
    ) -> torch.utils.data.Dataset[dict[str, torch.Tensor]]:
        images = [self.r.images[i] for i in chosen]
        if approach == "downsample":
            return BaselineDataset(images, augment=train)
        return PatchDataset(
            images,
            self.c.patch,
            centers_xy_px=None if centers is None else centers[chosen],
            jitter_px=self.c.jitter_px if train else 0.0,
            augment=train,
        )

    def _cross_validate(
        self, approach: str, backbone: str, splits: Splits, prefix: str
    ) -> tuple[FloatArray, list[int]]:
        """Out-of-fold P(AFF) of the development images (NaN elsewhere) and best epochs."""
        c, labels = self.c, self.r.labels
        located = self.r.centers[self.r.best_localizer]
        p = np.full(len(labels), np.nan, dtype=np.float32)
        best_epochs = []
        input_px = c.patch.size_px if approach == "patch" else c.baseline_input_px
        for k in range(c.n_folds):
            train, val = splits.fold(k)
            model = self.pretrained(build_classifier(backbone, input_px, c.model_size), backbone)
            val_set = self._dataset(approach, val, located, train=False)
            best_epochs.append(
                self.fit(
                    f"{prefix}fold{k}",
                    model,
                    self._dataset(approach, train, None, train=True),
                    self._classifier_loss(labels[train]),
                    c.classifier_training,
                    lambda m, s=val_set, y=labels[val]: _auc(y, predict_probabilities(m, s)),  # type: ignore[misc]
                )
            )
            p[val] = predict_probabilities(model, val_set)
        return p, best_epochs

    def classifiers(self, approach: str, backbone: str) -> None:
        c, labels = self.c, self.r.labels
        located = self.r.centers[self.r.best_localizer]
        input_px = c.patch.size_px if approach == "patch" else c.baseline_input_px
        p, best_epochs = self._cross_validate(
            approach, backbone, self.r.splits, f"{approach}-{backbone}/"
        )
        if c.repeats > 1:  # the same test set, the development patients in other folds
            repeats = [p.copy()]
            for r in range(1, c.repeats):
                refolded = self.r.splits.refold(c.seed + r)
                name = f"{approach}-{backbone}/repeat{r}/"
                repeats.append(self._cross_validate(approach, backbone, refolded, name)[0])
            self.r.repeat_probabilities[(approach, backbone)] = np.stack(repeats)
        development, test = self.r.splits.development(), self.r.splits.indices(TEST)
        threshold = float(choose_threshold(labels[development], p[development]))
        model = self.pretrained(build_classifier(backbone, input_px, c.model_size), backbone)
        self.fit(
            f"{approach}-{backbone}/final",
            model,
            self._dataset(approach, development, None, train=True),
            self._classifier_loss(labels[development]),
            c.classifier_training,
            None,
            epochs=max(best_epochs),
        )
        p[test] = predict_probabilities(model, self._dataset(approach, test, located, train=False))
        self.r.probabilities[(approach, backbone)] = p
        self.r.thresholds[(approach, backbone)] = threshold
        bundle = FemurModel(
            approach=approach,
            classifier=model,
            classifier_backbone=backbone,
            threshold=threshold,
            model_size=c.model_size,
            geometry=c.patch,
            localizer=self.localizer_models[self.r.best_localizer] if approach == "patch" else None,
            localizer_backbone=self.r.best_localizer if approach == "patch" else None,
            localizer_input_px=c.localizer_input_px,
            refiner=self.refiner_models.get(self.r.best_localizer) if approach == "patch" else None,
            refine=c.refine,
            baseline_input_px=c.baseline_input_px,
            info={
                "experiment": str(self.r.out),
                "validation_auc_out_of_fold": _auc(labels[development], p[development]),
                "threshold_rule": "Youden's J on out-of-fold validation predictions",
            },
        )
        if self.main:
            bundle.save(self.r.out / "models" / f"{approach}-{backbone}")
        self.r.models[(approach, backbone)] = bundle

    @staticmethod
    def _classifier_loss(
        labels: IntArray,
    ) -> Callable[[nn.Module, dict[str, torch.Tensor]], torch.Tensor]:
        positives = max(1, int(labels.sum()))
        pos_weight = torch.tensor((len(labels) - positives) / positives)

        def loss(model: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
            logits = model(batch["image"]).float()
            return torch.nn.functional.binary_cross_entropy_with_logits(
                logits, batch["label"], pos_weight=pos_weight.to(logits.device)
            )

        return loss


def _prepare(
    manifest: Manifest,
    config: ExperimentConfig,
    allow_modalities: Collection[str] = (),
    *,
    reading: _Reading,
) -> list[PreparedImage]:
    """Read every labelled radiograph once (in ``reading.workers`` processes, cached)."""
    refine = config.refine if config.localizer == "two-stage" else None
    params: dict[str, Any] = {
        "localizer_size": config.localizer_input_px,
        "geometry": config.patch,
        "baseline_size": config.baseline_input_px,
        "jitter_px": config.jitter_px,
        "allow_modalities": tuple(sorted(allow_modalities)),
        "refine": refine,
    }
    rows = manifest.labelled().rows
    images = prepare_images(
        rows,
        params,
        workers=reading.workers,
        cache_dir=reading.cache_dir,
        show_progress=reading.show_progress,
    )
    if refine is not None and any(i.refine_cache is None for i in images):
        # a cache written without the refinement windows: read those images once more
        images = [
            i if i.refine_cache is not None else prepare_image(i.row, **params) for i in images
        ]
    if config.patch.size_mm is not None:
        missing = [i.row.image_text for i in images if i.spacing_xy_mm is None]
        if missing:
            raise InputError(
                f"{manifest.path}: a patch size in mm needs the pixel spacing, unknown for "
                f"{len(missing)} image(s) such as {missing[0]}; fill pixel_spacing_mm"
            )
    return images


@dataclass(frozen=True)
class _Reading:
    """How the radiographs are read: worker processes, cache folder, progress bar."""

    workers: int = 1
    cache_dir: Path | None = None
    show_progress: bool = True


def _check_pretrained(config: ExperimentConfig) -> None:
    """Load each ``--pretrained`` file into a classifier of its backbone (raises if not whole)."""
    if not config.pretrained:
        return
    from fracturelab.training.pretrained import load_pretrained

    for backbone, path in config.pretrained.items():
        network = build_classifier(backbone, config.patch.size_px, config.model_size)
        load_pretrained(network, Path(path), backbone=backbone)


def _splits(manifest: Manifest, config: ExperimentConfig, out: Path, write: bool) -> Splits:
    """``splits.csv`` if written, else the (deterministic) split, written when ``write``."""
    path = out / "splits.csv"
    if path.is_file():
        return Splits.read(path, manifest)
    splits = make_splits(manifest, config.n_folds, config.test_fraction, config.seed)
    if write:
        splits.write(path)
    return splits


def run_experiment(
    manifest_path: str | Path,
    out: str | Path,
    config: ExperimentConfig | None = None,
    *,
    show_progress: bool = True,
    allow_modalities: Collection[str] = (),
    devices: int = 1,
    workers: int = 1,
    cache_dir: str | Path | None = None,
) -> ExperimentResult:
    """Run (or resume) the whole femur experiment and write its report.

    Args:
        manifest_path: The manifest CSV (``docs/design.md``, "Femur manifest"); rows need a
            label and a centre.
        out: Run folder. Holds ``config.json``, ``splits.csv``, ``checkpoints/``,
            ``models/`` (``best`` is the patch model with the best validation AUC), and the
            report (``report.md``, ``report.html``, figures, CSV and JSON).
        config: Settings; defaults to :class:`ExperimentConfig`'s.
        show_progress: Show progress bars (Rich).
        allow_modalities: DICOM Modality codes accepted besides CR, DX and DR for the
            manifest's images (``--allow-modality``; see
            :func:`~fracturelab.imaging.read_radiograph`).
        devices: Processes that train each network together (one per GPU; CPU processes
            over ``gloo`` without CUDA or with the device ``"cpu"``); 1 trains here. The
            training settings' ``batch_size`` is the batch of one step over all of them.
        workers: Processes that read the radiographs (``--workers``).
        cache_dir: Folder of prepared images keyed by file content (``--cache-dir``), so a
            rerun decodes nothing again; ``None``: no cache.

    Returns:
        The :class:`ExperimentResult` (rank 0's, once its files are written).

    Raises:
        InputError: For a bad manifest (e.g. one class only), a run folder started with
            other settings, or ``devices`` < 1 or more than the GPUs.

    """
    settings = config or ExperimentConfig()
    if not isinstance(workers, int) or workers < 1:
        raise InputError(f"workers={workers!r} is not valid; give at least 1 worker process")
    folder = Path(out)
    manifest = Manifest.read(manifest_path, allow_modalities=allow_modalities)
    labelled = manifest.labelled()
    if len(labelled) == 0:
        raise InputError(
            f"{manifest.path} has no row with both a label and a centre; the experiment needs "
            "labelled images"
        )
    if min(labelled.class_counts().values()) == 0:
        only = next(k for k, v in labelled.class_counts().items() if v)
        raise InputError(
            f"{manifest.path}: every labelled image is {only}; a classifier needs both AFF and "
            "NFF patients"
        )
    _check_pretrained(settings)  # a file that does not fit is refused before any work
    main = is_main_process()  # False only in a script started by torchrun, on ranks > 0
    if main:
        folder.mkdir(parents=True, exist_ok=True)
        settings.check_same_as_saved(folder / "config.json")
    splits = _splits(manifest, settings, folder, write=main)
    if main:
        atomic_write_text(folder / "config.json", json.dumps(settings.to_dict(), indent=2) + "\n")
    devices_used = {settings.localizer_training.device, settings.classifier_training.device}
    backend = "gloo" if devices_used == {"cpu"} else None
    return launch(
        _run,
        manifest,
        folder,
        settings,
        splits,
        _Reading(workers, None if cache_dir is None else Path(cache_dir), show_progress),
        tuple(allow_modalities),
        devices=devices,
        backend=backend,
    )


def _run(
    manifest: Manifest,
    folder: Path,
    settings: ExperimentConfig,
    splits: Splits,
    reading: _Reading,
    allow_modalities: tuple[str, ...],
) -> ExperimentResult:
    """The training part of :func:`run_experiment`, run by each of its processes.

    Every process trains (together) and predicts the same networks; rank 0 alone shows
    progress and writes the model folders and the report, and the others wait for it at the
    end, so that every process returns once the files exist.
    """
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    run = setup(settings.classifier_training.device)
    columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn()]
    show = reading.show_progress and run.is_main
    reading = replace(reading, show_progress=show)
    images = _prepare(manifest, settings, allow_modalities, reading=reading)
    progress = Progress(*columns, TimeElapsedColumn(), disable=not show)
    with progress:
        result = ExperimentResult(
            folder, settings, images, splits, {}, {}, {}, settings.backbones[0], {},
            manifest=manifest.path,
            notes=list(manifest.notes),
        )  # fmt: skip
        runner = _Runner(result, progress if run.is_main else None, main=run.is_main)
        for backbone in settings.backbones:
            runner.localizers(backbone)
        development = [images[i] for i in splits.development()]
        result.best_localizer = min(
            settings.backbones,
            key=lambda b: median_error(result.centers[b][splits.development()], development),
        )
        for approach in APPROACHES:
            for backbone in settings.backbones:
                runner.classifiers(approach, backbone)
    _choose_best(result, write=run.is_main)
    if run.is_main:
        write_predictions(result)
        write_report(result)
    barrier(run)  # the other processes return once rank 0's files are written
    if run.enabled and run.is_main:
        # Rank 0's result travels to the launching process by pickle; the report's Grad-CAM
        # leaves hooks on the networks that cannot be pickled, so the saved models go instead.
        result.models = {
            (approach, backbone): FemurModel.load(result.out / "models" / f"{approach}-{backbone}")
            for approach, backbone in result.models
        }
    return result


def _choose_best(result: ExperimentResult, write: bool = True) -> None:
    """Copy the patch model with the best out-of-fold AUC to ``models/best``."""
    development = result.splits.development()
    labels = result.labels[development]
    best = max(
        result.config.backbones,
        key=lambda b: _auc(labels, result.probabilities[("patch", b)][development]),
    )
    if write:
        result.models[("patch", best)].save(result.out / "models" / "best")
    result.notes.append(
        f"models/best is the patch classifier with the {best} backbone (highest out-of-fold "
        f"validation AUC) with the {result.best_localizer} localizer (lowest out-of-fold error)"
    )
