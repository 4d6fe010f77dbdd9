"""``fracturelab batch``: background reading of many CTs into a results database."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from fracturelab.cli import batch_review, batch_watch
from fracturelab.cli._common import user_errors
from fracturelab.errors import InputError

__all__ = ["app"]

app = typer.Typer(
    help="Read many CTs in the background: folders, manifests, a cluster (docs/batch.md).",
    no_args_is_help=True,
)

ResultsOption = Annotated[
    str,
    typer.Option(
        "--results",
        help="Results database: a file path (SQLite) or an SQLAlchemy URL "
        "(sqlite:///results.db, postgresql+psycopg://user@host/db).",
    ),
]

_OPTIONS = {
    "min_slices": "--min-slices",
    "max_slice_thickness_mm": "--max-slice-thickness",
    "workers": "--workers",
}


@app.command()
def run(
    inputs: Annotated[
        list[Path],
        typer.Argument(help="Folders of DICOM series / volumes, manifest CSVs, or scans."),
    ],
    results: ResultsOption,
    model: Annotated[Path | None, typer.Option(help="Spine model folder.")] = None,
    out: Annotated[
        Path | None,
        typer.Option(help="Folder for per-scan outputs (vertebrae.json/csv, overview.png)."),
    ] = None,
    workers: Annotated[int, typer.Option(help="Worker processes.")] = 1,
    engine: Annotated[str, typer.Option(help="local (process pool) or dask.")] = "local",
    scheduler: Annotated[
        str | None,
        typer.Option(help="Dask scheduler address (tcp://host:8786); else a LocalCluster."),
    ] = None,
    segmenter_command: Annotated[
        str | None,
        typer.Option(help='Command writing a label map when none is given: "cmd {ct} {out}".'),
    ] = None,
    totalsegmentator: Annotated[
        bool, typer.Option(help="Use TotalSegmentator's Python API when installed.")
    ] = True,
    labels: Annotated[str, typer.Option(help="Mask label convention (auto, verse, ...).")] = "auto",
    modality: Annotated[list[str] | None, typer.Option(help="Modality taken (repeat).")] = None,
    min_slices: Annotated[int, typer.Option(help="Fewest slices of a scan.")] = 40,
    max_slice_thickness: Annotated[float, typer.Option(help="Thickest slices, mm.")] = 5.0,
    min_slice_thickness: Annotated[float, typer.Option(help="Thinnest slices, mm.")] = 0.0,
    body_part: Annotated[
        list[str] | None,
        typer.Option(help="BodyPartExamined taken (repeat; default: thorax/abdomen names)."),
    ] = None,
    max_attempts: Annotated[
        int, typer.Option(help="Starts before a crashing scan is quarantined.")
    ] = 3,
    retry_quarantined: Annotated[bool, typer.Option(help="Start quarantined scans again.")] = False,
    task_timeout: Annotated[
        float, typer.Option(help="Seconds before a scan is stopped (0: none).")
    ] = 0.0,
    device: Annotated[str, typer.Option(help="Model device: auto, cpu, cuda.")] = "auto",
    overview: Annotated[bool, typer.Option(help="Write overview.png with --out.")] = True,
    quiet: Annotated[bool, typer.Option(help="No progress bar.")] = False,
) -> None:
    """Read every eligible CT of the inputs that is not done yet (a rerun resumes)."""
    with user_errors(_OPTIONS):
        from fracturelab.batch import BatchSettings, run_batch
        from fracturelab.batch.settings import DEFAULT_BODY_PARTS

        if out is not None:
            from fracturelab.outputs import check_output_dir

            check_output_dir(out)
        settings = BatchSettings(
            modalities=tuple(modality or ("CT",)),
            min_slices=min_slices,
            max_slice_thickness_mm=max_slice_thickness,
            min_slice_thickness_mm=min_slice_thickness,
            body_parts=tuple(body_part) if body_part else DEFAULT_BODY_PARTS,
            segmenter_command=segmenter_command,
            totalsegmentator=totalsegmentator,
            labels=labels,
            model=model,
            device=device,
            out=out,
            overview=overview,
            engine=engine,
            workers=workers,
            scheduler=scheduler,
            max_attempts=max_attempts,
            retry_quarantined=retry_quarantined,
            task_timeout_s=task_timeout,
        )
        summary = run_batch(inputs, results, settings, show_progress=not quiet)
        for line in summary.lines():
            typer.echo(line, err=True)
        if summary.found and summary.found == summary.skipped:
            raise InputError(
                f"{', '.join(str(p) for p in inputs)}: no eligible CT among {summary.found} "
                "scan(s), all skipped; see `fracturelab batch status` for the reasons"
            )


@app.command()
def status(results: ResultsOption) -> None:
    """Counts by state, failures with their reasons, throughput."""
    with user_errors():
        from fracturelab.batch.status import status_lines

        for line in status_lines(results):
            typer.echo(line)


@app.command()
def export(
    results: ResultsOption,
    out: Annotated[Path, typer.Option(help="The findings CSV to write.")],
    flagged: Annotated[bool, typer.Option(help="Only flagged vertebrae of flagged scans.")] = False,
    min_grade: Annotated[int, typer.Option(help="Lowest Genant grade flagged (0-3).")] = 2,
    min_probability: Annotated[
        float | None, typer.Option(help="Flag too a model probability at or above this.")
    ] = None,
) -> None:
    """Write findings.csv: one row per vertebra of each done scan (or only flagged ones)."""
    with user_errors():
        from fracturelab.batch import ResultsStore, finding_rows
        from fracturelab.batch.flags import FINDINGS_COLUMNS
        from fracturelab.outputs import check_output_dir, write_csv

        if not 0 <= min_grade <= 3:
            raise InputError(f"--min-grade {min_grade}: must be 0-3")
        if min_probability is not None and not 0.0 <= min_probability <= 1.0:
            raise InputError(f"--min-probability {min_probability}: must be in [0, 1]")
        check_output_dir(out.parent if str(out.parent) else Path(), "--out")
        store = ResultsStore.existing(results)
        try:
            rows = finding_rows(
                store.records("done"),
                flagged_only=flagged,
                min_grade=min_grade,
                min_probability=min_probability,
            )
        finally:
            store.dispose()
        write_csv(out, FINDINGS_COLUMNS, rows)
        scans = len({row["key"] for row in rows})
        typer.echo(f"{out}: {len(rows)} row(s) from {scans} scan(s)", err=True)


batch_watch.register(app)  # batch watch: follow a PACS (docs/pacs.md)
batch_review.register(app)  # batch compare: the reader against the radiologists' review
