"""``fracturelab spine evaluate``: a trained spine model on a graded dataset, VerSe protocol.

Reads the dataset (``scans.csv`` + ``grades.csv``, the workstation's spine export, or a VerSe
folder), checks that every graded level is in its label map and that the set holds
fractures, cuts its graded vertebrae into a patch cache with the model's patch spec
(``OUT/cache`` by default; reused on a rerun), predicts every graded vertebra with the mean
of the model's fold networks and writes into ``OUT``:

- ``predictions.csv``: the pinned predictions table, every row ``split`` = ``test``;
- ``report.md``, ``report.html``, ``metrics.json``, ``metrics.csv``, ``figures/``: the VerSe
  protocol report (the model's P(fracture) threshold is the one its folder records);
- ``evaluated_model.json``: the model and dataset used, and the scans or vertebrae skipped.

See ``docs/spine-model.md``.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from fracturelab.cli._common import user_errors
from fracturelab.outputs import check_output_dir

if TYPE_CHECKING:
    from fracturelab.spine.learned.bundle import SpineModel
    from fracturelab.spine.learned.data import VertebraRecord
    from fracturelab.spine.learned.evaluation import SpineEvaluation

__all__ = ["evaluate", "register"]

#: Library parameter names -> the options that set them, for error messages.
_OPTIONS = {"out_dir": "--cache", "jobs": "--jobs", "n_boot": "--bootstrap", "seed": "--seed"}


def register(app: typer.Typer) -> None:
    """Add the ``evaluate`` command to the ``spine`` app."""
    app.command("evaluate")(evaluate)


def evaluate(
    dataset: Annotated[
        Path,
        typer.Option(
            help="scans.csv (grades.csv beside it), a workstation spine export CSV (with "
            "patient_id), or a VerSe folder."
        ),
    ],
    model: Annotated[Path, typer.Option(help="Spine model folder: spine train's RUN/models/best.")],
    out: Annotated[Path, typer.Option(help="Report folder.")],
    grades: Annotated[
        Path | None,
        typer.Option(help="Grades CSV (default: grades.csv beside scans.csv) or VerSe table."),
    ] = None,
    cache: Annotated[
        Path | None,
        typer.Option(help="Patch cache folder (default: OUT/cache); reused when rerun."),
    ] = None,
    jobs: Annotated[int, typer.Option(help="Scans cut into patches at once.")] = 1,
    bootstrap: Annotated[
        int, typer.Option(help="Bootstrap resamples (by patient) of the CIs.")
    ] = 2000,
    seed: Annotated[int, typer.Option(help="Seed of the bootstrap.")] = 0,
    gallery: Annotated[
        bool, typer.Option(help="Grad-CAM gallery of the worst errors in the report.")
    ] = True,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars.")] = False,
) -> None:
    """Evaluate a spine model on a graded dataset (VerSe protocol); write predictions and report."""
    with user_errors(_OPTIONS):
        folder = check_output_dir(out, "--out")
        cache_dir = check_output_dir(cache, "--cache") if cache is not None else folder / "cache"
        from fracturelab.spine.learned.apply import model_patch_spec, model_summary
        from fracturelab.spine.learned.bundle import SpineModel

        learned = SpineModel.load(model)
        spec = model_patch_spec(learned, model)
        from fracturelab.spine.dataset import check_levels_in_masks, check_trainable, read_dataset

        data = read_dataset(dataset, grades)
        check_trainable(data)  # graded fractures and normal vertebrae: AUCs need both
        check_levels_in_masks(data, jobs, progress=not quiet)
        from fracturelab.spine.patch_cache import prepare_cache

        prepare_cache(
            data, cache_dir, spec, jobs=jobs, levels_with_grades_only=True, show_progress=not quiet
        )
        rows, records, skipped = _predict(learned, cache_dir, quiet)
        from fracturelab.outputs import atomic_write_text, write_csv
        from fracturelab.spine.learned.evaluation import evaluate as run_evaluation
        from fracturelab.spine.learned.predictions_table import PREDICTION_COLUMNS
        from fracturelab.spine.learned.report import write_report

        predictions = write_csv(folder / "predictions.csv", PREDICTION_COLUMNS, rows)
        evaluation = run_evaluation(
            predictions, threshold_from={"model_ge1": learned.threshold}, n_boot=bootstrap,
            seed=seed,
        )  # fmt: skip
        title = f"Spine classifier {model} on {dataset}"
        with tempfile.TemporaryDirectory() as scratch:
            images = _gallery(evaluation, learned, records, Path(scratch)) if gallery else []
            write_report(evaluation, folder, title=title, gallery=images)
        provenance = {
            "model": model_summary(learned, model),
            "model_training_data": learned.training_data,
            "dataset": str(dataset),
            "grades": None if grades is None else str(grades),
            "cache": str(cache_dir),
            "vertebrae": len(rows),
            "skipped": skipped,
        }
        atomic_write_text(
            folder / "evaluated_model.json", json.dumps(provenance, indent=2, default=str) + "\n"
        )
        _print_summary(evaluation, folder, len(rows), skipped)


def _predict(
    learned: SpineModel, cache_dir: Path, quiet: bool
) -> tuple[list[dict[str, Any]], list[VertebraRecord], list[dict[str, str]]]:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from fracturelab.spine.learned.apply import predict_cache

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, disable=quiet) as progress:
        task = progress.add_task("predicting vertebrae", total=None)

        def advance(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        return predict_cache(learned, cache_dir, progress=advance)


def _gallery(
    evaluation: SpineEvaluation, learned: SpineModel, records: list[VertebraRecord], folder: Path
) -> list[tuple[str, Path]]:
    """Grad-CAM pictures of the evaluation's worst errors (all fold networks)."""
    from fracturelab.spine.learned.data import load_patches, morphometry_features
    from fracturelab.spine.learned.gallery import draw_error_gallery

    worst = evaluation.to_dict()["worst_errors"]
    by_key = {(r.case_id, r.level): r for r in records}
    chosen = [by_key[(str(w["case_id"]), str(w["level"]))] for w in worst]
    keys = [(r.case_id, r.level) for r in chosen]
    patches = dict(zip(keys, load_patches(chosen), strict=True))
    features = {
        (r.case_id, r.level): morphometry_features(r.height_loss_pct, r.morph_grade) for r in chosen
    }
    networks = {key: learned.networks for key in keys}
    return draw_error_gallery(
        worst,
        patches,
        networks,
        learned.backbone,
        folder,
        features if learned.fuse_morphometry else None,
    )


