"""Figures of the evaluation: ROC curves, reliability diagrams and localisation errors.

Every function draws with matplotlib's Agg backend (never shows a window), writes a PNG
atomically and closes its figure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from fracturelab.errors import InputError
from fracturelab.evaluation._checks import check_labels, check_scores
from fracturelab.evaluation.calibration import reliability_curve
from fracturelab.evaluation.classification import roc_auc
from fracturelab.evaluation.localisation import DEFAULT_THRESHOLDS_MM, success_rates
from fracturelab.outputs import pyplot, save_figure
from fracturelab.typing import Float64Array

if TYPE_CHECKING:
    pass

__all__ = ["Interval", "plot_calibration", "plot_localisation_errors", "plot_roc"]


_DPI = 120


class Interval(Protocol):
    """Anything with ``low`` and ``high`` bounds, e.g. a bootstrap or DeLong interval."""

    @property
    def low(self) -> float: ...  # noqa: D102

    @property
    def high(self) -> float: ...  # noqa: D102


def plot_roc(
    curves: Mapping[str, tuple[Any, Any, Interval | tuple[float, float] | None]],
    path: str | Path,
    title: str = "ROC curves",
) -> Path:
    """Draw ROC curves on one set of axes, with AUC [CI] in the legend and the chance line.

    Args:
        curves: Name -> ``(y_true, p, ci)``: 0/1 labels ``(n,)``, scores ``(n,)`` and the
            AUC interval (an object with ``low``/``high``, a ``(low, high)`` pair, or
            ``None``).
        path: Where to write the PNG.
        title: Figure title.

    Returns:
        The PNG path.

    Raises:
        InputError: If ``curves`` is empty or a curve's data are invalid.

    """
    from sklearn.metrics import roc_curve

    _require(curves, "curves")
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5.6, 5.4))
    try:
        for name, (y_true, p, ci) in curves.items():
            y = check_labels(y_true, f"curves[{name!r}] y_true")
            scores = check_scores(p, f"curves[{name!r}] p", length=y.size, probabilities=False)
            auc = roc_auc(y, scores)
            fpr, tpr, _ = roc_curve(y, scores)
            ax.plot(fpr, tpr, lw=1.8, label=f"{name}: AUC {auc:.3f}{_bounds_text(ci)}")
        ax.plot([0, 1], [0, 1], ls="--", lw=1.0, color="0.5", label="chance (AUC 0.5)")
        ax.set(xlim=(-0.01, 1.01), ylim=(-0.01, 1.01), aspect="equal", title=title)
        ax.set_xlabel("1 - specificity (false positive rate, fraction)")
        ax.set_ylabel("sensitivity (true positive rate, fraction)")
        ax.grid(alpha=0.3)
        ax.legend(loc="lower right", fontsize=8)
        fig.tight_layout()
        return save_figure(fig, path, dpi=_DPI, close=False)
    finally:
        plt.close(fig)


def plot_calibration(
    curves: Mapping[str, tuple[Any, Any]],
    path: str | Path,
    title: str = "Calibration",
    n_bins: int = 10,
    strategy: str = "uniform",
) -> Path:
    """Draw reliability diagrams (with ECE in the legend) over histograms of the predictions.

    Args:
        curves: Name -> ``(y_true, p)``: 0/1 labels ``(n,)`` and probabilities ``(n,)``.
        path: Where to write the PNG.
        title: Figure title.
        n_bins: Number of probability bins.
        strategy: ``"uniform"`` or ``"quantile"`` bins.

    Returns:
        The PNG path.

    Raises:
        InputError: If ``curves`` is empty or a curve's data are invalid.

    """
    _require(curves, "curves")
    plt = pyplot()
    fig, (top, bottom) = plt.subplots(
        2, 1, figsize=(5.6, 6.6), sharex=True, gridspec_kw={"height_ratios": (3, 1)}
    )
    try:
        top.plot([0, 1], [0, 1], ls="--", lw=1.0, color="0.5", label="perfectly calibrated")
        bins = np.linspace(0.0, 1.0, 21)
        for name, (y_true, p) in curves.items():
            curve = reliability_curve(y_true, p, n_bins=n_bins, strategy=strategy)
            top.plot(
                curve.mean_predicted,
                curve.fraction_positive,
                marker="o",
                lw=1.5,
                label=f"{name}: ECE {curve.ece:.3f}",
            )
            probabilities = check_scores(p, f"curves[{name!r}] p")
            bottom.hist(probabilities, bins=bins, histtype="step", lw=1.5, label=name)
        top.set(xlim=(-0.01, 1.01), ylim=(-0.01, 1.01), title=title)
        top.set_ylabel("observed fraction of AFF (fraction)")
        top.grid(alpha=0.3)
        top.legend(loc="upper left", fontsize=8)
        bottom.set_xlabel(f"predicted probability of AFF ({strategy} bins: {n_bins})")
        bottom.set_ylabel("images (count)")
        bottom.grid(alpha=0.3)
        fig.tight_layout()
        return save_figure(fig, path, dpi=_DPI, close=False)
    finally:
        plt.close(fig)


def plot_localisation_errors(
    errors_mm: Mapping[str, Any],
    path: str | Path,
    title: str = "Fracture-centre localisation error",
    thresholds_mm: Sequence[float] = DEFAULT_THRESHOLDS_MM,
) -> Path:
    """Draw per-group box and strip plots and cumulative success rate against distance.

    NaN errors (unknown pixel spacing) are left out; each group shows its count.

    Args:
        errors_mm: Group name -> errors in mm, shape ``(n_group,)``.
        path: Where to write the PNG.
        title: Figure title.
        thresholds_mm: Distances (mm) marked on the success-rate curve.

    Returns:
        The PNG path.

    Raises:
        InputError: If ``errors_mm`` is empty or a group has no finite error.

    """
    _require(errors_mm, "errors_mm")
    groups = {name: _finite(values, f"errors_mm[{name!r}]") for name, values in errors_mm.items()}
    plt = pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(10.5, 4.6))
    try:
        names = list(groups)
        left.boxplot(
            list(groups.values()), showfliers=False, widths=0.5, medianprops={"color": "black"}
        )
        left.set_xticks(range(1, len(names) + 1), [f"{n}\n(n={groups[n].size})" for n in names])
        jitter = np.random.default_rng(0)
        for position, values in enumerate(groups.values(), start=1):
            offsets = jitter.uniform(-0.15, 0.15, values.size)
            left.scatter(position + offsets, values, s=9, alpha=0.5)
        left.set_ylabel("localisation error (mm)")
        left.grid(axis="y", alpha=0.3)
        largest = max(float(v.max()) for v in groups.values())
        grid_end = max(largest, *thresholds_mm) * 1.05
        for name, values in groups.items():
            ordered = np.sort(values)
            rates = np.arange(ordered.size + 1) / ordered.size  # exact empirical CDF
            rates_at = success_rates(values, tuple(thresholds_mm))
            marks = ", ".join(f"{rate:.0%}" for rate in rates_at.values())
            steps_x, steps_y = np.r_[0.0, ordered, grid_end], np.r_[rates, 1.0]
            right.step(steps_x, steps_y, where="post", lw=1.8, label=f"{name} ({marks})")
        for t in thresholds_mm:
            right.axvline(t, ls=":", lw=1.0, color="0.4")
            right.annotate(f"{t:g} mm", (t, 0.02), rotation=90, fontsize=7, ha="right")
        right.set(ylim=(0.0, 1.02), xlim=(0.0, grid_end))
        right.set_xlabel("distance to the true centre (mm)")
        right.set_ylabel("images within distance (fraction)")
        limits = ", ".join(f"{t:g}" for t in thresholds_mm)
        right.legend(title=f"success at {limits} mm", loc="lower right", fontsize=8)
        right.grid(alpha=0.3)
        fig.suptitle(title)
        fig.tight_layout()
        return save_figure(fig, path, dpi=_DPI, close=False)
    finally:
        plt.close(fig)


def _bounds_text(ci: Interval | tuple[float, float] | None) -> str:
    if ci is None:
        return ""
    low, high = (ci[0], ci[1]) if isinstance(ci, tuple) else (ci.low, ci.high)
    return f" [{float(low):.3f}, {float(high):.3f}]"


def _require(mapping: Mapping[str, Any], name: str) -> None:
    if not mapping:
        raise InputError(f"{name} is empty; give at least one named entry")


def _finite(values: Any, name: str) -> Float64Array:
    array = np.asarray(values, dtype=np.float64).ravel()
    finite = array[np.isfinite(array)]
    if finite.size == 0:
        raise InputError(f"{name} has no finite error ({array.size} values); need at least one")
    return finite
