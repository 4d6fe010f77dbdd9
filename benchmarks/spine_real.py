"""Spine morphometry against a radiologist's Genant grades on real CTs (VerSe'19 development set).

Usage:
    python benchmarks/spine_real.py [--data ../shared/data/ct-verse19-graded] [--out DIR]

Runs the spine analysis (``fracturelab.spine.analyze``) on every scan of ``scans.csv`` with its
vertebra mask and compares each vertebra graded in ``grades.csv`` with the measurement. Prints,
per vertebra: case, level, true grade, measured grade, height loss (%), status (and why it was
not graded); then the sensitivity for true grade >= 1 and >= 2 (a fracture is found when it is
measured grade >= 1; an ungraded vertebra is not found), false alarms (true 0, measured >= 1),
exact agreement, Cohen's quadratic-weighted kappa on the vertebrae graded by both, and the
number left ungraded.

With ``--out DIR`` it writes the table (``spine_real.csv``), each case's overview and, for
every missed fracture (``miss_<case>_<level>.png``) and every other grade disagreement that
involves a fracture (``grade_<case>_<level>.png``), the vertebra's own mid-sagittal slice
with its outline and the points where Ha, Hm and Hp were measured.

Without the data folder it says so and exits 0. This is a development set (24 vertebrae, one
reader): use it to understand misses, not to tune thresholds.
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
from dataclasses import dataclass
from pathlib import Path

from fracturelab.errors import FracturelabError, InputError
from fracturelab.evaluation.kappa import weighted_kappa
from fracturelab.outputs import atomic_write_text, check_output_dir
from fracturelab.spine import analyze
from fracturelab.spine.overview import render_overview, render_vertebra
from fracturelab.spine.pipeline import load_inputs
from fracturelab.spine.report import VertebraResult

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
DEFAULT_DATA = SHARED / "ct-verse19-graded"
DEFAULT_TOTALSEG = SHARED / "ct-totalsegmentator-example"
HEIGHTS = ("anterior", "middle", "posterior")
COLUMNS = (
    "case", "level", "true_grade", "measured_grade", "height_loss_pct", "decided_by", "status",
    "reason", "height_anterior_mm", "height_middle_mm", "height_posterior_mm", "warnings",
)  # fmt: skip


@dataclass
class Row:
    """One graded vertebra: the reader's grade and what the analysis made of it."""

    case: str
    level: str
    true_grade: int
    result: VertebraResult | None

    @property
    def measured(self) -> int | None:
        """Measured Genant grade, ``None`` when not graded."""
        if self.result is None or self.result.status != "graded":
            return None
        return self.result.genant_grade

    def as_dict(self) -> dict[str, object]:
        """The CSV row."""
        result = self.result
        heights = (result.heights_mm if result else None) or {}
        return {
            "case": self.case,
            "level": self.level,
            "true_grade": self.true_grade,
            "measured_grade": "" if self.measured is None else self.measured,
            "height_loss_pct": _blank(result.height_loss_pct if result else None, 1),
            "decided_by": (result.decided_by or "") if result else "",
            "status": result.status if result else "missing",
            "reason": (result.reason or "") if result else "no such label in the mask",
            "height_anterior_mm": _blank(heights.get("anterior"), 2),
            "height_middle_mm": _blank(heights.get("middle"), 2),
            "height_posterior_mm": _blank(heights.get("posterior"), 2),
            "warnings": "; ".join(result.warnings) if result else "",
        }


