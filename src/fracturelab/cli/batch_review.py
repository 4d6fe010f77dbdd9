"""``fracturelab batch compare``: the background reader's calls against the radiologists' review.

The lead wires :func:`register` into the ``batch`` command group.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from fracturelab.cli._common import user_errors
from fracturelab.outputs import check_output_dir

__all__ = ["compare", "register"]


def register(app: typer.Typer) -> None:
    """Add ``compare`` to the ``batch`` command group."""
    app.command("compare")(compare)


def compare(
    results: Annotated[
        str, typer.Option(help="Results database of `fracturelab batch run` (path or URL).")
    ],
    review: Annotated[
        Path,
        typer.Option(help="The review: CSV of `fracturelab workstation export --task spine`."),
    ],
    out: Annotated[Path, typer.Option(help="Folder for comparison.json.")],
    min_grade: Annotated[
        int, typer.Option(help="The reader's flag: Genant grade at or above (as at import).")
    ] = 2,
    min_probability: Annotated[
        float | None,
        typer.Option(help="The reader's flag: model probability at or above (as at import)."),
    ] = None,
    truth_grade: Annotated[
        int | None,
        typer.Option(help="Review grade counted as a fracture (default: --min-grade)."),
    ] = None,
) -> None:
    """Sensitivity and PPV of the reader's flags against the review, per vertebra and scan."""
    with user_errors():
        import json

        from rich.console import Console
        from rich.table import Table

        from fracturelab.outputs import atomic_write_text
        from fracturelab.workstation.findings import open_results
        from fracturelab.workstation.review_agreement import compare_review, read_review

        check_output_dir(out, "--out")
        grades = read_review(review)
        comparison = compare_review(
            open_results(results),
            grades,
            min_grade=min_grade,
            min_probability=min_probability,
            truth_grade=truth_grade,
        )
        path = atomic_write_text(
            Path(out) / "comparison.json", json.dumps(comparison.to_dict(), indent=2) + "\n"
        )
        table = Table(title="Background reader vs review")
        for column in ("", "TP", "FP", "FN", "TN", "sensitivity", "PPV"):
            table.add_column(column)
        for name, counts, sensitivity, ppv in (
            ("vertebrae", comparison.vertebra_counts, comparison.vertebra_sensitivity,
             comparison.vertebra_ppv),
            ("scans", comparison.scan_counts, comparison.scan_sensitivity, comparison.scan_ppv),
        ):  # fmt: skip
            table.add_row(
                name, *(str(counts[k]) for k in ("tp", "fp", "fn", "tn")),
                _share(sensitivity), _share(ppv),
            )  # fmt: skip
        console = Console()
        console.print(table)
        for note in comparison.notes:
            console.print(f"note: {note}", highlight=False)
        console.print(f"wrote {path}")


def _share(value: dict[str, float | None]) -> str:
    if value["value"] is None:
        return "-"
    text = f"{100 * value['value']:.0f} %"
    if value["ci_low"] is not None and value["ci_high"] is not None:
        text += f" [{100 * value['ci_low']:.0f}, {100 * value['ci_high']:.0f}]"
    return text
