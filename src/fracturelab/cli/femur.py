"""``fracturelab femur``: the AFF/NFF experiment on a manifest, and prediction on radiographs."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Any

import typer

from fracturelab.cli._common import DeviceOption, DevicesOption, renamed, user_errors
from fracturelab.errors import InputError
from fracturelab.outputs import check_output_dir

__all__ = ["app"]

#: Parameters of the library behind ``femur experiment`` -> its options, for error messages.
_EXPERIMENT_OPTIONS = {
    "n_folds": "--folds",
    "test_fraction": "--test-fraction",
    "backbones": "--backbones",
    "backbone": "--backbones",
    "model_size": "--model-size",
    "localizer_input_px": "--localizer-size",
    "localizer": "--localizer",
    "refine window": "--refine-window",
    "refine input": "--refine-size",
    "refine largest offset": "--refine-window",
    "heatmap_sigma_mm": "--heatmap-width",
    "repeats": "--repeats",
    "workers": "--workers",
    "pretrained": "--pretrained",
    "cache_dir": "--cache-dir",
    "patch size": "--patch-mm",
    "jitter_px": "--jitter",
    "n_bootstrap": "--bootstrap",
    "max_steps": "--max-steps",
    "batch_size": "--batch-size",
    "patience": "--patience",
    "seed": "--seed",
    "device": "--device",
    "devices": "--devices",
}
_ALLOW_MODALITY = typer.Option(
    "--allow-modality",
    help="Also accept DICOM images of this Modality (e.g. CT, OT; SC for secondary captures); "
    "repeatable. Radiographs are CR, DX or DR; anything else is refused without it.",
)
#: The same for ``femur predict``; CT volumes are for the spine command.
_PREDICT_OPTIONS = {"device": "--device", "read_volume": "`fracturelab spine analyze`"}

app = typer.Typer(
    help="Femur radiographs: locate the fracture and classify atypical (AFF) vs normal (NFF).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _femur() -> None:
    """Femur radiographs: locate the fracture and classify atypical (AFF) vs normal (NFF)."""


@app.command("experiment")
def experiment(
    manifest: Annotated[Path, typer.Option(help="Manifest CSV (image,patient_id,label,...).")],
    out: Annotated[Path, typer.Option(help="Run folder; rerun the command to resume.")],
    folds: Annotated[int, typer.Option(help="Cross-validation folds.")] = 5,
    backbones: Annotated[str, typer.Option(help="Backbones to compare: cnn, vit or cnn,vit.")] = (
        "cnn,vit"
    ),
    test_fraction: Annotated[float, typer.Option(help="Share of patients held out.")] = 0.2,
    model_size: Annotated[
        str, typer.Option(help="Network size: tiny (tests), small (CPU) or base (GPU).")
    ] = "small",
    epochs: Annotated[int, typer.Option(help="Most epochs per classifier.")] = 30,
    localizer_epochs: Annotated[int, typer.Option(help="Most epochs per localizer.")] = 40,
    max_steps: Annotated[
        int | None, typer.Option(help="Cap on optimiser steps per network (smoke tests).")
    ] = None,
    batch_size: Annotated[int, typer.Option(help="Images per training step.")] = 16,
    patience: Annotated[int, typer.Option(help="Early-stopping patience in epochs.")] = 6,
    localizer_size: Annotated[int, typer.Option(help="Localizer input side in pixels.")] = 256,
    localizer: Annotated[
        str,
        typer.Option(
            help="two-stage: the reduced image, then a window near native resolution around "
            "its estimate; single: the reduced image only."
        ),
    ] = "two-stage",
    refine_window: Annotated[
        float, typer.Option(help="Side of the second stage's window, mm.")
    ] = 32.0,
    refine_size: Annotated[
        int, typer.Option(help="Second stage's input side in pixels (window resampled to it).")
    ] = 128,
    heatmap_width: Annotated[
        float, typer.Option(help="First stage's heatmap target width (standard deviation), mm.")
    ] = 4.0,
    patch_mm: Annotated[
        float | None,
        typer.Option(help="Cut patches of this size in mm (resampled to 224) instead of native."),
    ] = None,
    jitter: Annotated[float, typer.Option(help="Centre jitter of training patches, px.")] = 16.0,
    bootstrap: Annotated[int, typer.Option(help="Bootstrap resamples for the CIs.")] = 2000,
    seed: Annotated[int, typer.Option(help="Seed of the split and the training.")] = 0,
    repeats: Annotated[
        int,
        typer.Option(
            help="Repeat the cross-validation with other folds (same test set); the "
            "out-of-fold intervals then include the split-to-split variance."
        ),
    ] = 1,
    workers: Annotated[
        int, typer.Option(help="Processes that read the radiographs (decoding in parallel).")
    ] = 1,
    cache_dir: Annotated[
        Path | None,
        typer.Option(help="Folder of prepared images keyed by file content, reused by reruns."),
    ] = None,
    pretrained: Annotated[
        list[str] | None,
        typer.Option(
            help="Local ImageNet weights: a torchvision ResNet file for cnn, a timm ViT file "
            "for vit, as cnn=FILE or vit=FILE (just FILE with one backbone); repeatable. "
            "Loaded into the classifiers and the ViT localizers; nothing is downloaded."
        ),
    ] = None,
    device: DeviceOption = "auto",
    devices: DevicesOption = 1,
    allow_modality: Annotated[list[str] | None, _ALLOW_MODALITY] = None,
) -> None:
    """Train and compare localizers and classifiers; write the report to OUT/report.md."""
    with user_errors(_EXPERIMENT_OPTIONS):
        check_output_dir(out, "--out")
        from fracturelab.femur.config import ExperimentConfig
        from fracturelab.femur.experiment import run_experiment
        from fracturelab.femur.presets import PatchGeometry, RefineGeometry
        from fracturelab.training.config import TrainConfig
        from fracturelab.training.device import select_device

        select_device(device)  # an unknown or absent device is refused before any work
        from fracturelab.training.distributed import check_devices

        # --devices 0, or more GPUs than exist, before any work (launch checks the same)
        check_devices(devices, "gloo" if device == "cpu" else None)

        def training(max_epochs: int, option: str) -> TrainConfig:
            with renamed({"max_epochs": option}):
                return TrainConfig(
                    max_epochs=max_epochs,
                    max_steps=max_steps,
                    batch_size=batch_size,
                    patience=patience,
                    seed=seed,
                    device=device,
                )

        config = ExperimentConfig(
            n_folds=folds,
            test_fraction=test_fraction,
            backbones=tuple(b.strip() for b in backbones.split(",") if b.strip()),
            model_size=model_size,
            localizer_input_px=localizer_size,
            localizer=localizer,
            refine=_refine_geometry(RefineGeometry, refine_size, refine_window),
            heatmap_sigma_mm=heatmap_width,
            patch=PatchGeometry(224, patch_mm),
            jitter_px=jitter,
            localizer_training=training(localizer_epochs, "--localizer-epochs"),
            classifier_training=training(epochs, "--epochs"),
            n_bootstrap=bootstrap,
            repeats=repeats,
            pretrained=_pretrained_files(pretrained or [], backbones),
            seed=seed,
        )
        result = run_experiment(
            manifest,
            out,
            config,
            allow_modalities=allow_modality or (),
            devices=devices,
            workers=workers,
            cache_dir=cache_dir,
        )
        typer.echo(f"Report: {result.out / 'report.md'} (and report.html)")
        typer.echo(f"Model for `femur predict`: {result.out / 'models' / 'best'}")


def _pretrained_files(values: list[str], backbones: str) -> dict[str, str]:
    """``--pretrained`` values -> backbone: file (checked to exist)."""
    trained = [b.strip() for b in backbones.split(",") if b.strip()]
    files: dict[str, str] = {}
    for value in values:
        backbone, _, path = value.partition("=") if "=" in value else ("", "", value)
        if not backbone:
            if len(trained) != 1:
                raise InputError(
                    f"--pretrained {value}: with --backbones {backbones} say which backbone "
                    "it is for, as cnn=FILE or vit=FILE"
                )
            backbone = trained[0]
        if backbone not in ("cnn", "vit"):
            raise InputError(
                f"--pretrained {value}: {backbone!r} is not a backbone; use cnn= or vit="
            )
        if not Path(path).is_file():
            raise InputError(f"--pretrained {value}: no such file {path}; check the path")
        files[backbone] = str(Path(path).resolve())
    return files


def _refine_geometry(kind: Any, input_px: int, window_mm: float) -> Any:
    """The second stage's geometry; training offsets scale with the window (4 / 10 mm at 32)."""
    if not (math.isfinite(window_mm) and window_mm > 0):
        raise InputError(f"--refine-window {window_mm:g} is not valid; give a side in mm, > 0")
    largest = min(10.0, window_mm * 10.0 / 32.0)
    return kind(input_px=input_px, window_mm=window_mm, offset_mm=largest / 2.5,
                max_offset_mm=largest)  # fmt: skip


