"""``fracturelab spine train``: train the learned per-vertebra classifier on a spine dataset.

Reads the dataset (``scans.csv`` + ``grades.csv``, the workstation's spine export, or a
VerSe folder), checks that it can train, cuts its graded vertebrae into a patch cache
(``RUN/cache`` by default; reused on a rerun), trains one network per patient-grouped fold
and writes ``RUN/predictions.csv`` and the model folder ``RUN/models/best``. Rerun the same
command to resume. ``--devices N`` trains each fold network with N processes together
(one per GPU; ``docs/training.md``, "Several GPUs"). The lead wires :func:`register` into
the ``spine`` command group.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from fracturelab.cli._common import DeviceOption, DevicesOption, user_errors
from fracturelab.outputs import check_output_dir

if TYPE_CHECKING:
    from fracturelab.spine.learned.experiment import SpineRun

__all__ = ["TRAIN_OPTIONS", "register", "train"]

#: Library parameter names -> the options that set them, for error messages.
#: Configuration names in messages -> the options that set them.
TRAIN_OPTIONS = {
    "n_folds": "--folds",
    "test_fraction": "--test-fraction",
    "backbone": "--backbone",
    "model_size": "--size",
    "model size": "--size",
    "max_epochs": "--epochs",
    "max_steps": "--max-steps",
    "batch_size": "--batch-size",
    "patience": "--patience",
    "seed": "--seed",
    "device": "--device",
    "devices": "--devices",
    "jobs": "--jobs",
    "n_boot": "--bootstrap",
    "out_dir": "--cache",
    "PatchSpec spacing_mm": "--patch-spacing",
    "PatchSpec size_mm/spacing_mm": "--patch-mm/--patch-spacing",
    "PatchSpec size_mm": "--patch-mm",
    "pseudo_margin_pct": "--pseudo-margin",
    "pseudo_weight": "--pseudo-weight",
}


def register(app: typer.Typer) -> None:
    """Add the ``train`` command to the ``spine`` app."""
    app.command("train")(train)


def train(
    dataset: Annotated[
        Path,
        typer.Option(
            help="scans.csv (grades.csv beside it), a workstation spine export CSV (with "
            "patient_id), or a VerSe folder."
        ),
    ],
    out: Annotated[Path, typer.Option(help="Run folder; rerun the command to resume.")],
    grades: Annotated[
        Path | None,
        typer.Option(help="Grades CSV (default: grades.csv beside scans.csv) or VerSe table."),
    ] = None,
    cache: Annotated[
        Path | None, typer.Option(help="Patch cache folder (default: OUT/cache); reused.")
    ] = None,
    folds: Annotated[int, typer.Option(help="Patient-grouped cross-validation folds.")] = 5,
    test_fraction: Annotated[float, typer.Option(help="Share of patients held out.")] = 0.2,
    backbone: Annotated[str, typer.Option(help="cnn (3D ResNet) or vit (3D ViT).")] = "cnn",
    size: Annotated[
        str, typer.Option(help="Network size: tiny (tests), small (CPU) or base (GPU).")
    ] = "small",
    fuse_morphometry: Annotated[
        bool, typer.Option(help="Give the network each vertebra's morphometry too.")
    ] = False,
    epochs: Annotated[int, typer.Option(help="Most epochs per fold.")] = 40,
    max_steps: Annotated[
        int | None, typer.Option(help="Cap on optimiser steps per fold (smoke tests).")
    ] = None,
    batch_size: Annotated[int, typer.Option(help="Vertebrae per training step.")] = 16,
    patience: Annotated[int, typer.Option(help="Early-stopping patience in epochs.")] = 6,
    patch_mm: Annotated[float, typer.Option(help="Patch edge in mm (a cube).")] = 64.0,
    patch_spacing: Annotated[float, typer.Option(help="Patch voxel size in mm.")] = 1.0,
    bootstrap: Annotated[int, typer.Option(help="Bootstrap resamples of the report's CIs.")] = 2000,
    seed: Annotated[int, typer.Option(help="Seed of the split and the training.")] = 0,
    jobs: Annotated[int, typer.Option(help="Scans cut into patches at once.")] = 1,
    device: DeviceOption = "auto",
    devices: DevicesOption = 1,
    augment: Annotated[
        bool, typer.Option(help="Augment training patches (rotations, shifts, flips).")
    ] = True,
    init: Annotated[
        Path | None,
        typer.Option(help="A `spine pretrain` run: start every fold from its pretrained encoder."),
    ] = None,
    pseudo_labels: Annotated[
        bool,
        typer.Option(
            "--pseudo-labels",
            help="Also train on confident morphometry grades of the delineated-only scans.",
        ),
    ] = False,
    pseudo_margin: Annotated[
        float,
        typer.Option(
            help="Least distance (points) of a pseudo-label's height loss from 20/25/40 %."
        ),
    ] = 2.0,
    pseudo_weight: Annotated[
        float, typer.Option(help="Loss weight of a pseudo-labelled vertebra (graded: 1).")
    ] = 0.5,
    teacher: Annotated[
        Path | None,
        typer.Option(help="A model folder that must agree with each pseudo-label (self-training)."),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars.")] = False,
) -> None:
    """Train the per-vertebra fracture classifier; write predictions and RUN/models/best."""
    with user_errors(TRAIN_OPTIONS):
        check_output_dir(out, "--out")
        cache_dir = check_output_dir(cache, "--cache") if cache is not None else out / "cache"
        from fracturelab.spine.learned.config import SpineTrainingConfig
        from fracturelab.training.config import TrainConfig

        config = SpineTrainingConfig(
            n_folds=folds,
            test_fraction=test_fraction,
            backbone=backbone,
            model_size=size,
            fuse_morphometry=fuse_morphometry,
            augment=augment,
            training=TrainConfig(
                max_epochs=epochs,
                max_steps=max_steps,
                batch_size=batch_size,
                patience=patience,
                seed=seed,
                device=device,
            ),
            seed=seed,
            pseudo_labels=pseudo_labels,
            pseudo_margin_pct=pseudo_margin,
            pseudo_weight=pseudo_weight,
            pseudo_teacher=None if teacher is None else str(teacher),
            init=None if init is None else str(init),
        )
        _check_semi(config, teacher)
        from fracturelab.spine.patches import PatchSpec

        spec = PatchSpec(size_mm=(patch_mm,) * 3, spacing_mm=patch_spacing)
        from fracturelab.training.device import select_device

        select_device(device)  # an unknown or absent device is refused before any work
        from fracturelab.training.distributed import check_devices

        # --devices 0, or more GPUs than exist, before any work (launch checks the same)
        check_devices(devices, "gloo" if device == "cpu" else None)
        from fracturelab.spine.dataset import check_levels_in_masks, check_trainable, read_dataset

        data = read_dataset(dataset, grades)
        check_trainable(data)
        check_levels_in_masks(data, jobs, progress=not quiet)
        from fracturelab.spine.patch_cache import prepare_cache

        prepare_cache(
            data,
            cache_dir,
            spec,
            jobs=jobs,
            levels_with_grades_only=not pseudo_labels,  # pseudo-labels need every vertebra
            show_progress=not quiet,
        )
        from fracturelab.spine.learned.experiment import train_spine

        run = train_spine(
            cache_dir,
            out,
            config,
            show_progress=not quiet,
            n_bootstrap=bootstrap,
            devices=devices,
        )
        _print_summary(run)


def _check_semi(config: Any, teacher: Path | None) -> None:
    """Refuse bad --init / --teacher settings before any work.

    An --init that is not a finished pretraining run of the same backbone and size, a
    --teacher that is not a model folder, or --teacher without --pseudo-labels.
    """
    from fracturelab.errors import InputError

    if teacher is not None and not config.pseudo_labels:
        raise InputError("--teacher filters pseudo-labels; add --pseudo-labels (or drop --teacher)")
    if teacher is not None and not (teacher / "spine_model.json").is_file():
        raise InputError(
            f"--teacher {teacher}: no spine_model.json; give a model folder of spine train "
            "(RUN/models/best)"
        )
    if config.init is not None:
        from fracturelab.spine.learned.pretrain_model import check_init

        check_init(config.init, config.backbone, config.model_size)


def _print_summary(run: SpineRun) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    table = Table(title=f"Spine classifier {run.out}")
    table.add_column("split")
    for column in ("vertebrae", "AUC grade>=1", "AUC grade>=2", "quadratic kappa"):
        table.add_column(column, justify="right")

    def shown(value: Any) -> str:
        return (
            "n/a" if value is None else f"{value:.3f}" if isinstance(value, float) else str(value)
        )

    for name, key in (("validation (out-of-fold)", "validation_out_of_fold"), ("test", "test")):
        part = run.metrics[key]
        table.add_row(
            name,
            shown(part["vertebrae"]),
            shown(part["auc_grade_ge1"]),
            shown(part["auc_grade_ge2"]),
            shown(part["quadratic_kappa"]),
        )
    console.print(table)
    data = run.training_data
    console.print(
        f"trained on {data['vertebrae']} graded vertebrae of {data['cases']} scans, "
        f"{data['patients']} patients; grades {data['vertebrae_per_grade']}"
    )
    pseudo = [fold["pseudo_labelled"] for fold in run.folds if "pseudo_labelled" in fold]
    if any(pseudo):
        console.print(f"pseudo-labelled vertebrae (delineated scans) trained on per fold: {pseudo}")
    unlabelled = [row for row in run.skipped if row["status"] == "unlabelled"]
    if unlabelled:
        console.print(f"{len(unlabelled)} unlabelled scan(s) (no label map) have no patches")
    for row in run.skipped:
        if row["status"] == "unlabelled":
            continue
        console.print(f"skipped: {row['case_id']} {row['level']}: {row['status']}: {row['reason']}")
    console.print(f"Predictions: {run.predictions}")
    console.print(f"Report: {run.out / 'report.md'} (and report.html, metrics.json, metrics.csv)")
    console.print(f"Model for `spine analyze --model`: {run.model_dir}")
