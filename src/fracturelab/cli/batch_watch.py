"""``fracturelab batch watch``: read each new CT series an Orthanc server stores.

The lead wires :func:`register` into the ``batch`` Typer app. The work is in
:mod:`fracturelab.pacs.watch`; deployment notes in ``docs/pacs.md``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from fracturelab.cli._common import user_errors

__all__ = ["register", "watch_command"]

#: Environment variables of Orthanc's credentials (kept off the command line and shell history).
ORTHANC_USER_ENV = "FRACTURELAB_ORTHANC_USER"
ORTHANC_PASSWORD_ENV = "FRACTURELAB_ORTHANC_PASSWORD"


def register(app: typer.Typer) -> None:
    """Add ``watch`` to the ``batch`` command group."""
    app.command("watch")(watch_command)


def watch_command(
    orthanc: Annotated[str, typer.Option(help="Orthanc's REST URL, e.g. http://127.0.0.1:8042.")],
    results: Annotated[
        str,
        typer.Option(help="Results database: an SQLite file or a PostgreSQL URL (batch run's)."),
    ],
    send_sr: Annotated[
        bool,
        typer.Option(help="Store each reading back in Orthanc as a DICOM SR (TID 1500)."),
    ] = False,
    once: Annotated[
        bool, typer.Option(help="Handle the changes there are now, then stop.")
    ] = False,
    poll_s: Annotated[
        float, typer.Option(help="Seconds between polls of the change feed when it is idle.")
    ] = 10.0,
    model: Annotated[
        Path | None, typer.Option(help="Spine model folder (default: morphometry only).")
    ] = None,
    segmenter_command: Annotated[
        str | None,
        typer.Option(
            help="Command writing the vertebra label map: {ct} is the series folder, {out} "
            "the .nii.gz to write, e.g. 'mysegmenter {ct} {out}'."
        ),
    ] = None,
    totalsegmentator: Annotated[
        bool, typer.Option(help="Use TotalSegmentator's Python API when it is installed.")
    ] = True,
    labels: Annotated[
        str, typer.Option(help="Label convention: auto, verse, totalseg_v2 or totalseg_v1.")
    ] = "auto",
    device: Annotated[str, typer.Option(help="Device of the model: auto, cpu, cuda, cuda:N.")] = (
        "auto"
    ),
    min_slices: Annotated[int, typer.Option(help="Fewest slices of a series read.")] = 40,
    max_attempts: Annotated[
        int, typer.Option(help="Starts of a crashing series before it is quarantined.")
    ] = 3,
    spool: Annotated[
        Path | None,
        typer.Option(help="Folder for downloaded series (default: a temporary folder)."),
    ] = None,
    retries: Annotated[
        int, typer.Option(help="Tries again of a failed Orthanc request (exponential backoff).")
    ] = 3,
    quiet: Annotated[bool, typer.Option(help="No progress bars.")] = False,
) -> None:
    """Follow Orthanc's change feed and read each new stable CT series.

    Other series are recorded as skipped. A restart resumes after the last change handled;
    a series already done is not read again. Credentials, if Orthanc needs them, come from
    FRACTURELAB_ORTHANC_USER and FRACTURELAB_ORTHANC_PASSWORD.
    """
    with user_errors():
        from fracturelab.batch import BatchSettings
        from fracturelab.errors import InputError
        from fracturelab.pacs.watch import WatchSettings, watch

        if poll_s <= 0:
            raise InputError(f"--poll-s {poll_s}: must be above 0 seconds")
        if retries < 0:
            raise InputError(f"--retries {retries}: must be 0 or more")
        user, password = os.environ.get(ORTHANC_USER_ENV), os.environ.get(ORTHANC_PASSWORD_ENV)
        settings = WatchSettings(
            orthanc_url=orthanc,
            results=results,
            batch=BatchSettings(
                min_slices=min_slices,
                segmenter_command=segmenter_command,
                totalsegmentator=totalsegmentator,
                labels=labels,
                model=model,
                device=device,
                max_attempts=max_attempts,
            ),
            send_sr=send_sr,
            once=once,
            poll_s=poll_s,
            spool=spool,
            auth=(user, password or "") if user else None,
            retries=retries,
        )
        try:
            summary = watch(settings, show_progress=not quiet, report=typer.echo)
        except KeyboardInterrupt:
            typer.echo("stopped; the next watch resumes after the last change handled", err=True)
            raise typer.Exit(code=130) from None
        for line in summary.lines():
            typer.echo(line)