def _print_summary(
    evaluation: SpineEvaluation, folder: Path, n: int, skipped: list[dict[str, str]]
) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    metrics = evaluation.to_dict()
    table = Table(title=f"Spine model evaluation ({n} graded vertebrae)")
    for column in ("method", "level", "target", "AUC", "95 % CI", "sens.", "spec."):
        table.add_column(column, justify="left" if column in ("method", "level") else "right")
    for row in metrics.get("binary", []):
        if row.get("split") != "test":
            continue
        low, high = row.get("auc_low"), row.get("auc_high")
        table.add_row(
            str(row.get("method")),
            str(row.get("level")),
            str(row.get("target")),
            _shown(row.get("auc")),
            "n/a" if low is None or high is None else f"{low:.3f}-{high:.3f}",
            _shown(row.get("sensitivity")),
            _shown(row.get("specificity")),
        )
    console.print(table)
    for grade_row in metrics.get("grades", []):
        if grade_row.get("split") == "test":
            console.print(
                f"{grade_row.get('method')}: quadratic kappa "
                f"{_shown(grade_row.get('kappa_quadratic'))}, exact agreement "
                f"{_shown(grade_row.get('exact_agreement'))}"
            )
    for row in skipped:
        console.print(
            f"skipped: {row['case_id']} {row.get('level', '')}: {row['status']}: {row['reason']}"
        )
    console.print(f"Predictions: {folder / 'predictions.csv'}")
    console.print(f"Report: {folder / 'report.md'} (and report.html, metrics.json, metrics.csv)")


def _shown(value: Any) -> str:
    return "n/a" if value is None else f"{value:.3f}" if isinstance(value, float) else str(value)
