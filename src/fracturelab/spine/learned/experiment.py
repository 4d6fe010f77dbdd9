"""Training the spine classifier: patient-grouped folds, one network per fold, predictions.

``train_spine(cache_dir, out_dir, config)`` splits the graded vertebrae of a patch cache by
patient (:mod:`.splits`; ``splits.csv`` is written once and reused), trains one network per
fold with :func:`fracturelab.training.fit` (early stopping on the validation fold,
checkpoints, resume after interruption, fixed seeds, AMP on CUDA), predicts each fold's
validation vertebrae (out-of-fold) and the test vertebrae (mean of the fold networks), and
writes ``predictions.csv``, ``config.json`` and the model folder ``models/best``. A rerun
of a finished run trains nothing: each fold's finished checkpoint is loaded.

With ``devices=N`` the folds are trained by N processes together (distributed data parallel
through :func:`fracturelab.training.launch`; ``docs/training.md``, "Several GPUs"): the splits
and ``config.json`` are written before the processes start, every process trains and predicts
the same networks, and rank 0 alone writes ``predictions.csv``, the model folder and the
report.
"""

from __future__ import annotations

import json
import math
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from fracturelab.errors import InputError
from fracturelab.evaluation import choose_threshold, roc_auc, weighted_kappa
from fracturelab.outputs import atomic_write_text, write_csv
from fracturelab.spine.learned.bundle import SpineModel
from fracturelab.spine.learned.config import MORPHOLOGIES, SpineTrainingConfig
from fracturelab.spine.learned.data import (
    CacheIndex,
    VertebraDataset,
    VertebraRecord,
    load_patches,
    morphometry_features,
    summarise,
)
from fracturelab.spine.learned.evaluation import evaluate
from fracturelab.spine.learned.gallery import draw_error_gallery
from fracturelab.spine.learned.inference import VertebraOutputs, predict_outputs
from fracturelab.spine.learned.losses import SpineLoss
from fracturelab.spine.learned.network import SpineNet, build_spine_network
from fracturelab.spine.learned.pretrain_model import load_encoder
from fracturelab.spine.learned.pseudo_labels import for_training, load_pseudo_labels
from fracturelab.spine.learned.report import write_report
from fracturelab.spine.learned.splits import TEST, SpineSplits, make_spine_splits
from fracturelab.training.distributed import barrier, is_main_process, launch, setup
from fracturelab.training.trainer import TrainConfig, fit
from fracturelab.typing import FloatArray, IntArray

__all__ = ["PREDICTION_COLUMNS", "SpineRun", "train_spine"]

#: Columns of ``predictions.csv`` (one row per vertebra; ``fold`` is empty for test rows,
#: which the mean of the fold networks predicts).
PREDICTION_COLUMNS: tuple[str, ...] = (
    "case_id", "patient_id", "level", "split", "fold", "genant_grade", "morphology",
    "fracture_probability", "p_grade_ge2", "p0", "p1", "p2", "p3", "predicted_grade",
    "predicted_morphology", "height_loss_pct", "morph_grade",
)  # fmt: skip
_DEFAULT_CHANNELS = ("ct", "mask", "neighbours")


@dataclass
class SpineRun:
    """What :func:`train_spine` did.

    Attributes:
        out: Run folder.
        predictions: ``predictions.csv``.
        model_dir: ``models/best``.
        splits: The patient-grouped splits.
        training_data: Summary of the graded vertebrae used.
        metrics: Validation (out-of-fold) and test metrics summary.
        folds: Per fold: best epoch, epochs run, whether it was resumed or already done.
        skipped: Cache rows without a patch (failed scans), each with its reason.

    """

    out: Path
    predictions: Path
    model_dir: Path
    splits: SpineSplits
    training_data: dict[str, Any]
    metrics: dict[str, Any]
    folds: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)


def _score(outputs: VertebraOutputs, grades: IntArray) -> float:
    """Early-stopping score: mean of AUC(grade >= 1) and quadratic kappa (chance = 0.5 / 0)."""
    fractured = (grades >= 1).astype(np.int64)
    auc = (
        roc_auc(fractured, outputs.fracture_probability)
        if 0 < fractured.sum() < len(grades)
        else 0.5
    )
    kappa = weighted_kappa(grades.tolist(), outputs.predicted_grade.tolist()).kappa
    return (auc + (0.0 if math.isnan(kappa) else kappa)) / 2.0


