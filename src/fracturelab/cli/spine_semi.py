"""``fracturelab spine pretrain`` and ``spine ablation``: learning from ungraded scans.

``spine pretrain`` pretrains the classifier's encoder, self-supervised, on crops along the
spine of every scan of a dataset (graded, delineated and unlabelled; no label is read);
``spine train --init RUN`` starts from it. ``spine ablation`` measures what unlabelled data
adds: supervised only, + pseudo-labels, + pretraining, + both, at several fractions of the
graded patients, on one held-out test set (``docs/spine-semisupervised.md``). The lead wires
:func:`register` into the ``spine`` command group.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from fracturelab.cli._common import DeviceOption, DevicesOption, user_errors
from fracturelab.cli.spine_model import TRAIN_OPTIONS
from fracturelab.outputs import check_output_dir

__all__ = ["ablation", "pretrain", "register"]

#: Configuration names in messages -> the options that set them (``spine train``'s and ours).
_OPTIONS = {**TRAIN_OPTIONS, "contrastive_weight": "--contrastive-weight"}

_Dataset = Annotated[
    Path,
    typer.Option(help="scans.csv (grades.csv beside it), a workstation spine export, or VerSe."),
]
_Backbone = Annotated[str, typer.Option(help="cnn (3D ResNet) or vit (3D ViT).")]
_Size = Annotated[str, typer.Option(help="Network size: tiny, small (CPU) or base (GPU).")]
_PatchMm = Annotated[float, typer.Option(help="Crop / patch edge in mm (the classifier's).")]
_Spacing = Annotated[float, typer.Option(help="Crop / patch voxel size in mm.")]
_Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars.")]


def register(app: typer.Typer) -> None:
    """Add ``pretrain`` and ``ablation`` to the ``spine`` app."""
    app.command("pretrain")(pretrain)
    app.command("ablation")(ablation)


def pretrain(
    dataset: _Dataset,
    out: Annotated[Path, typer.Option(help="Run folder; rerun the command to resume.")],
    grades: Annotated[Path | None, typer.Option(help="Grades CSV or VerSe table.")] = None,
    backbone: _Backbone = "cnn",
    size: _Size = "small",
    patch_mm: _PatchMm = 64.0,
    patch_spacing: _Spacing = 1.0,
    epochs: Annotated[int, typer.Option(help="Passes over the crops.")] = 20,
    max_steps: Annotated[int | None, typer.Option(help="Cap on optimiser steps.")] = None,
    batch_size: Annotated[int, typer.Option(help="Crops per step (pairs of views).")] = 16,
    contrastive_weight: Annotated[
        float, typer.Option(help="Weight of the contrastive term against reconstruction.")
    ] = 1.0,
    seed: Annotated[int, typer.Option(help="Seed.")] = 0,
    jobs: Annotated[int, typer.Option(help="Scans cut into crops at once.")] = 1,
    device: DeviceOption = "auto",
    devices: DevicesOption = 1,
    quiet: _Quiet = False,
) -> None:
    """Pretrain the classifier's encoder, self-supervised, on every scan of a dataset."""
    with user_errors(_OPTIONS):
        check_output_dir(out, "--out")
        from fracturelab.spine.learned.pretrain import PretrainConfig, crop_sources, pretrain_spine
        from fracturelab.training.config import TrainConfig
        from fracturelab.training.device import select_device
        from fracturelab.training.distributed import check_devices

        config = PretrainConfig(
            backbone=backbone,
            model_size=size,
            patch_mm=patch_mm,
            patch_spacing_mm=patch_spacing,
            contrastive_weight=contrastive_weight,
            training=TrainConfig(
                max_epochs=epochs,
                max_steps=max_steps,
                batch_size=batch_size,
                seed=seed,
                device=device,
            ),
            seed=seed,
        )
        _ = config.spec  # a bad patch size is refused before any work
        select_device(device)
        check_devices(devices, "gloo" if device == "cpu" else None)
        from fracturelab.spine.dataset import read_dataset

        data = read_dataset(dataset, grades)
        described = pretrain_spine(
            crop_sources(data), out, config, jobs=jobs, devices=devices, show_progress=not quiet
        )
        speed = described["crops_per_second"]
        typer.echo(
            f"pretrained the {backbone} encoder on {described['crops']} crops of "
            f"{len(data.cases)} scans, {described['epochs']} epochs"
            + ("" if speed is None else f", {speed:.1f} crops/s")
        )
        typer.echo(f"Encoder for `spine train --init`: {out}")


