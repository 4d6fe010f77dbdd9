"""``fracturelab spine``: vertebral fracture grading on CT."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from fracturelab.cli import spine_dataset, spine_evaluate, spine_model, spine_semi
from fracturelab.cli._common import user_errors
from fracturelab.errors import InputError
from fracturelab.outputs import check_output_dir

if TYPE_CHECKING:
    from rich.table import Table

    from fracturelab.spine.report import SpineReport

__all__ = ["app"]

app = typer.Typer(help="Spine CT: per-vertebra height morphometry and Genant grades.",
                  no_args_is_help=True)  # fmt: skip


@app.command()
def analyze(
    ct: Annotated[
        Path, typer.Option(help="CT: NIfTI, MHA/MHD, NRRD file or a DICOM series folder.")
    ],
    out: Annotated[
        Path, typer.Option(help="Output folder for vertebrae.json/.csv and overview.png.")
    ],
    vertebrae: Annotated[
        Path | None,
        typer.Option(
            help="Vertebra label map (same formats) or a folder of TotalSegmentator "
            "per-level files (vertebrae_L1.nii.gz ...). Required."
        ),
    ] = None,
    labels: Annotated[
        str, typer.Option(help="Label convention: auto, verse, totalseg_v2 or totalseg_v1.")
    ] = "auto",
    resample_labels: Annotated[
        bool,
        typer.Option(help="Resample a label map on another grid onto the CT (nearest neighbour)."),
    ] = False,
    overview: Annotated[bool, typer.Option(help="Draw overview.png.")] = True,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No table, no progress.")] = False,
    allow_modality: Annotated[
        list[str] | None,
        typer.Option(
            "--allow-modality",
            help="Also accept a DICOM series of this Modality as the CT (e.g. MR); repeatable. "
            "Series that are not CT are refused without it.",
        ),
    ] = None,
    model: Annotated[
        Path | None,
        typer.Option(
            help="Spine model folder (spine train's RUN/models/best): adds each vertebra's "
            "fracture probability, the model's grade and morphology (docs/spine-model.md)."
        ),
    ] = None,
) -> None:
    """Measure and grade every vertebra: heights (mm), height loss (%), Genant grade, morphology."""
    with user_errors():
        check_output_dir(out, "--out")
        learned = None
        if model is not None:
            from fracturelab.spine.learned.bundle import SpineModel

            learned = SpineModel.load(model)
        if vertebrae is None:
            raise InputError(_no_vertebrae(model, learned is not None and learned.needs_mask))
        from rich.console import Console
        from rich.progress import Progress

        from fracturelab.spine.scan import read_spine_scan

        console = Console(stderr=True, quiet=quiet)
        with Progress(console=console, transient=True) as progress:
            task = progress.add_task("reading CT and label map", total=None)

            def step(text: str) -> None:
                progress.update(task, description=text)

            def advance(done: int, total: int, level: str) -> None:
                progress.update(task, completed=done, total=total, description=f"measured {level}")

            reading = read_spine_scan(
                ct,
                vertebrae,
                model=learned,
                model_folder=model,
                labels=labels,
                resample_labels=resample_labels,
                allow_modalities=allow_modality or (),
                on_step=step,
                on_vertebra=advance,
            )
            progress.update(task, description="writing results")
            written = reading.write(out, overview=overview)
        report = reading.report
        console.print(f"[dim]{reading.label_map.detection}[/dim]")
        if not quiet:
            Console().print(_table(report))
        # Doubts about the level names matter even in a quiet run: always on stderr.
        for warning in report.level_warnings:
            Console(stderr=True).print(f"[yellow]warning:[/yellow] {warning}", highlight=False)
        if report.model is not None:
            used = report.model
            console.print(
                f"model {used['folder']}: {used['backbone']} ({used['model_size']}, "
                f"{used['folds']} folds, fracturelab {used['fracturelab_version']}); "
                f"{report.summary['n_model_flagged']} vertebrae flagged"
            )
        for path in written.values():
            console.print(f"wrote {path}")


def _no_vertebrae(model: Path | None, needs_mask: bool) -> str:
    """The one line for a missing ``--vertebrae``."""
    if model is not None and needs_mask:
        return (
            f"--vertebrae is missing: the model {model} reads the CT with its vertebra mask "
            "(channels ct, vertebra, neighbours); give the CT's label map with --vertebrae"
        )
    return (
        "--vertebrae is missing: vertebrae are found and framed from the label map; give the "
        "CT's vertebra label map with --vertebrae"
    )


def _table(report: SpineReport) -> Table:
    from rich.table import Table

    table = Table(title="Vertebrae", title_justify="left")
    columns = ["level", "status", "Ha mm", "Hm mm", "Hp mm", "loss %", "grade", "type"]
    if report.model is not None:
        columns += ["P(fx)", "model"]
    for column in columns:
        table.add_column(column, justify="right" if "mm" in column or "%" in column else "left")
    style = {0: "green", 1: "yellow", 2: "dark_orange", 3: "bold red"}
    for v in report.vertebrae:
        heights = v.heights_mm or {}
        row = [
            v.level,
            v.status if v.status == "graded" else f"{v.status}: {v.reason or ''}",
            *(
                f"{heights[k]:.1f}" if k in heights else ""
                for k in ("anterior", "middle", "posterior")
            ),
            f"{v.height_loss_pct:.1f}" if v.height_loss_pct is not None else "",
            str(v.genant_grade) if v.genant_grade is not None else "",
            v.morphology or "",
        ]
        if report.model is not None:
            row += _model_cells(v.model or {})
        table.add_row(
            *row, style=style.get(v.genant_grade, "dim") if v.genant_grade is not None else "dim"
        )
    return table


def _model_cells(model: dict[str, Any]) -> list[str]:
    p = model.get("fracture_probability")
    grade = model.get("model_grade")
    flag = " !" if model.get("grade_source") == "morphometry_flagged" else ""
    return [
        "" if p is None else f"{p:.2f}",
        "" if grade is None else f"G{grade}{flag}",
    ]


# Commands defined in their own modules, listed after analyze in --help.
spine_model.register(app)  # spine train
spine_dataset.register(app)  # spine dataset check
spine_evaluate.register(app)  # spine evaluate
spine_semi.register(app)  # spine pretrain, spine ablation
