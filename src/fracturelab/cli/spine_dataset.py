"""``fracturelab spine dataset check``: validate a spine dataset and show its tiers and grades.

The formats are described in ``docs/spine-dataset.md``. The lead wires :func:`register` into
the ``spine`` command group.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from fracturelab.cli._common import user_errors

if TYPE_CHECKING:
    from fracturelab.spine.dataset import SpineDataset

__all__ = ["dataset_app", "register"]

_OPTIONS = {"jobs": "--jobs"}

dataset_app = typer.Typer(
    help="Spine datasets: scans.csv + grades.csv, the workstation's spine export, VerSe folders.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def register(app: typer.Typer) -> None:
    """Add the ``dataset`` command group (``dataset check``) to the ``spine`` app."""
    app.add_typer(dataset_app, name="dataset")


@dataset_app.callback()
def _dataset() -> None:
    """Check spine datasets before training or evaluating on them."""


@dataset_app.command("check")
def check(
    dataset: Annotated[
        Path,
        typer.Argument(
            help="scans.csv (with grades.csv beside it), a workstation spine export CSV, "
            "or a VerSe folder (rawdata/ + derivatives/)."
        ),
    ],
    grades: Annotated[
        Path | None,
        typer.Option(
            "--grades",
            help="Grades CSV (case_id, level, genant_grade, morphology), or the VerSe grade "
            "table; default: grades.csv beside scans.csv / the table in the VerSe folder.",
        ),
    ] = None,
    masks: Annotated[
        bool,
        typer.Option(
            "--masks/--no-masks",
            help="Read each graded scan's label map and check that every graded level is in it.",
        ),
    ] = True,
    train: Annotated[
        bool,
        typer.Option(
            "--train", help="Also check that the dataset can train a model (graded fractures)."
        ),
    ] = False,
    jobs: Annotated[int, typer.Option("--jobs", help="Label maps read at once.")] = 1,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Validate a spine dataset: print its tiers and grade counts, or every problem found."""
    with user_errors(_OPTIONS):
        from fracturelab.spine.dataset import (
            check_levels_in_masks,
            check_trainable,
            read_dataset,
        )

        data = read_dataset(dataset, grades)
        _print_summary(data)
        if masks:
            check_levels_in_masks(data, jobs, progress=not quiet)
        if train:
            check_trainable(data)
        checked = " and label maps" if masks else ""
        typer.echo(f"OK: no problem found in the tables{checked}.")


def _print_summary(data: SpineDataset) -> None:
    from rich.console import Console
    from rich.table import Table

    summary: dict[str, Any] = data.summary()
    console = Console()
    tiers = Table(title=f"Spine dataset {data.source}")
    for column in ("tier", "scans", "patients"):
        tiers.add_column(column, justify="left" if column == "tier" else "right")
    for tier, count in summary["scans"].items():
        tiers.add_row(tier, str(count), str(summary["patients"][tier]))
    tiers.add_row("all", str(summary["scans_total"]), str(summary["patients_total"]))
    console.print(tiers)
    grades = Table(title=f"{summary['graded_vertebrae']} graded vertebrae")
    grades.add_column("Genant grade")
    grades.add_column("vertebrae", justify="right")
    for grade, count in summary["grades"].items():
        grades.add_row(str(grade), str(count))
    grades.add_row(">= 1 (fractured)", str(summary["fractured_vertebrae"]))
    console.print(grades)
    shapes = Table(title="Morphology")
    shapes.add_column("morphology")
    shapes.add_column("vertebrae", justify="right")
    for name, count in summary["morphology"].items():
        shapes.add_row(name, str(count))
    console.print(shapes)
    for note in data.notes:
        console.print(f"note: {note}")