def ablation(
    dataset: _Dataset,
    out: Annotated[Path, typer.Option(help="Output folder (tables, figure, checkpoints).")],
    grades: Annotated[Path | None, typer.Option(help="Grades CSV or VerSe table.")] = None,
    pretrained: Annotated[
        Path | None,
        typer.Option(help="A `spine pretrain` run to use (default: pretrain into OUT/pretrain)."),
    ] = None,
    fractions: Annotated[
        str, typer.Option(help="Fractions of the graded patients, comma-separated.")
    ] = "0.1,0.25,0.5,1",
    backbone: _Backbone = "cnn",
    size: _Size = "small",
    patch_mm: _PatchMm = 64.0,
    patch_spacing: _Spacing = 1.0,
    epochs: Annotated[int, typer.Option(help="Epochs of each network.")] = 15,
    pretrain_epochs: Annotated[int, typer.Option(help="Epochs of the pretraining.")] = 10,
    batch_size: Annotated[int, typer.Option(help="Vertebrae per step.")] = 16,
    test_fraction: Annotated[float, typer.Option(help="Share of patients held out.")] = 0.3,
    pseudo_margin: Annotated[float, typer.Option(help="Pseudo-label margin, points.")] = 2.0,
    pseudo_weight: Annotated[float, typer.Option(help="Pseudo-label loss weight.")] = 0.5,
    bootstrap: Annotated[int, typer.Option(help="Bootstrap resamples of each CI.")] = 1000,
    seed: Annotated[int, typer.Option(help="Seed of the split and every network.")] = 0,
    jobs: Annotated[int, typer.Option(help="Scans prepared at once.")] = 1,
    device: DeviceOption = "auto",
    quiet: _Quiet = False,
) -> None:
    """Supervised only vs + pseudo-labels vs + pretraining vs both, at graded fractions."""
    with user_errors(_OPTIONS):
        folder = check_output_dir(out, "--out")
        from fracturelab.errors import InputError

        try:
            shares = tuple(float(x) for x in fractions.split(",") if x.strip())
        except ValueError:
            raise InputError(
                f"--fractions {fractions!r} is not a comma-separated list of numbers; "
                "e.g. 0.1,0.25,0.5,1"
            ) from None
        from fracturelab.spine.learned.ablation import AblationConfig, run_ablation
        from fracturelab.spine.learned.ablation_report import write_ablation_report
        from fracturelab.spine.learned.config import SpineTrainingConfig
        from fracturelab.spine.learned.pretrain import PretrainConfig, crop_sources, pretrain_spine
        from fracturelab.spine.learned.pretrain_model import check_init
        from fracturelab.spine.patches import PatchSpec
        from fracturelab.training.config import TrainConfig
        from fracturelab.training.device import select_device

        training = TrainConfig(max_epochs=epochs, batch_size=batch_size, seed=seed, device=device)
        model = SpineTrainingConfig(
            test_fraction=test_fraction, backbone=backbone, model_size=size,
            pseudo_margin_pct=pseudo_margin, pseudo_weight=pseudo_weight, training=training,
            seed=seed,
        )  # fmt: skip
        config = AblationConfig(shares, model, n_bootstrap=bootstrap, seed=seed)
        spec = PatchSpec(size_mm=(patch_mm,) * 3, spacing_mm=patch_spacing)
        select_device(device)
        if pretrained is not None:
            check_init(pretrained, backbone, size, option="--pretrained")
        from fracturelab.spine.dataset import check_trainable, read_dataset
        from fracturelab.spine.patch_cache import prepare_cache

        data = read_dataset(dataset, grades)
        check_trainable(data)
        if pretrained is None:
            pretrained = folder / "pretrain"
            pre = PretrainConfig(
                backbone=backbone, model_size=size, patch_mm=patch_mm,
                patch_spacing_mm=patch_spacing, seed=seed,
                training=TrainConfig(max_epochs=pretrain_epochs, batch_size=batch_size,
                                     seed=seed, device=device),
            )  # fmt: skip
            pretrain_spine(crop_sources(data), pretrained, pre, jobs=jobs, show_progress=not quiet)
        prepare_cache(data, folder / "cache", spec, jobs=jobs, show_progress=not quiet)
        result = run_ablation(
            folder / "cache", folder, config, pretrained=pretrained, show_progress=not quiet
        )
        files = write_ablation_report(result, folder)
        typer.echo((folder / "ablation.md").read_text(encoding="utf-8"))
        typer.echo(f"Table: {files['csv']}; figure: {files['figure']}; report: {files['html']}")