def _metrics(grades: IntArray, outputs: VertebraOutputs) -> dict[str, float | None]:
    """AUC for grade >= 1 and >= 2 and quadratic kappa, ``None`` where undefined."""

    def auc(labels: IntArray, p: FloatArray | np.ndarray) -> float | None:
        return roc_auc(labels, p) if 0 < labels.sum() < len(labels) else None

    kappa = weighted_kappa(grades.tolist(), outputs.predicted_grade.tolist()).kappa
    return {
        "vertebrae": len(grades),
        "auc_grade_ge1": auc((grades >= 1).astype(np.int64), outputs.fracture_probability),
        "auc_grade_ge2": auc((grades >= 2).astype(np.int64), outputs.p_grade_ge2),
        "quadratic_kappa": None if math.isnan(kappa) else kappa,
    }


class _Runner:
    """Trains the folds of one run."""

    def __init__(
        self,
        config: SpineTrainingConfig,
        out: Path,
        records: list[VertebraRecord],
        patches: list[FloatArray],
        progress: Any,
    ) -> None:
        self.c = config
        self.out = out
        self.records = records
        self.patches = patches
        self.morphometry = [morphometry_features(r.height_loss_pct, r.morph_grade) for r in records]
        self.grades = np.array([r.genant_grade for r in records], dtype=np.int64)
        self.progress = progress
        self.pseudo: list[VertebraRecord] = []
        self.pseudo_patches: list[FloatArray] = []
        self.held_out: set[str] = set()  # patients of the test set
        depth, height, width = patches[0].shape[1:]
        self.shape = (int(depth), int(height), int(width))
        self.channels = patches[0].shape[0]

    def network(self) -> SpineNet:
        network = build_spine_network(
            self.c.backbone, self.shape, self.channels, self.c.model_size, self.c.fuse_morphometry
        )
        if self.c.init is not None:
            load_encoder(network, self.c.init, self.c.backbone, self.c.model_size)
        return network

    def outputs(self, networks: list[SpineNet], chosen: IntArray) -> VertebraOutputs:
        morphometry = [self.morphometry[i] for i in chosen] if self.c.fuse_morphometry else None
        return predict_outputs(networks, [self.patches[i] for i in chosen], morphometry)

    def train_fold(
        self, k: int, train: IntArray, validation: IntArray
    ) -> tuple[SpineNet, dict[str, Any]]:
        torch.manual_seed(self.c.seed + k)
        network = self.network()
        records = [self.records[i] for i in train]
        patches = [self.patches[i] for i in train]
        augmentation: dict[str, Any] = {
            "augment": self.c.augment,
            "max_rotation_deg": self.c.max_rotation_deg,
            "max_shift_vox": self.c.max_shift_vox,
            "seed": self.c.seed + k,
        }
        held_out = self.held_out | {self.records[i].patient_id for i in validation}
        extra = for_training(self.pseudo, held_out) if self.c.pseudo_labels else []
        weights = [1.0] * len(records) + [self.c.pseudo_weight] * len(extra)
        records += [self.pseudo[i] for i in extra]
        patches += [self.pseudo_patches[i] for i in extra]
        morphologies = [
            -1 if r.morphology is None else MORPHOLOGIES.index(r.morphology) for r in records
        ]
        grades = [r.genant_grade for r in records]
        dataset = VertebraDataset(records, patches, **augmentation, weights=weights)
        loss = SpineLoss(grades, morphologies, self.c.morphology_weight, self.c.fuse_morphometry)
        truth = self.grades[validation]

        def validate(model: torch.nn.Module) -> float:
            return _score(self.outputs([model], validation), truth)  # type: ignore[list-item]

        training = TrainConfig(**{**self.c.training.__dict__, "seed": self.c.seed + k})
        outcome = fit(
            network,
            dataset,
            loss,
            training,
            self.out / "checkpoints" / f"fold{k}",
            validate=validate,
            description=f"fold {k}",
            progress=self.progress,
        )
        if self.progress is not None:
            done = f"{outcome.epochs_run} epochs" + (" (resumed)" if outcome.resumed else "")
            score = (
                "" if outcome.best_score is None else f", validation score {outcome.best_score:.3f}"
            )
            self.progress.console.print(f"fold {k}: {done}, kept epoch {outcome.best_epoch}{score}")
        return network, {
            "fold": k,
            "pseudo_labelled": len(extra),
            "best_epoch": outcome.best_epoch,
            "best_score": outcome.best_score,
            "epochs_run": outcome.epochs_run,
            "resumed": outcome.resumed,
        }


def _splits(
    records: list[VertebraRecord], config: SpineTrainingConfig, out: Path, write: bool
) -> SpineSplits:
    """``splits.csv`` if written, else the (deterministic) split, written when ``write``."""
    path = out / "splits.csv"
    if path.is_file():
        return SpineSplits.read(path, records)
    splits = make_spine_splits(records, config.n_folds, config.test_fraction, config.seed)
    if write:
        splits.write(path)
    return splits


