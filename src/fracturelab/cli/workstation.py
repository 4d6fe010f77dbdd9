"""``fracturelab workstation``: set up the labelling workstation's database, users and cases."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from fracturelab.cli._common import user_errors
from fracturelab.cli._workstation_db import DbOption, connected
from fracturelab.cli.workstation_users import app as user_app

if TYPE_CHECKING:
    from rich.table import Table

    from fracturelab.workstation.agreement import AgreementReport
    from fracturelab.workstation.importer import ImportSummary

__all__ = ["app"]

_HELP = "Labelling workstation: database, users, cases, worklists and label export."
app = typer.Typer(
    help=_HELP, no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False
)
import_app = typer.Typer(
    help="Register images as cases (files stay where they are).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(user_app, name="user")
app.add_typer(import_app, name="import")


@app.callback()
def _workstation() -> None:
    """Labelling workstation: database, users, cases, worklists and label export."""


def _echo_importing(name: str) -> None:
    typer.echo(f"importing {name}", err=True)


@app.command("init")
def init(db: DbOption = None) -> None:
    """Create the database, or upgrade an older one to the current schema."""
    with user_errors():
        from fracturelab.workstation.db import Database
        from fracturelab.workstation.settings import WorkstationSettings

        database = Database(WorkstationSettings.resolve(db))
        try:
            result = database.upgrade()
        finally:
            database.dispose()
        if result.before is None:
            typer.echo(f"Created workstation database {database.display_url} ({result.after})")
        elif result.changed:
            typer.echo(f"Upgraded {database.display_url} from {result.before} to {result.after}")
        else:
            typer.echo(f"{database.display_url} is up to date ({result.after})")


def _report(summary: ImportSummary) -> None:
    for name, reason in summary.failed:
        typer.echo(f"failed: {name}: {reason}", err=True)
    for note in summary.notes:
        typer.echo(f"note: {note}", err=True)
    typer.echo(f"Imported: {summary.describe()}")


@import_app.command("spine")
def import_spine(
    ct_dir: Annotated[Path, typer.Option(help="Folder of CTs (files or DICOM folders).")],
    vertebrae_dir: Annotated[
        Path, typer.Option(help="Folder of label maps: <case>, <case>_vertebrae or <case>/.")
    ],
    suggest: Annotated[
        bool, typer.Option("--suggest", help="Pre-fill grades from `spine analyze`.")
    ] = False,
    model: Annotated[
        Path | None,
        typer.Option(
            help="Spine model folder (spine train's RUN/models/best): suggestions come from "
            "the model instead of the morphometry (implies --suggest)."
        ),
    ] = None,
    db: DbOption = None,
) -> None:
    """Register spine CTs and their vertebra label maps, paired by name."""
    with user_errors():
        from fracturelab.workstation.importer import import_spine as run

        with connected(db) as database, database.session() as session:
            summary = run(
                session,
                ct_dir,
                vertebrae_dir,
                suggest,
                progress=_echo_importing,
                model_dir=model,
            )
        _report(summary)


@import_app.command("findings")
def import_findings(
    results: Annotated[
        str, typer.Option(help="Results database of `fracturelab batch run` (path or URL).")
    ],
    min_grade: Annotated[
        int, typer.Option(help="A vertebra at this Genant grade or above flags its scan (1-3).")
    ] = 2,
    min_probability: Annotated[
        float | None,
        typer.Option(help="Also flag a model fracture probability at or above this (0-1)."),
    ] = None,
    audit_sample: Annotated[
        int,
        typer.Option(
            help="Also import this many unflagged scans, drawn at random, so that "
            "`batch compare` can estimate the reader's sensitivity."
        ),
    ] = 0,
    seed: Annotated[int, typer.Option(help="Seed of the audit sample.")] = 0,
    db: DbOption = None,
) -> None:
    """Put the background reader's flagged scans on the worklist, its reading pre-filled."""
    with user_errors():
        from fracturelab.workstation.findings import import_findings as run

        with connected(db) as database, database.session() as session:
            summary = run(
                session,
                results,
                min_grade=min_grade,
                min_probability=min_probability,
                audit_sample=audit_sample,
                seed=seed,
                progress=_echo_importing,
            )
        _report(summary)


@import_app.command("femur")
def import_femur(
    manifest: Annotated[Path, typer.Option(help="Femur manifest CSV (image,patient_id,...).")],
    model: Annotated[
        Path | None, typer.Option(help="Model folder for suggestions, e.g. runs/x/models/best.")
    ] = None,
    db: DbOption = None,
) -> None:
    """Register the radiographs of a femur manifest, one case per row."""
    with user_errors():
        from fracturelab.workstation.importer import import_femur as run

        with connected(db) as database, database.session() as session:
            summary = run(
                session,
                manifest,
                model,
                progress=_echo_importing,
            )
        _report(summary)


