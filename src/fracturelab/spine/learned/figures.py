"""Figures of the spine model report: ROC curves, calibration and grade confusion matrices.

Each figure shows one split: ``test`` when the predictions have test rows, else
``validation``. ROC curves put the model, morphometry and their combination on one set of
axes (:func:`fracturelab.evaluation.plot_roc`), each over the vertebrae it scored, with its
bootstrap interval from the evaluation in the legend.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from fracturelab.evaluation import plot_roc, reliability_curve
from fracturelab.outputs import pyplot, save_figure
from fracturelab.spine.learned.evaluation import METHODS, SpineEvaluation
from fracturelab.spine.learned.predictions_table import TARGETS, patient_max

__all__ = ["draw_figures", "figure_split"]

_DPI = 110
_LEVELS = ("vertebra", "patient")


def figure_split(evaluation: SpineEvaluation) -> str:
    """The split the figures show: ``test`` when there are test rows, else ``validation``."""
    return "test" if "test" in evaluation["counts"] else "validation"


def draw_figures(evaluation: SpineEvaluation, folder: Path) -> dict[str, Path]:
    """Draw every figure into ``folder / "figures"``.

    Args:
        evaluation: The evaluated predictions.
        folder: The report folder.

    Returns:
        Figure key (``roc_ge1_vertebra``, ..., ``calibration``, ``confusion``) -> PNG path;
        a ROC figure is left out when no method has both classes on its vertebrae.

    """
    out = folder / "figures"
    split = figure_split(evaluation)
    figures: dict[str, Path] = {}
    for target, grade in TARGETS.items():
        for level in _LEVELS:
            curves = _roc_curves(evaluation, split, target, level)
            if curves:
                name = f"roc_{target}_{level}"
                title = f"Grade >= {grade}, per {level} ({split})"
                figures[name] = plot_roc(curves, out / f"{name}.png", title=title)
    figures["calibration"] = _calibration(evaluation, split, out / "calibration.png")
    figures["confusion"] = _confusion(evaluation, split, out / "confusion.png")
    return figures


def _roc_curves(
    evaluation: SpineEvaluation, split: str, target: str, level: str
) -> dict[str, tuple[Any, Any, tuple[float, float] | None]]:
    """Method (with its count) -> (truth, scores, AUC interval) of the vertebrae it scored."""
    table = evaluation.predictions
    rows = table.rows(split)
    curves: dict[str, tuple[Any, Any, tuple[float, float] | None]] = {}
    for method in METHODS:
        scores = evaluation.scores(method, target)
        if scores is None:
            continue
        chosen = rows[np.isfinite(scores[rows])]
        y, p = table.truth(target)[chosen], scores[chosen]
        if level == "patient" and chosen.size:
            _, y, p = patient_max(table.patients[chosen], y, p)
        if np.unique(y).size < 2:
            continue
        row = next(
            r
            for r in evaluation["binary"]
            if (r["method"], r["target"], r["level"], r["split"]) == (method, target, level, split)
        )
        ci = (row["auc_low"], row["auc_high"]) if "auc_low" in row else None
        curves[f"{method} (n={y.size})"] = (y, p, ci)
    return curves


def _calibration(evaluation: SpineEvaluation, split: str, path: Path) -> Path:
    """Reliability diagram of P(grade >= 1) and P(grade >= 2) over their histograms."""
    table = evaluation.predictions
    rows = table.rows(split)
    plt = pyplot()
    fig, (top, bottom) = plt.subplots(
        2, 1, figsize=(5.6, 6.6), sharex=True, gridspec_kw={"height_ratios": (3, 1)}
    )
    top.plot([0, 1], [0, 1], ls="--", lw=1.0, color="0.5", label="perfectly calibrated")
    for target, grade in TARGETS.items():
        y, p = table.truth(target)[rows], table.model_score(target)[rows]
        curve = reliability_curve(y, p, n_bins=10)
        label = f"P(grade >= {grade}): ECE {curve.ece:.3f}"
        top.plot(curve.mean_predicted, curve.fraction_positive, marker="o", lw=1.5, label=label)
        bottom.hist(p, bins=np.linspace(0.0, 1.0, 21), histtype="step", lw=1.5, label=label)
    top.set(xlim=(-0.01, 1.01), ylim=(-0.01, 1.01), title=f"Calibration of the model ({split})")
    top.set_ylabel("observed fraction of fractured vertebrae")
    top.grid(alpha=0.3)
    top.legend(loc="upper left", fontsize=8)
    bottom.set_xlabel("predicted probability (10 equal-width bins)")
    bottom.set_ylabel("vertebrae (count)")
    bottom.grid(alpha=0.3)
    fig.tight_layout()
    return save_figure(fig, path, dpi=_DPI)


def _confusion(evaluation: SpineEvaluation, split: str, path: Path) -> Path:
    """Genant grade confusion matrices (rows truth, columns prediction), one per method."""
    rows = [g for g in evaluation["grades"] if g["split"] == split]
    plt = pyplot()
    fig, axes = plt.subplots(1, len(rows), figsize=(4.6 * len(rows), 4.4), squeeze=False)
    for ax, row in zip(axes[0], rows, strict=True):
        matrix = np.asarray(row["confusion"])
        ax.imshow(matrix, cmap="Blues", vmin=0, vmax=max(int(matrix.max()), 1))
        for (i, j), count in np.ndenumerate(matrix):
            colour = "white" if count > matrix.max() / 2 else "black"
            ax.text(j, i, str(count), ha="center", va="center", color=colour)
        ticks = range(matrix.shape[0])
        ax.set(xticks=ticks, yticks=ticks, xlabel=f"{row['method']} grade", ylabel="true grade")
        kappa = row["kappa_quadratic"]
        shown = "undefined" if math.isnan(kappa) else f"{kappa:.3f}"
        ax.set_title(f"{row['method']}: quadratic kappa {shown} (n={row['n']})", fontsize=9)
    fig.suptitle(f"Genant grades ({split})")
    fig.tight_layout()
    return save_figure(fig, path, dpi=_DPI)
