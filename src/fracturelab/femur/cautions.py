"""What the data support: the report's warnings, as sentences and per-row notes.

Four kinds of warning:

- **Small samples.** Fewer than :data:`MIN_PATIENTS_PER_CLASS` patients of either class in a
  subset (test, or the development patients' out-of-fold validation).
- **Degenerate intervals.** A bootstrap interval of zero width.
- **Disagreement.** A model's test AUC interval and its out-of-fold validation AUC interval
  do not overlap: the two estimates of the same quantity contradict each other beyond their
  stated uncertainty, so at least one of the intervals is too narrow (usually the test
  set's, which rests on fewer patients).
- **No learning.** A network trained for more than one epoch kept its first epoch's weights:
  its validation score never improved, a failure to learn (learning rate, target scale,
  heatmap width), not a result.
"""

from __future__ import annotations

import math
from typing import Any

__all__ = [
    "MIN_PATIENTS_PER_CLASS",
    "cautions",
    "disagreements",
    "first_epoch_networks",
    "mark_cautions",
    "small",
]

#: Below this many patients of either class in a subset, its AUCs, bootstrap intervals and
#: DeLong p-values carry a small-sample caution. With n1 AFF and n0 NFF patients an AUC takes
#: only n1 * n0 + 1 values, and a model that ranks at random reaches AUC 1 with probability
#: 1 / C(n1 + n0, n1) (1 in 21 for 2 AFF and 5 NFF patients); Hanley and McNeil's standard
#: error of an AUC of 0.8 is still about 0.07 with 20 patients per class (95 % interval
#: +-0.14, the width of the step from "fair" to "good"), and percentile bootstrap intervals
#: over fewer patients are too narrow. Twenty per class is the least at which a comparison
#: of two models says more than "it runs".
MIN_PATIENTS_PER_CLASS = 20
#: A bootstrap interval narrower than this is degenerate (every resample gave the same AUC).
_DEGENERATE_CI_WIDTH = 1e-9


def small(counts: dict[str, int]) -> bool:
    """Whether a subset has fewer than :data:`MIN_PATIENTS_PER_CLASS` patients of a class."""
    return min(counts["aff_patients"], counts["nff_patients"]) < MIN_PATIENTS_PER_CLASS


def _degenerate(ci: Any) -> bool:
    return isinstance(ci, list) and ci[1] - ci[0] < _DEGENERATE_CI_WIDTH


def _interval(ci: Any) -> str:
    return f"[{ci[0]:.3f}, {ci[1]:.3f}]"


def disagreements(classification: dict[str, Any]) -> list[dict[str, Any]]:
    """Models (per level) whose test and out-of-fold validation AUC intervals do not overlap.

    Args:
        classification: ``metrics["classification"]``: level -> model -> subset -> metrics.

    Returns:
        One dict per disagreement: ``model``, ``level``, ``test_auc``, ``test_ci``,
        ``validation_auc``, ``validation_ci``.

    """
    found = []
    for level, models in classification.items():
        for model, subsets in models.items():
            test, validation = subsets.get("test", {}), subsets.get("validation", {})
            a, b = test.get("auc_ci"), validation.get("auc_ci")
            if not (isinstance(a, list) and isinstance(b, list)):
                continue
            if a[1] < b[0] or b[1] < a[0]:
                found.append(
                    {
                        "model": model, "level": level,
                        "test_auc": test.get("auc"), "test_ci": a,
                        "validation_auc": validation.get("auc"), "validation_ci": b,
                    }
                )  # fmt: skip
    return found


def first_epoch_networks(
    best_epochs: dict[str, int], history: dict[str, list[dict[str, Any]]]
) -> list[str]:
    """Networks validated over more than one epoch that kept their first epoch."""
    return sorted(
        name for name, epoch in best_epochs.items() if epoch == 1 and len(history.get(name, [])) > 1
    )


def cautions(
    patients: dict[str, dict[str, int]],
    classification: dict[str, Any],
    first_epoch: list[str] | None = None,
) -> list[str]:
    """Sentences for the report where its numbers say less than they seem to."""
    found = []
    names = {"test": "test set", "validation": "out-of-fold validation (development) set"}
    for subset in ("test", "validation"):
        counts = patients[subset]
        if not small(counts):
            continue
        n_aff, n_nff = counts["aff_patients"], counts["nff_patients"]
        text = (
            f"small {names[subset]}: {n_aff} AFF and {n_nff} NFF patients (fewer than "
            f"{MIN_PATIENTS_PER_CLASS} of a class), so its AUCs, intervals and p-values are "
            "unreliable"
        )
        if n_aff and n_nff:
            text += (
                f"; a model that ranks at random reaches AUC 1.000 with probability 1 in "
                f"{math.comb(n_aff + n_nff, n_aff):,}"
            )
        found.append(text)
    degenerate = [
        f"{model} ({level}, {subset})"
        for level, models in classification.items()
        for model, subsets in models.items()
        for subset, metrics in subsets.items()
        if _degenerate(metrics.get("auc_ci"))
    ]
    if degenerate:
        found.append(
            "bootstrap 95 % interval of zero width for "
            + ", ".join(degenerate)
            + ": every resample gave the same AUC, so the interval shows no uncertainty at "
            "all; the real uncertainty is larger, the more so with few patients"
        )
    for row in disagreements(classification):
        found.append(
            f"test and validation disagree for {row['model']} ({row['level']}): test AUC "
            f"{row['test_auc']:.3f} {_interval(row['test_ci'])} vs out-of-fold validation AUC "
            f"{row['validation_auc']:.3f} {_interval(row['validation_ci'])}, intervals that do "
            "not overlap; at least one interval is too narrow, so trust neither alone (the "
            "validation estimate rests on more patients; --repeats N widens it to include "
            "split-to-split variance)"
        )
    if first_epoch:
        found.append(
            "kept their first epoch (the validation score never improved after it): "
            + ", ".join(first_epoch)
            + "; a network that does not improve has failed to learn, so its numbers are not "
            "a result: check the learning rate, the number of epochs and, for a localizer, "
            "whether the fracture is visible at its input resolution"
        )
    return found


def mark_cautions(
    classification: dict[str, Any],
    comparisons: list[dict[str, Any]],
    patients: dict[str, dict[str, int]],
) -> None:
    """Add a short ``caution`` to every table row whose numbers rest on too few patients."""
    disagreeing = {(row["level"], row["model"]) for row in disagreements(classification)}
    for level, models in classification.items():
        for model, subsets in models.items():
            for subset, metrics in subsets.items():
                notes = []
                if small(patients[subset]):
                    counts = patients[subset]
                    notes.append(
                        f"small sample ({counts['aff_patients']} AFF / "
                        f"{counts['nff_patients']} NFF patients)"
                    )
                if _degenerate(metrics.get("auc_ci")):
                    notes.append("interval of zero width")
                if (level, model) in disagreeing:
                    notes.append("test and validation intervals do not overlap")
                metrics["caution"] = "; ".join(notes)
    for row in comparisons:
        counts = patients[row["subset"]]
        row["caution"] = (
            f"small sample ({counts['aff_patients']} AFF / {counts['nff_patients']} NFF patients)"
            if small(counts)
            else ""
        )
