"""``fracturelab synth spine-set``: a whole phantom spine dataset (scans.csv + grades.csv + tiers).

The layout is described in ``docs/spine-dataset.md``. The lead wires :func:`register` into
the ``synth`` command group.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from fracturelab.cli._common import parse_triple, user_errors
from fracturelab.outputs import check_output_dir

__all__ = ["register", "spine_set"]

#: Parameters of make_spine_set -> the options of the command, for error messages.
_OPTIONS = {
    "n": "--n",
    "seed": "--seed",
    "spacing_mm": "--spacing",
    "levels": "--levels",
    "graded_share": "--graded-share",
    "unlabelled_share": "--unlabelled-share",
    "fracture_share": "--fracture-share",
    "out_dir": "--out",
}


def register(app: typer.Typer) -> None:
    """Add the ``spine-set`` command to the ``synth`` app."""
    app.command("spine-set")(spine_set)


def spine_set(
    out: Annotated[
        Path,
        typer.Option("--out", help="Folder to write scans/, scans.csv, grades.csv and set.json."),
    ],
    n: Annotated[int, typer.Option("--n", help="Number of scans.")] = 60,
    seed: Annotated[int, typer.Option(help="Seed; the same seed gives the same files.")] = 0,
    spacing: Annotated[
        str,
        typer.Option(
            help="Voxel size in mm along left-right, anterior-posterior and superior-inferior, "
            "e.g. 2,2,2; one number for isotropic voxels."
        ),
    ] = "2",
    levels: Annotated[str, typer.Option(help="Levels drawn, e.g. T11-L3.")] = "T11-L3",
    graded_share: Annotated[
        float, typer.Option("--graded-share", help="Share of graded scans, 0 to 1.")
    ] = 0.5,
    unlabelled_share: Annotated[
        float,
        typer.Option(
            "--unlabelled-share",
            help="Share of unlabelled scans (no label map), 0 to 1; the rest are delineated "
            "(label map, no grades).",
        ),
    ] = 0.2,
    fracture_share: Annotated[
        float,
        typer.Option("--fracture-share", help="Share of patients with fractures, 0 to 1."),
    ] = 0.6,
    fracture_signs: Annotated[
        bool,
        typer.Option(
            "--fracture-signs/--no-fracture-signs",
            help="Draw fracture signs in the CT (sclerotic band, broken endplate cortex); "
            "--no-fracture-signs leaves only the shape.",
        ),
    ] = True,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress bar.")] = False,
) -> None:
    """Write a phantom spine dataset: CTs, label maps, true grades, patients and tiers."""
    with user_errors(_OPTIONS):
        check_output_dir(out, "--out")
        from fracturelab.spine.dataset import read_dataset
        from fracturelab.synth.spine_set import make_spine_set

        scans = make_spine_set(
            out,
            n,
            seed,
            spacing_mm=parse_triple("--spacing", spacing, example="2,2,2"),
            levels=levels,
            graded_share=graded_share,
            unlabelled_share=unlabelled_share,
            fracture_share=fracture_share,
            fracture_signs=fracture_signs,
            progress=not quiet,
        )
        summary = read_dataset(scans).summary()
    scans_by_tier = ", ".join(f"{n} {tier}" for tier, n in summary["scans"].items())
    typer.echo(
        f"Wrote {summary['scans_total']} phantom scans of {summary['patients_total']} patients "
        f"({scans_by_tier}) to {out}"
    )
    typer.echo(
        f"  {summary['graded_vertebrae']} graded vertebrae, {summary['fractured_vertebrae']} "
        f"fractured (grades 0-3: {', '.join(str(v) for v in summary['grades'].values())})"
    )
    typer.echo(f"Dataset: {scans} (grades: {scans.parent / 'grades.csv'})")