def _rows(
    records: list[VertebraRecord],
    assignment: list[str],
    outputs: dict[int, tuple[VertebraOutputs, int]],
    fold_of: dict[int, str],
) -> list[dict[str, Any]]:
    rows = []
    for i, record in enumerate(records):
        result, j = outputs[i]
        p = result.grade_probabilities[j]
        rows.append(
            {
                "case_id": record.case_id,
                "patient_id": record.patient_id,
                "level": record.level,
                "split": "test" if assignment[i] == TEST else "validation",
                "fold": fold_of.get(i, ""),
                "genant_grade": record.genant_grade,
                "morphology": record.morphology or "",
                "fracture_probability": round(float(result.fracture_probability[j]), 6),
                "p_grade_ge2": round(float(result.p_grade_ge2[j]), 6),
                **{f"p{g}": round(float(p[g]), 6) for g in range(4)},
                "predicted_grade": int(result.predicted_grade[j]),
                "predicted_morphology": result.predicted_morphology[j],
                "height_loss_pct": ""
                if math.isnan(record.height_loss_pct)
                else round(record.height_loss_pct, 3),
                "morph_grade": "" if record.morph_grade is None else record.morph_grade,
            }
        )
    return rows


def _report(
    predictions: Path,
    folder: Path,
    runner: _Runner,
    networks: list[SpineNet],
    fold_of: dict[int, str],
    n_bootstrap: int,
) -> None:
    """Evaluate ``predictions.csv`` and write the report, with the worst errors' Grad-CAM."""
    evaluation = evaluate(predictions, n_boot=n_bootstrap, seed=runner.c.seed)
    worst = evaluation.to_dict()["worst_errors"]
    where = {(r.case_id, r.level): i for i, r in enumerate(runner.records)}
    chosen = [where[(str(w["case_id"]), str(w["level"]))] for w in worst]
    keys = [(runner.records[i].case_id, runner.records[i].level) for i in chosen]
    nets = {
        key: [networks[int(fold_of[i])]] if i in fold_of else networks
        for key, i in zip(keys, chosen, strict=True)
    }
    with tempfile.TemporaryDirectory() as scratch:
        gallery = draw_error_gallery(
            worst,
            {key: runner.patches[i] for key, i in zip(keys, chosen, strict=True)},
            nets,
            runner.c.backbone,
            Path(scratch),
            {key: runner.morphometry[i] for key, i in zip(keys, chosen, strict=True)},
        )
        write_report(evaluation, folder, gallery=gallery)


def _channel_names(spec: dict[str, Any], count: int) -> tuple[str, ...]:
    """The cache's channel names (``spec.json``), else the default three, else numbered."""
    names = tuple(str(c) for c in spec.get("channels", _DEFAULT_CHANNELS))
    if len(names) == count:
        return names
    return _DEFAULT_CHANNELS if count == 3 else tuple(f"channel{i}" for i in range(count))


def train_spine(
    cache_dir: str | Path,
    out_dir: str | Path,
    config: SpineTrainingConfig | None = None,
    *,
    show_progress: bool = True,
    report: bool = True,
    n_bootstrap: int = 2000,
    devices: int = 1,
) -> SpineRun:
    """Train (or resume) the spine classifier on a patch cache.

    Args:
        cache_dir: Patch cache folder (``index.csv``, ``spec.json``; see :mod:`.data`).
        out_dir: Run folder: ``config.json``, ``splits.csv``, ``checkpoints/fold<k>/``,
            ``predictions.csv`` (one row per graded vertebra, columns
            :data:`PREDICTION_COLUMNS`) and ``models/best/`` (:class:`SpineModel`).
        config: Settings; defaults to :class:`SpineTrainingConfig`'s.
        show_progress: Show progress bars (Rich).
        report: Evaluate the predictions by the VerSe protocol and write ``report.md``,
            ``report.html``, ``metrics.json``, ``metrics.csv`` and ``figures/`` (with a
            Grad-CAM gallery of the worst errors) into the run folder.
        n_bootstrap: Bootstrap resamples (by patient) of the report's intervals.
        devices: Processes that train each fold network together (one per GPU; CPU
            processes over ``gloo`` without CUDA or with ``device="cpu"``); 1 trains here.
            ``config.training.batch_size`` is the batch of one step over all of them.

    Returns:
        The :class:`SpineRun` (rank 0's, once its files are written).

    Raises:
        InputError: For a cache without graded vertebrae, a dataset that cannot be split
            (no fracture, too few patients), a run folder started with other settings, or
            ``devices`` < 1 or more than the GPUs.

    """
    settings = config or SpineTrainingConfig()
    folder = Path(out_dir)
    cache = CacheIndex.read(cache_dir)
    records = cache.records()
    if not records:
        raise InputError(
            f"{cache.folder / 'index.csv'} has no graded vertebra with a patch; training needs "
            "scans with a label map and grades"
        )
    main = is_main_process()  # False only in a script started by torchrun, on ranks > 0
    if main:
        folder.mkdir(parents=True, exist_ok=True)
        settings.check_same_as_saved(folder / "config.json")
    splits = _splits(records, settings, folder, write=main)
    if main:
        atomic_write_text(folder / "config.json", json.dumps(settings.to_dict(), indent=2) + "\n")
    backend = "gloo" if settings.training.device == "cpu" else None
    return launch(
        _train,
        cache.folder,
        folder,
        settings,
        splits,
        show_progress,
        report,
        n_bootstrap,
        devices=devices,
        backend=backend,
    )


