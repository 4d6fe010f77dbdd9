"""Metrics of a femur experiment: localisation error, classification, paired comparisons.

Test-set numbers come from the final models; validation numbers are out-of-fold predictions
of the cross-validation models (each image predicted by the model that did not train on it).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np

from fracturelab.errors import InputError
from fracturelab.evaluation import (
    aggregate_by_patient,
    binary_metrics,
    bootstrap_ci,
    compare_groups,
    delong_test,
    success_rates,
)
from fracturelab.femur.result import ExperimentResult, model_name
from fracturelab.femur.splits import TEST
from fracturelab.typing import IntArray

__all__ = ["MIN_PATIENTS_PER_CLASS", "analyze"]

#: Below this many patients of either class in a subset, its AUCs, bootstrap intervals and
#: DeLong p-values carry a small-sample caution. With n1 AFF and n0 NFF patients an AUC takes
#: only n1 * n0 + 1 values, and a model that ranks at random reaches AUC 1 with probability
#: 1 / C(n1 + n0, n1) (1 in 21 for 2 AFF and 5 NFF patients); Hanley and McNeil's standard
#: error of an AUC of 0.8 is still about 0.10 with 10 patients per class (95 % interval
#: +-0.2), and percentile bootstrap intervals over so few patients are too narrow. Ten per
#: class is therefore the least at which the numbers say more than "it runs".
MIN_PATIENTS_PER_CLASS = 10
#: A bootstrap interval narrower than this is degenerate (every resample gave the same AUC).
_DEGENERATE_CI_WIDTH = 1e-9


def _safe(compute: Callable[[], Any]) -> Any:
    """Run a statistic; a case it cannot handle (e.g. one class only) gives its reason."""
    try:
        return compute()
    except InputError as error:
        return {"unavailable": str(error)}


def _subsets(result: ExperimentResult) -> dict[str, IntArray]:
    return {"test": result.splits.indices(TEST), "validation": result.splits.development()}


def _localisation(result: ExperimentResult) -> dict[str, Any]:
    labels = result.labels
    out: dict[str, Any] = {}
    for backbone in result.centers:
        errors = result.errors(backbone)
        per_subset: dict[str, Any] = {}
        for subset, chosen in _subsets(result).items():
            unit, values = ("mm", errors.mm) if np.isfinite(errors.mm[chosen]).any() else (
                "px", errors.px
            )  # fmt: skip
            summary: dict[str, Any] = {"unit": unit}
            for name, flag in (("AFF", 1), ("NFF", 0), ("all", None)):
                mask = chosen if flag is None else chosen[labels[chosen] == flag]
                finite = values[mask][np.isfinite(values[mask])]
                if finite.size == 0:
                    summary[name] = {"n": 0}
                    continue
                summary[name] = {
                    "n": int(finite.size),
                    "median": float(np.median(finite)),
                    "iqr": [float(np.percentile(finite, 25)), float(np.percentile(finite, 75))],
                    "mean": float(finite.mean()),
                    "median_px": float(np.median(errors.px[mask])),
                }
                if unit == "mm":
                    rates = success_rates(finite)
                    summary[name]["success_rate"] = {f"{k:g}": float(v) for k, v in rates.items()}
            aff = values[chosen[labels[chosen] == 1]]
            nff = values[chosen[labels[chosen] == 0]]
            comparison = _safe(partial(compare_groups, aff, nff))
            summary["mann_whitney_aff_vs_nff"] = (
                comparison
                if isinstance(comparison, dict)
                else {"u": float(comparison.u_statistic), "p_value": float(comparison.p_value)}
            )
            per_subset[subset] = summary
        out[backbone] = per_subset
    out["best"] = result.best_localizer
    return out


def _classification(result: ExperimentResult, level: str) -> dict[str, Any]:
    labels, patients = result.labels, np.array([i.row.patient_id for i in result.images])
    out: dict[str, Any] = {}
    for (approach, backbone), p in result.probabilities.items():
        threshold = result.thresholds[(approach, backbone)]
        per_subset: dict[str, Any] = {}
        for subset, chosen in _subsets(result).items():
            y, scores, groups = labels[chosen], p[chosen].astype(np.float64), patients[chosen]
            if level == "patient":
                groups, y, scores = aggregate_by_patient(groups, y, scores)
            metrics: dict[str, Any] = dict(binary_metrics(y, scores, threshold))
            ci = _safe(
                partial(
                    bootstrap_ci,
                    y,
                    scores,
                    groups,
                    n_resamples=result.config.n_bootstrap,
                    seed=result.config.seed,
                )
            )
            metrics["auc_ci"] = ci if isinstance(ci, dict) else [float(ci.low), float(ci.high)]
            per_subset[subset] = metrics
        out[model_name(approach, backbone)] = per_subset
    return out


def _patients_per_class(result: ExperimentResult) -> dict[str, dict[str, int]]:
    """Per subset: AFF and NFF patients (a patient with an AFF image counts as AFF)."""
    out: dict[str, dict[str, int]] = {}
    for subset, chosen in _subsets(result).items():
        aff_of: dict[str, bool] = {}
        for index in chosen:
            row = result.images[int(index)].row
            aff_of[row.patient_id] = aff_of.get(row.patient_id, False) or row.is_aff
        n_aff = sum(aff_of.values())
        out[subset] = {"aff_patients": n_aff, "nff_patients": len(aff_of) - n_aff}
    return out


def _small(counts: dict[str, int]) -> bool:
    return min(counts["aff_patients"], counts["nff_patients"]) < MIN_PATIENTS_PER_CLASS


def _degenerate(ci: Any) -> bool:
    return isinstance(ci, list) and ci[1] - ci[0] < _DEGENERATE_CI_WIDTH


def _cautions(patients: dict[str, dict[str, int]], classification: dict[str, Any]) -> list[str]:
    """Sentences for the report when its numbers rest on too few patients (see above)."""
    cautions = []
    for subset in ("test", "validation"):
        counts = patients[subset]
        if not _small(counts):
            continue
        n_aff, n_nff = counts["aff_patients"], counts["nff_patients"]
        text = (
            f"small {subset} set: {n_aff} AFF and {n_nff} NFF patients (fewer than "
            f"{MIN_PATIENTS_PER_CLASS} of a class), so its AUCs, intervals and p-values are "
            "unreliable"
        )
        if n_aff and n_nff:
            text += (
                f"; a model that ranks at random reaches AUC 1.000 with probability 1 in "
                f"{math.comb(n_aff + n_nff, n_aff):,}"
            )
        cautions.append(text)
    degenerate = [
        f"{model} ({level}, {subset})"
        for level, models in classification.items()
        for model, subsets in models.items()
        for subset, metrics in subsets.items()
        if _degenerate(metrics.get("auc_ci"))
    ]
    if degenerate:
        cautions.append(
            "bootstrap 95 % interval of zero width for "
            + ", ".join(degenerate)
            + ": every resample gave the same AUC, so the interval shows no uncertainty at "
            "all; the real uncertainty is larger, the more so with few patients"
        )
    return cautions


def _mark_cautions(
    classification: dict[str, Any],
    comparisons: list[dict[str, Any]],
    patients: dict[str, dict[str, int]],
) -> None:
    """Add a short ``caution`` to every table row whose numbers rest on too few patients."""
    for models in classification.values():
        for subsets in models.values():
            for subset, metrics in subsets.items():
                notes = []
                if _small(patients[subset]):
                    counts = patients[subset]
                    notes.append(
                        f"small sample ({counts['aff_patients']} AFF / "
                        f"{counts['nff_patients']} NFF patients)"
                    )
                if _degenerate(metrics.get("auc_ci")):
                    notes.append("interval of zero width")
                metrics["caution"] = "; ".join(notes)
    for row in comparisons:
        counts = patients[row["subset"]]
        row["caution"] = (
            f"small sample ({counts['aff_patients']} AFF / {counts['nff_patients']} NFF patients)"
            if _small(counts)
            else ""
        )


def _pairs(result: ExperimentResult) -> list[tuple[str, str]]:
    backbones = result.config.backbones
    pairs = [(model_name("patch", b), model_name("downsample", b)) for b in backbones]
    if len(backbones) == 2:
        for approach in ("patch", "downsample"):
            pairs.append((model_name(approach, backbones[0]), model_name(approach, backbones[1])))
    return pairs


def _comparisons(result: ExperimentResult) -> list[dict[str, Any]]:
    test = result.splits.indices(TEST)
    labels, patients = (
        result.labels[test],
        np.array([i.row.patient_id for i in result.images])[test],
    )
    probabilities = {model_name(a, b): p[test] for (a, b), p in result.probabilities.items()}
    rows = []
    for first, second in _pairs(result):
        for level in ("image", "patient"):
            y, p_a, p_b = labels, probabilities[first], probabilities[second]
            if level == "patient":
                _, y, p_a = aggregate_by_patient(patients, labels, p_a)
                _, _, p_b = aggregate_by_patient(patients, labels, p_b)
            test_result = _safe(partial(delong_test, y, p_a, p_b))
            row: dict[str, Any] = {"a": first, "b": second, "level": level, "subset": "test"}
            if isinstance(test_result, dict):
                row.update(test_result)
            else:
                row.update(
                    auc_a=test_result.auc_a,
                    auc_b=test_result.auc_b,
                    difference=test_result.difference,
                    ci_difference=list(test_result.ci_difference),
                    z=test_result.z,
                    p_value=test_result.p_value,
                )
            rows.append(row)
    return rows


def analyze(result: ExperimentResult) -> dict[str, Any]:
    """All numbers of the report, JSON-ready (also written as ``metrics.json``)."""
    labels = result.labels
    patients = _patients_per_class(result)
    classification = {
        "image": _classification(result, "image"),
        "patient": _classification(result, "patient"),
    }
    comparisons = _comparisons(result)
    _mark_cautions(classification, comparisons, patients)
    return {
        "dataset": {
            "images": len(result.images),
            "patients": len({i.row.patient_id for i in result.images}),
            "aff_images": int(labels.sum()),
            "nff_images": int((1 - labels).sum()),
            "splits": result.splits.summary(),
            "test_images": int(result.splits.indices(TEST).size),
            "patients_per_class": patients,
        },
        "localisation": _localisation(result),
        "classification": classification,
        "thresholds": {model_name(a, b): t for (a, b), t in result.thresholds.items()},
        "comparisons": comparisons,
        "backbones": list(result.config.backbones),
        "cautions": _cautions(patients, classification),
        "notes": list(result.notes),
    }