@app.command("assign")
def assign(
    task: Annotated[str, typer.Option(help="spine or femur.")],
    reader: Annotated[str, typer.Option(help="Username of the reader.")],
    case: Annotated[
        list[str] | None, typer.Option(help="Case name; repeat for several cases.")
    ] = None,
    all_cases: Annotated[
        bool, typer.Option("--all-cases", help="Assign every case of the task.")
    ] = False,
    db: DbOption = None,
) -> None:
    """Put cases on a reader's worklist."""
    with user_errors():
        from fracturelab.errors import InputError
        from fracturelab.workstation.users import get_user
        from fracturelab.workstation.worklist import assign as run
        from fracturelab.workstation.worklist import check_task, get_case, list_cases

        check_task(task)
        if bool(case) == all_cases:
            raise InputError("give either --case NAME (repeatable) or --all-cases, not both")
        with connected(db) as database, database.transaction() as session:
            user = get_user(session, reader)
            cases = (
                list_cases(session, task)
                if all_cases
                else [get_case(session, task, name) for name in case or []]
            )
            result = run(session, cases, user)
        typer.echo(
            f"Assigned {result.added} {task} case(s) to {reader} "
            f"({result.already} already on the worklist)"
        )


@app.command("export")
def export(
    task: Annotated[str, typer.Option(help="spine or femur.")],
    out: Annotated[Path, typer.Option(help="Output CSV (spine labels or femur manifest).")],
    reader: Annotated[
        str | None, typer.Option(help="Export one reader's finished readings.")
    ] = None,
    consensus: Annotated[
        str, typer.Option(help="Without --reader: reference, majority or median.")
    ] = "majority",
    db: DbOption = None,
) -> None:
    """Write labels in the format the training commands read."""
    with user_errors():
        from fracturelab.workstation.exporter import export_femur, export_spine
        from fracturelab.workstation.worklist import check_task

        run = export_spine if check_task(task) == "spine" else export_femur
        with connected(db) as database, database.session() as session:
            summary = run(session, out, reader, consensus)
        for tie in summary.ties:
            typer.echo(f"tie (left empty): {tie}", err=True)
        if summary.skipped:
            typer.echo(f"note: {len(summary.skipped)} case(s) left out, e.g. "
                       f"{summary.skipped[0]}", err=True)  # fmt: skip
        typer.echo(f"Wrote {summary.rows} row(s) from {summary.cases} case(s) to {out}")


@app.command("agreement")
def agreement(
    task: Annotated[str, typer.Option(help="spine or femur.")],
    out: Annotated[
        Path | None,
        typer.Option(help="Also write agreement.json and agreement.csv into this folder."),
    ] = None,
    db: DbOption = None,
) -> None:
    """Inter-reader agreement of finished readings: kappas per pair, femur centre distances."""
    with user_errors():
        from rich.console import Console

        from fracturelab.workstation.agreement import agreement_report, write_report
        from fracturelab.workstation.worklist import check_task

        check_task(task)
        with connected(db) as database, database.session() as session:
            report = agreement_report(session, task)
        written = write_report(report, out) if out is not None else ()
        console = Console()
        console.print(_agreement_table(report))
        if report.fleiss is not None:
            fleiss = report.fleiss
            console.print(
                f"Fleiss' kappa of grades ({len(report.fleiss_readers)} readers, "
                f"{fleiss.n_items} levels graded by all): {_kappa_text(fleiss.kappa)}"
            )
        for note in report.notes:
            typer.echo(f"note: {note}", err=True)
        for path in written:
            typer.echo(f"Wrote {path}")


def _kappa_text(value: float | None) -> str:
    return "n/a" if value is None or math.isnan(value) else f"{value:.3f}"


