"""``fracturelab synth``: phantoms with known ground truth."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from fracturelab.cli import synth_set
from fracturelab.cli._common import parse_triple, user_errors
from fracturelab.outputs import check_output_dir

__all__ = ["app"]

#: Parameters of the phantom makers -> the options of these commands, for error messages.
_SPINE_OPTIONS = {
    "spacing_mm": "--spacing",
    "fov_mm": "--fov",
    "label_convention": "--labels",
    "noise_hu": "--noise",
    "orientation": "--orientation",
    "curvature": "--curvature",
    "seed": "--seed",
    "levels": "--levels",
    "fractures": "--fractures",
    "mask_error": "--mask-error",
    "bone_hu": "--bone-hu",
    "fracture_signs": "--no-fracture-signs",
}
_FEMUR_OPTIONS = {
    "n_images": "--n",
    "aff_fraction": "--aff-fraction",
    "size_range_px": "--min-size/--max-size",
    "spacing_range_mm": "--min-spacing/--max-spacing",
    "seed": "--seed",
    "out_dir": "--out",
}

app = typer.Typer(
    help="Make phantoms with known ground truth: spine CT with vertebra labels and fractures, "
    "femur radiographs with AFF/NFF fractures.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _synth() -> None:
    """Make phantoms with known ground truth: spine CTs and femur radiographs."""


@app.command("spine")
def spine(
    out: Annotated[
        Path, typer.Option("--out", help="Folder to write ct.nii.gz, vertebrae.nii.gz, truth.json.")
    ],
    fractures: Annotated[
        str,
        typer.Option(
            help="Fractures as LEVEL:GRADE:KIND or LEVEL:LOSS%:KIND, comma-separated; KIND is "
            "wedge, biconcave or crush. Example: T12:2:wedge,L1:3:crush,L3:32.5%:biconcave."
        ),
    ] = "",
    levels: Annotated[str, typer.Option(help="Levels to draw, e.g. T8-L5 or T12,L1,L2.")] = "T8-L5",
    spacing: Annotated[
        str,
        typer.Option(
            help="Voxel size in mm along left-right, anterior-posterior and superior-inferior, "
            "e.g. 0.8,0.8,1; one number for isotropic voxels."
        ),
    ] = "1,1,1",
    orientation: Annotated[
        str, typer.Option(help="Storage orientation code, e.g. LPS, RAS or PIR.")
    ] = "LPS",
    labels: Annotated[
        str, typer.Option("--labels", help="Label numbering: verse or totalseg_v2.")
    ] = "verse",
    seed: Annotated[int, typer.Option(help="Seed of the noise.")] = 0,
    curvature: Annotated[
        float, typer.Option(help="Kyphosis/lordosis/scoliosis scale, 0 (straight) to 1.5.")
    ] = 1.0,
    noise: Annotated[float, typer.Option(help="Noise standard deviation in HU.")] = 15.0,
    fov: Annotated[
        str | None,
        typer.Option(
            help="Exact field of view in mm along left-right, anterior-posterior and "
            "superior-inferior, e.g. 200,200,150, centred on the spine; vertebrae may be cut. "
            "Default: the whole torso and all vertebrae."
        ),
    ] = None,
    mask_error: Annotated[
        str,
        typer.Option(
            "--mask-error",
            help="Spoil the label map only (the CT stays true), as real segmentations are: "
            "none, dilate or erode (every label one voxel larger or smaller), ragged (walls "
            "moved by one voxel in patches), missing-process (a spinous or transverse process "
            "of each vertebra left out).",
        ),
    ] = "none",
    fracture_signs: Annotated[
        bool,
        typer.Option(
            "--fracture-signs/--no-fracture-signs",
            help="Draw the sclerotic band and the broken endplate cortex of fractured vertebrae "
            "(default), or the shape only.",
        ),
    ] = True,
    bone_hu: Annotated[
        float | None,
        typer.Option(
            "--bone-hu",
            help="Cancellous bone HU of every vertebra (0-700); default: drawn 100-300 per "
            "phantom and vertebra.",
        ),
    ] = None,
) -> None:
    """Write a CT-like spine phantom, its vertebra label map and the ground truth."""
    with user_errors(_SPINE_OPTIONS):
        check_output_dir(out, "--out")
        from fracturelab.synth.spine_phantom import make_spine_phantom

        phantom = make_spine_phantom(
            levels=levels,
            fractures=fractures,
            spacing_mm=parse_triple("--spacing", spacing),
            orientation=orientation,
            seed=seed,
            label_convention=labels,
            curvature=curvature,
            noise_hu=noise,
            fov_mm=None if fov is None else parse_triple("--fov", fov),
            mask_error=mask_error,
            fracture_signs=fracture_signs,
            bone_hu=bone_hu,
        )
        paths = phantom.save(out)
        _print_summary(phantom.truth, paths)


@app.command("femur")
def femur(
    out: Annotated[
        Path,
        typer.Option("--out", help="Folder to write images/, manifest.csv and truth.json."),
    ],
    n: Annotated[int, typer.Option("--n", help="Number of radiographs.")] = 400,
    seed: Annotated[int, typer.Option(help="Seed; the same seed gives the same files.")] = 0,
    aff_fraction: Annotated[
        float, typer.Option("--aff-fraction", help="Share of AFF patients, 0 to 1.")
    ] = 0.2,
    min_size: Annotated[
        int, typer.Option("--min-size", help="Smallest image width or height, pixels.")
    ] = 1000,
    max_size: Annotated[
        int, typer.Option("--max-size", help="Largest image width or height, pixels.")
    ] = 3500,
    min_spacing: Annotated[
        float, typer.Option("--min-spacing", help="Smallest pixel spacing, mm.")
    ] = 0.1,
    max_spacing: Annotated[
        float, typer.Option("--max-spacing", help="Largest pixel spacing, mm.")
    ] = 0.2,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress bar.")] = False,
) -> None:
    """Write synthetic femur radiographs (AFF/NFF fractures, known centres) and a manifest."""
    with user_errors(_FEMUR_OPTIONS):
        check_output_dir(out, "--out")
        from fracturelab.synth.femur import make_femur_dataset

        manifest = make_femur_dataset(
            out,
            n,
            seed=seed,
            aff_fraction=aff_fraction,
            size_range_px=(min_size, max_size),
            spacing_range_mm=(min_spacing, max_spacing),
            progress=not quiet,
        )
        _print_femur_summary(manifest)


def _print_femur_summary(manifest: Path) -> None:
    import csv

    from rich.console import Console

    with manifest.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    console = Console()
    patients = {row["patient_id"] for row in rows}
    console.print(
        f"Wrote {len(rows)} femur radiographs of {len(patients)} patients to "
        f"[bold]{manifest.parent / 'images'}[/bold]"
    )
    for label in ("AFF", "NFF"):
        images = [row for row in rows if row["label"] == label]
        people = {row["patient_id"] for row in images}
        plural = "" if len(people) == 1 else "s"
        console.print(f"  {label}: {len(images)} images, {len(people)} patient{plural}")
    console.print(f"Manifest: {manifest}")
    console.print(f"Ground truth: {manifest.parent / 'truth.json'}")


def _print_summary(truth: dict[str, Any], paths: dict[str, Path]) -> None:
    from rich.console import Console

    console = Console()
    entries: list[dict[str, Any]] = truth["vertebrae"]
    shape = " x ".join(str(n) for n in truth["shape"])
    spacing = " x ".join(f"{s:g}" for s in truth["spacing_mm"])
    names = [entry["level"] for entry in entries]
    console.print(f"Wrote a spine phantom to [bold]{paths['truth'].parent}[/bold]")
    console.print(
        f"  {paths['ct'].name}: CT in HU, {shape} voxels of {spacing} mm, {truth['orientation']}"
    )
    console.print(
        f"  {paths['vertebrae'].name}: {len(names)} vertebrae {names[0]}-{names[-1]} "
        f"({truth['label_convention']} labels)"
    )
    console.print(
        f"  {paths['truth'].name}: heights at the walls, height loss and Genant grade per vertebra"
    )
    error = truth["parameters"].get("mask_error", "none")
    if error != "none":
        console.print(f"  label map spoiled on purpose: --mask-error {error} (the CT is true)")
    deformed = [entry for entry in entries if entry["kind"] != "normal"]
    if not any(entry["genant_grade"] > 0 for entry in deformed):
        console.print("Fractured: none")
    for entry in deformed:
        heading = "Fractured" if entry["genant_grade"] > 0 else "Deformed, below 20 %"
        console.print(
            f"{heading}: {entry['level']} {entry['kind']}, height loss "
            f"{entry['height_loss_pct']:g} %, Genant grade {entry['genant_grade']}"
        )
    cut = [entry["level"] for entry in entries if not entry["in_field_of_view"]]
    if cut:
        console.print(f"Cut by the field of view: {', '.join(cut)}")


synth_set.register(app)  # synth spine-set, listed after spine and femur in --help