def _train(
    cache_dir: Path,
    folder: Path,
    settings: SpineTrainingConfig,
    splits: SpineSplits,
    show_progress: bool,
    report: bool,
    n_bootstrap: int,
) -> SpineRun:
    """The training part of :func:`train_spine`, run by each of its processes.

    Every process trains (together) and predicts the same networks; rank 0 alone shows
    progress and writes ``predictions.csv``, the model folder and the report, and the others
    wait for it at the end, so that every process returns once the files exist.
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    run = setup(settings.training.device)
    cache = CacheIndex.read(cache_dir)
    records = cache.records()
    assignment = splits.assignment(records)

    columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn()]
    progress = Progress(*columns, TimeElapsedColumn(), disable=not (show_progress and run.is_main))
    with progress:
        task = progress.add_task("reading patches", total=1)
        patches = load_patches(records)
        progress.update(task, completed=1)
        runner = _Runner(settings, folder, records, patches, progress if run.is_main else None)
        runner.held_out = {records[i].patient_id for i in splits.indices(records, TEST)}
        if settings.pseudo_labels:
            runner.pseudo, runner.pseudo_patches = load_pseudo_labels(
                cache, settings, patches[0].shape
            )
        networks: list[SpineNet] = []
        folds: list[dict[str, Any]] = []
        outputs: dict[int, tuple[VertebraOutputs, int]] = {}
        fold_of: dict[int, str] = {}
        for k in range(settings.n_folds):
            train, validation = splits.fold(records, k)
            network, info = runner.train_fold(k, train, validation)
            networks.append(network)
            folds.append(info)
            result = runner.outputs([network], validation)
            for j, i in enumerate(validation):
                outputs[int(i)] = (result, j)
                fold_of[int(i)] = str(k)
        test = splits.indices(records, TEST)
        test_outputs = runner.outputs(networks, test)
        for j, i in enumerate(test):
            outputs[int(i)] = (test_outputs, j)

    development = np.flatnonzero(np.asarray(assignment) != TEST)
    grades = runner.grades
    oof = VertebraOutputs(
        np.array(
            [outputs[int(i)][0].fracture_probability[outputs[int(i)][1]] for i in development]
        ),
        np.array([outputs[int(i)][0].grade_above[outputs[int(i)][1]] for i in development]),
        np.array(
            [outputs[int(i)][0].morphology_probabilities[outputs[int(i)][1]] for i in development]
        ),
    )
    threshold = float(
        choose_threshold((grades[development] >= 1).astype(np.int64), oof.fracture_probability)
    )
    metrics = {
        "validation_out_of_fold": _metrics(grades[development], oof),
        "test": _metrics(grades[test], test_outputs),
        "threshold": threshold,
        "threshold_rule": "Youden's J on out-of-fold validation P(fracture)",
    }
    predictions = folder / "predictions.csv"
    if run.is_main:
        write_csv(predictions, PREDICTION_COLUMNS, _rows(records, assignment, outputs, fold_of))
    training_data = summarise(records)
    model = SpineModel(
        networks=networks,
        backbone=settings.backbone,
        model_size=settings.model_size,
        shape=runner.shape,
        channels=_channel_names(cache.spec, runner.channels),
        fuse_morphometry=settings.fuse_morphometry,
        threshold=threshold,
        patch_spec=cache.spec,
        training_data=training_data,
        metrics=metrics,
        info={"run": str(folder), "folds": folds},
    )
    model_dir = folder / "models" / "best"
    if run.is_main:
        model.save(model_dir)
        if report:
            _report(predictions, folder, runner, networks, fold_of, n_bootstrap)
    barrier(run)  # the other processes return once rank 0's files are written
    return SpineRun(
        folder, predictions, model_dir, splits, training_data, metrics, folds, cache.skipped()
    )