def _percent_text(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


def _agreement_table(report: AgreementReport) -> Table:
    from rich import box
    from rich.table import Table

    readers = ", ".join(report.readers)
    rows = report.rows()
    if report.task == "spine":
        table = Table(
            box=box.SIMPLE_HEAD,
            pad_edge=False,
            title=f"Spine agreement (finished readings of {readers})",
            caption="κw: quadratic-weighted Cohen's kappa of the Genant grades; fractured: "
            "grade >= 1; over the levels both readers graded",
        )
        table.add_column("readers", no_wrap=True)
        for header in ("levels", "grade\nκw", "same\ngrade", "fractured\nagree",
                       "fractured\nκ"):  # fmt: skip
            table.add_column(header, justify="right")
        for row in rows:
            table.add_row(
                f"{row['reader_a']} / {row['reader_b']}", str(row["n_levels"]),
                _kappa_text(row["grade_kappa_quadratic"]),
                _percent_text(row["grade_exact_agreement"]),
                _percent_text(row["fractured_agreement"]), _kappa_text(row["fractured_kappa"]),
            )  # fmt: skip
        return table
    unit = report.unit if report.unit == "mm" else "px (no spacing)"
    table = Table(
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        title=f"Femur agreement (finished readings of {readers})",
        caption=f"label: AFF vs NFF over the cases both labelled; centre distance in {unit} "
        "over the cases where both placed a centre",
    )
    table.add_column("readers", no_wrap=True)
    headers = ["cases", "both\nAFF/NFF", "label\nagree", "label\nκ", "both\ncentres"]
    headers += [f"{name}\n{report.unit}" for name in ("median", "mean", "max")]
    for header in headers:
        table.add_column(header, justify="right")
    for row in rows:
        table.add_row(
            f"{row['reader_a']} / {row['reader_b']}", str(row["n_cases"]),
            str(row["n_labelled"]), _percent_text(row["label_agreement"]),
            _kappa_text(row["label_kappa"]), str(row["n_centres"]),
            *(_distance_text(row[k]) for k in ("distance_median", "distance_mean", "distance_max")),
        )  # fmt: skip
    return table


def _distance_text(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f}"


@app.command("serve")
def serve(
    db: DbOption = None,
    host: Annotated[
        str, typer.Option(help="Address to listen on; 0.0.0.0 exposes it to the network.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port.")] = 8000,
    secure_cookies: Annotated[
        bool,
        typer.Option(
            "--secure-cookies/--no-secure-cookies",
            help="Mark the session cookie Secure; turn on when users reach the server over "
            "HTTPS (e.g. behind a reverse proxy).",
        ),
    ] = False,
    cache_dir: Annotated[
        Path | None,
        typer.Option(help="Folder for converted images (default: the server chooses)."),
    ] = None,
    forwarded_allow_ips: Annotated[
        list[str] | None,
        typer.Option(
            "--forwarded-allow-ips",
            help="Address of a reverse proxy whose X-Forwarded-For is believed (repeat, or "
            "comma-separated; networks like 10.0.0.0/8 too). Default: none, the connecting "
            "address counts for throttling and the audit.",
            show_default=False,
        ),
    ] = None,
    allowed_host: Annotated[
        list[str] | None,
        typer.Option(
            "--allowed-host",
            help="Host name users type to reach the server (repeatable; *.example.org "
            "allowed). Always answered: localhost, 127.0.0.1, [::1] and --host.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Run the web workstation for readers and admins until Ctrl+C."""
    with user_errors():
        from fracturelab.workstation.server.run import serve as run

        run(
            db,
            host,
            port,
            secure_cookies=secure_cookies,
            cache_dir=cache_dir,
            forwarded_allow_ips=forwarded_allow_ips or (),
            allowed_host=allowed_host or (),
        )


@app.command("demo")
def demo(
    out: Annotated[Path, typer.Option(help="New folder for the demo's images and database.")],
    femur_images: Annotated[
        int, typer.Option(min=1, help="Number of synthetic femur radiographs.")
    ] = 6,
    femur_model: Annotated[
        Path | None,
        typer.Option(help="Femur model folder (.../models/best) for femur suggestions."),
    ] = None,
    serve_now: Annotated[
        bool, typer.Option("--serve/--no-serve", help="Serve the demo on 127.0.0.1 right away.")
    ] = False,
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port for --serve.")] = 8000,
) -> None:
    """Build a demo workstation from synthetic spine CTs and femur radiographs."""
    with user_errors():
        from rich.console import Console

        from fracturelab.workstation.demo import build_demo

        console = Console(soft_wrap=True)  # paths and commands stay whole, to copy them
        with console.status("building the demo") as status:
            built = build_demo(
                out,
                femur_images=femur_images,
                femur_model=femur_model,
                progress=lambda message: status.update(f"demo: {message}"),
            )
        console.print(f"Demo workstation with {len(built.cases)} cases in {built.folder}")
        for name, password in built.passwords.items():
            console.print(f"  user [bold]{name}[/bold]  password [bold]{password}[/bold]")
        console.print(f"Passwords also in {built.folder / 'credentials.txt'}")
        command = f"fracturelab workstation serve --db {built.database_url}"
        if not serve_now:
            console.print(f"Serve it with: {command}")
            return
        from fracturelab.workstation.server.run import serve as run

        run(built.database_url, "127.0.0.1", port, secure_cookies=False, cache_dir=None)