@app.command("predict")
def predict(
    images: Annotated[list[Path], typer.Argument(help="Radiographs: DICOM, PNG, TIFF or JPEG.")],
    model: Annotated[Path, typer.Option(help="Model folder, e.g. runs/exp1/models/best.")],
    out: Annotated[Path, typer.Option(help="Folder for <image>.json and <image>.png.")],
    pixel_spacing: Annotated[
        float | None, typer.Option(help="Pixel size in mm when the files do not say.")
    ] = None,
    device: Annotated[str, typer.Option(help="auto, cpu, cuda, cuda:N or mps.")] = "auto",
    allow_modality: Annotated[list[str] | None, _ALLOW_MODALITY] = None,
) -> None:
    """Locate the fracture and classify AFF vs NFF on each radiograph."""
    with user_errors(_PREDICT_OPTIONS):
        check_output_dir(out, "--out")
        if pixel_spacing is not None and not (math.isfinite(pixel_spacing) and pixel_spacing > 0):
            raise InputError(
                f"--pixel-spacing {pixel_spacing:g} is not valid; give the pixel size in mm, > 0"
            )
        import json

        from rich.console import Console
        from rich.table import Table

        from fracturelab.femur.bundle import FemurModel
        from fracturelab.femur.overlay import render_overlay
        from fracturelab.imaging.modality import allowed_modalities
        from fracturelab.imaging.radiograph_io import read_radiograph
        from fracturelab.outputs import atomic_write_text
        from fracturelab.training.device import select_device

        spacing = None if pixel_spacing is None else (pixel_spacing, pixel_spacing)
        allowed = allowed_modalities(allow_modality or ())
        bundle = FemurModel.load(model, select_device(device))
        radiographs = [  # all errors first
            read_radiograph(path, spacing, allow_modalities=allowed) for path in images
        ]
        table = Table("image", "centre (px)", "P(AFF)", "label")
        stems: set[str] = set()
        for path, radiograph in zip(images, radiographs, strict=True):
            prediction = bundle.predict(radiograph)
            stem = path.stem if path.stem not in stems else f"{path.stem}-{len(stems)}"
            stems.add(stem)
            atomic_write_text(out / f"{stem}.json", json.dumps(prediction.to_dict(), indent=2))
            render_overlay(radiograph, prediction, out / f"{stem}.png")
            centre = (
                "-"
                if prediction.center_px is None
                else f"{prediction.center_px[0]:.0f}, {prediction.center_px[1]:.0f}"
            )
            table.add_row(path.name, centre, f"{prediction.p_aff:.3f}", prediction.label)
        Console().print(table)
        typer.echo(f"Wrote {len(images)} JSON file(s) and overlay PNG(s) to {out}")
