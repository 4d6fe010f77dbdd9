"""The ablation's table, learning curve and reading, as CSV, JSON, Markdown and HTML.

``write_ablation_report(result, folder)`` writes ``ablation.csv`` (one row per variant and
fraction, :data:`ABLATION_COLUMNS`), ``ablation.json``, ``learning_curve.png`` (test AUC for
grade >= 1 and >= 2 against the graded fraction, one line per variant, with the bootstrap
intervals as bars) and ``ablation.md`` / ``ablation.html``. The reading is produced from
the numbers by one rule (:func:`verdict`): a variant "helps" at a fraction only when its
AUC is higher than supervised-only's and DeLong's p < 0.05; otherwise the report says that
no benefit was shown there. Nothing is rounded in its favour.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fracturelab.document import Block, to_html, to_markdown
from fracturelab.outputs import atomic_write_text, pyplot, save_figure, write_csv
from fracturelab.spine.learned.ablation import AblationResult

__all__ = ["ABLATION_COLUMNS", "verdict", "write_ablation_report"]

#: Columns of ``ablation.csv``.
ABLATION_COLUMNS: tuple[str, ...] = (
    "variant", "fraction", "graded_patients", "graded_vertebrae", "pseudo_vertebrae",
    "auc_ge1", "auc_ge1_low", "auc_ge1_high", "difference_ge1", "delong_p_ge1",
    "auc_ge2", "auc_ge2_low", "auc_ge2_high", "difference_ge2", "delong_p_ge2",
)  # fmt: skip
_ALPHA = 0.05
#: Below this many positive test vertebrae the reading warns that p-values are unreliable.
_FEW_POSITIVES = 10


def verdict(row: dict[str, Any], cut: str = "ge1") -> str:
    """``helps``, ``hurts``, ``no significant difference`` or ``not measurable`` (vs supervised)."""
    p, difference = row.get(f"delong_p_{cut}"), row.get(f"difference_{cut}")
    if p is None or difference is None:
        return "not measurable"
    if p < _ALPHA:
        return "helps" if difference > 0 else "hurts"
    return "no significant difference"


def _cell(value: Any) -> str:
    return "n/a" if value is None else f"{value:.3f}" if isinstance(value, float) else str(value)


def _auc_text(row: dict[str, Any], cut: str) -> str:
    if row[f"auc_{cut}"] is None:
        return "n/a"
    return f"{row[f'auc_{cut}']:.3f} ({row[f'auc_{cut}_low']:.3f}-{row[f'auc_{cut}_high']:.3f})"


def _figure(result: AblationResult, path: Path) -> Path:
    plt = pyplot()
    figure, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
    for axis, cut, title in zip(axes, ("ge1", "ge2"), ("grade >= 1", "grade >= 2"), strict=True):
        for variant in result.variants:
            rows = [r for r in result.rows if r["variant"] == variant and r[f"auc_{cut}"]]
            if not rows:
                continue
            x = [100 * r["fraction"] for r in rows]
            y = [r[f"auc_{cut}"] for r in rows]
            below = [r[f"auc_{cut}"] - r[f"auc_{cut}_low"] for r in rows]
            above = [r[f"auc_{cut}_high"] - r[f"auc_{cut}"] for r in rows]
            axis.errorbar(x, y, yerr=[below, above], marker="o", capsize=3, label=variant)
        axis.set_title(f"test AUC, {title}")
        axis.set_xlabel("graded development patients used (%)")
        axis.set_ylim(0.0, 1.02)
        axis.axhline(0.5, color="grey", lw=0.5, ls="--")
    axes[0].set_ylabel("AUC (95 % patient-bootstrap CI)")
    axes[0].legend(loc="lower right")
    return save_figure(figure, path, tight=True)


def _reading(result: AblationResult) -> list[str]:
    lines = []
    few = [name for name, key in (("grade >= 1", "grade_ge1"), ("grade >= 2", "grade_ge2"))
           if result.test.get(key, 0) < _FEW_POSITIVES]  # fmt: skip
    if few:
        lines.append(
            f"Caution: the test set holds fewer than {_FEW_POSITIVES} positive vertebrae for "
            f"{' and '.join(few)}; DeLong p-values and bootstrap intervals on so few cases are "
            "unreliable, and a single 'helps' or 'hurts' there may be chance."
        )
    for variant in result.variants[1:]:
        for cut, name in (("ge1", "grade >= 1"), ("ge2", "grade >= 2")):
            found = {
                f"{round(100 * r['fraction'])} %": verdict(r, cut)
                for r in result.rows
                if r["variant"] == variant
            }
            helped = [k for k, v in found.items() if v == "helps"]
            hurt = [k for k, v in found.items() if v == "hurts"]
            text = f"{variant}, {name}: "
            if helped:
                text += f"better than supervised-only (DeLong p < 0.05) at {', '.join(helped)}"
            else:
                text += "no benefit over supervised-only was shown at any fraction"
            if hurt:
                text += f"; worse (p < 0.05) at {', '.join(hurt)}"
            lines.append(text + ".")
    return lines


def write_ablation_report(result: AblationResult, folder: str | Path) -> dict[str, Path]:
    """Write the ablation's files into ``folder``; return them by kind."""
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    table = write_csv(out / "ablation.csv", ABLATION_COLUMNS, result.rows)
    document = {"test": result.test, "variants": list(result.variants), "rows": result.rows,
                "notes": result.notes, "reading": _reading(result)}  # fmt: skip
    data = atomic_write_text(out / "ablation.json", json.dumps(document, indent=2) + "\n")
    figure = _figure(result, out / "learning_curve.png")
    test = result.test
    header = [
        "variant", "graded %", "graded vertebrae", "pseudo vertebrae", "AUC >=1 (95 % CI)",
        "p vs sup. (>=1)", "AUC >=2 (95 % CI)", "p vs sup. (>=2)",
    ]  # fmt: skip
    rows = [
        [r["variant"], round(100 * r["fraction"]), r["graded_vertebrae"], r["pseudo_vertebrae"],
         _auc_text(r, "ge1"), _cell(r["delong_p_ge1"]), _auc_text(r, "ge2"),
         _cell(r["delong_p_ge2"])]
        for r in result.rows
    ]  # fmt: skip
    blocks: list[Block] = [
        ("h1", "Spine classifier: does unlabelled data help?"),
        (
            "p",
            f"One held-out test set for every setting: {test['vertebrae']} vertebrae of "
            f"{test['patients']} patients ({test['grade_ge1']} with grade >= 1, "
            f"{test['grade_ge2']} with grade >= 2). Same seed for every network; the "
            "fractions are nested subsets of the graded development patients. Intervals: "
            "95 % bootstrap resampling patients; p: DeLong's test against supervised-only "
            "at the same fraction.",
        ),
        ("table", header, rows),
        ("img", figure, "Test AUC against the share of graded patients used"),
        ("h2", "Reading"),
        ("ul", _reading(result)),
        (
            "p",
            "A small test set gives wide intervals: a difference that is not significant "
            "here is not evidence of no effect, and phantom results say nothing about real "
            "CTs.",
        ),
    ]
    if result.notes:
        blocks += [("h2", "Notes"), ("ul", result.notes)]
    markdown = atomic_write_text(out / "ablation.md", to_markdown(blocks, out))
    page = atomic_write_text(out / "ablation.html", to_html(blocks, out, "Spine ablation"))
    return {"csv": table, "json": data, "figure": figure, "markdown": markdown, "html": page}
