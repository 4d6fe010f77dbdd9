"""The ``fracturelab`` command. Commands import their heavy modules only when they run."""

from __future__ import annotations

import typer

from fracturelab.cli.batch import app as batch_app
from fracturelab.cli.femur import app as femur_app
from fracturelab.cli.gc import app as gc_app
from fracturelab.cli.spine import app as spine_app
from fracturelab.cli.synth import app as synth_app
from fracturelab.cli.workstation import app as workstation_app

__all__ = ["app", "main"]

app = typer.Typer(
    name="fracturelab",
    help="Detect and characterise bone fractures in medical images.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(spine_app, name="spine")
app.add_typer(femur_app, name="femur")
app.add_typer(synth_app, name="synth")
app.add_typer(workstation_app, name="workstation")
app.add_typer(batch_app, name="batch")
app.add_typer(gc_app, name="gc")


def main() -> None:
    """Entry point of the ``fracturelab`` console script."""
    app()