def main(argv: list[str] | None = None) -> int:
    """Run the comparison; return the exit code (0, or 2 for bad input)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder with scans.csv")
    parser.add_argument("--out", type=Path, help="write the table and pictures of misses here")
    parser.add_argument(
        "--totalseg",
        type=Path,
        default=DEFAULT_TOTALSEG,
        help="folder with TotalSegmentator's example CT, label map and spine report",
    )
    args = parser.parse_args(argv)
    try:
        if args.out is not None:
            check_output_dir(args.out, "--out")
        if (args.totalseg / "totalseg_spine_report.json").is_file():
            print(compare_with_totalsegmentator(args.totalseg))
            print()
        if not (args.data / "scans.csv").is_file():
            print(f"skipped: no scans.csv in {args.data} (the real graded set is not here)")
            return 0
        rows = run(args.data, args.out)
    except FracturelabError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(table(rows))
    print()
    print(summary(rows))
    if args.out is not None:
        text = io.StringIO()
        writer = csv.DictWriter(text, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(row.as_dict() for row in rows)
        print(f"wrote {atomic_write_text(args.out / 'spine_real.csv', text.getvalue())}")
    return 0


def run(data: Path, out: Path | None) -> list[Row]:
    """Analyse every scan; return one row per vertebra of ``grades.csv``, in file order."""
    scans = _read_csv(data / "scans.csv", ("case_id", "ct", "vertebrae"))
    grades = _read_csv(data / "grades.csv", ("case_id", "level", "genant_grade"))
    rows: list[Row] = []
    for scan in scans:
        case = scan["case_id"]
        print(f"analysing {case} ...", file=sys.stderr, flush=True)
        ct, label_map = load_inputs(data / scan["ct"], data / scan["vertebrae"])
        report = analyze(ct, label_map)
        found = {v.level: v for v in report.vertebrae}
        case_rows = [
            Row(case, g["level"].upper(), int(g["genant_grade"]), found.get(g["level"].upper()))
            for g in grades
            if g["case_id"] == case
        ]
        rows.extend(case_rows)
        if out is None:
            continue
        print(f"wrote {render_overview(ct, label_map.volume, report, out / f'{case}.png')}")
        for row in case_rows:
            disagrees = row.measured != row.true_grade and max(row.true_grade, row.measured or 0)
            if disagrees and row.result is not None:
                title = (
                    f"{case} {row.level}: reader grade {row.true_grade}, measured "
                    f"{'not graded' if row.measured is None else f'grade {row.measured}'}"
                )
                kind = "miss" if (row.measured or 0) == 0 else "grade"
                picture = out / f"{kind}_{case}_{row.level}.png"
                print(f"wrote {render_vertebra(ct, label_map.volume, row.result, picture, title)}")
    return rows


def table(rows: list[Row]) -> str:
    """The per-vertebra table as Markdown."""
    lines = [
        "| case | level | true grade | measured grade | height loss % | status |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        data = row.as_dict()
        status = str(data["status"])
        if data["reason"] and status != "graded":
            status += f": {data['reason']}"
        mark = "" if row.measured == row.true_grade else " (!)"
        lines.append(
            f"| {row.case} | {row.level} | {row.true_grade} | "
            f"{data['measured_grade'] if data['measured_grade'] != '' else '-'}{mark} | "
            f"{data['height_loss_pct'] if data['height_loss_pct'] != '' else '-'} | {status} |"
        )
    return "\n".join(lines)


def summary(rows: list[Row]) -> str:
    """Sensitivity, false alarms, exact agreement, quadratic kappa and ungraded count."""

    def found(limit: int) -> str:
        positives = [r for r in rows if r.true_grade >= limit]
        hits = sum((r.measured or 0) >= 1 for r in positives)
        return f"{hits} of {len(positives)}" + _pct(hits, len(positives))

    normals = [r for r in rows if r.true_grade == 0]
    moderate = [r for r in rows if r.true_grade >= 2]
    severe = sum((r.measured or 0) >= 2 for r in moderate)
    alarms = sum((r.measured or 0) >= 1 for r in normals)
    graded = [r for r in rows if r.measured is not None]
    exact = sum(r.measured == r.true_grade for r in graded)
    kappa = weighted_kappa(
        [r.true_grade for r in rows], [r.measured for r in rows], weights="quadratic"
    )
    kappa_text = "undefined" if kappa.undefined_reason else f"{kappa.kappa:.2f}"
    return "\n".join(
        [
            f"fractures found (true grade >= 1): {found(1)}",
            f"fractures found (true grade >= 2): {found(2)}",
            f"true grade >= 2 measured >= 2: {severe} of {len(moderate)}"
            + _pct(severe, len(moderate)),
            f"false alarms (true 0, measured >= 1): {alarms} of {len(normals)}",
            f"exact grade: {exact} of {len(rows)}" + _pct(exact, len(rows))
            + f" ({exact} of {len(graded)} graded)",
            f"quadratic-weighted kappa: {kappa_text} (on the {kappa.n_items} vertebrae graded "
            "by both)",
            f"not graded: {len(rows) - len(graded)} of {len(rows)}",
        ]
    )  # fmt: skip


def compare_with_totalsegmentator(folder: Path) -> str:
    """Our L1-L5 heights against TotalSegmentator's own report on its example CT, as Markdown."""
    import json

    theirs = json.loads((folder / "totalseg_spine_report.json").read_text())["results"]
    report = analyze(folder / "ct.nii.gz", folder / "totalseg_total.nii.gz")
    lines = [
        "TotalSegmentator example CT (3 mm): heights in mm, theirs / ours (ours - theirs)",
        "",
        "| level | Ha | Hm | Hp | their height difference | our height loss % |",
        "|---|---|---|---|---|---|",
    ]
    differences: dict[str, list[float]] = {k: [] for k in HEIGHTS}
    for level in ("L1", "L2", "L3", "L4", "L5"):
        vertebra = report[level]
        ours = vertebra.heights_mm or {}
        cells = []
        for key in HEIGHTS:
            reference = theirs.get(f"vertebrae_{level}_height_{key}_mm")
            if reference is None or key not in ours:
                cells.append("-")
                continue
            differences[key].append(ours[key] - reference)
            cells.append(f"{reference:.1f} / {ours[key]:.1f} ({ours[key] - reference:+.1f})")
        score = theirs.get(f"vertebrae_{level}_height_difference")
        loss = "-" if vertebra.height_loss_pct is None else f"{vertebra.height_loss_pct:.1f}"
        lines.append(f"| {level} | {' | '.join(cells)} | {score} | {loss} |")
    means = ", ".join(f"{key} {sum(d) / len(d):+.1f}" for key, d in differences.items() if d)
    lines += ["", f"mean difference (ours - theirs), mm: {means}"]
    return "\n".join(lines)


def _read_csv(path: Path, required: tuple[str, ...]) -> list[dict[str, str]]:
    try:
        with path.open(newline="") as handle:
            records = list(csv.DictReader(handle))
    except OSError as error:
        raise InputError(f"{path}: cannot be read ({error.strerror}); check --data") from error
    missing = [c for c in required if records and c not in records[0]]
    if not records or missing:
        raise InputError(
            f"{path}: no rows or missing columns {', '.join(missing) or required}; check --data"
        )
    return records


def _pct(numerator: int, denominator: int) -> str:
    return f" ({100.0 * numerator / denominator:.0f} %)" if denominator else ""


def _blank(value: float | None, digits: int) -> object:
    return "" if value is None else round(value, digits)


if __name__ == "__main__":
    sys.exit(main())
