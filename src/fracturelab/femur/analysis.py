"""Metrics of a femur experiment: localisation error, classification, paired comparisons.

Test-set numbers come from the final models; validation numbers are out-of-fold predictions
of the cross-validation models (each image predicted by the model that did not train on it).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np

from fracturelab.errors import InputError
from fracturelab.evaluation import (
    LocalisationErrors,
    aggregate_by_patient,
    binary_metrics,
    bootstrap_ci,
    compare_groups,
    delong_test,
    success_rates,
)
from fracturelab.femur.cautions import (
    MIN_PATIENTS_PER_CLASS,
    cautions,
    first_epoch_networks,
    mark_cautions,
)
from fracturelab.femur.result import ExperimentResult, model_name
from fracturelab.femur.splits import TEST
from fracturelab.typing import FloatArray, IntArray

__all__ = ["MIN_PATIENTS_PER_CLASS", "analyze"]

# MIN_PATIENTS_PER_CLASS is re-exported: the report and older callers import it from here.


def _safe(compute: Callable[[], Any]) -> Any:
    """Run a statistic; a case it cannot handle (e.g. one class only) gives its reason."""
    try:
        return compute()
    except InputError as error:
        return {"unavailable": str(error)}


def _subsets(result: ExperimentResult) -> dict[str, IntArray]:
    return {"test": result.splits.indices(TEST), "validation": result.splits.development()}


def _summary(result: ExperimentResult, errors: LocalisationErrors) -> dict[str, Any]:
    """Per subset and class: median, IQR, mean and success rates of one set of errors."""
    labels = result.labels
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
    return per_subset


def _localisation(result: ExperimentResult) -> dict[str, Any]:
    """Final errors per backbone; ``stage1``: the first stage's of a two-stage localizer.

    ``outside_offsets`` is the share of development images whose out-of-fold first-stage
    error exceeds, on either axis, the largest offset the second stage was trained on.
    """
    out: dict[str, Any] = {b: _summary(result, result.errors(b)) for b in result.centers}
    out["best"] = result.best_localizer
    out["method"] = "two-stage" if result.coarse_centers else "single"
    if result.coarse_centers:
        out["stage1"] = {
            b: _summary(result, result.coarse_errors(b)) for b in result.coarse_centers
        }
        development = result.splits.development()
        limit = result.config.refine.max_offset_mm
        spacing = result.spacing_xy_mm[development]
        outside = {}
        for backbone, coarse in result.coarse_centers.items():
            delta = np.abs(coarse[development] - result.truth_xy_px[development]) * spacing
            known = np.isfinite(delta).all(axis=1)
            beyond = (delta[known] > limit).any(axis=1)
            outside[backbone] = float(beyond.mean()) if beyond.size else None
        out["outside_offsets"] = outside
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
            repeats = result.repeat_probabilities.get((approach, backbone))
            if subset == "validation" and repeats is not None:
                metrics.update(_over_repeats(result, repeats, chosen, level))
            per_subset[subset] = metrics
        out[model_name(approach, backbone)] = per_subset
    return out


def _over_repeats(
    result: ExperimentResult, repeats: FloatArray, chosen: IntArray, level: str
) -> dict[str, Any]:
    """Out-of-fold AUC over repeated cross-validations, its interval with their variance.

    Each repetition gives an AUC and a patient-bootstrap interval; the estimate is their
    mean and the interval is mean +- 1.96 sqrt(w + b), where w is the mean bootstrap
    variance ((interval width / 3.92)^2) and b the variance of the AUCs between repetitions
    (the split-to-split variance a single cross-validation cannot show).
    """
    labels, patients = result.labels[chosen], np.array([i.row.patient_id for i in result.images])
    aucs, within = [], []
    for p in repeats:
        y, scores, groups = labels, p[chosen].astype(np.float64), patients[chosen]
        if level == "patient":
            groups, y, scores = aggregate_by_patient(groups, y, scores)
        ci = _safe(
            partial(bootstrap_ci, y, scores, groups, n_resamples=result.config.n_bootstrap,
                    seed=result.config.seed)
        )  # fmt: skip
        if isinstance(ci, dict):
            return {"repeats": {"n": len(repeats), **ci}}
        aucs.append(float(ci.estimate))
        within.append(((ci.high - ci.low) / 3.92) ** 2)
    mean = float(np.mean(aucs))
    between = float(np.var(aucs, ddof=1)) if len(aucs) > 1 else 0.0
    half = 1.96 * float(np.sqrt(np.mean(within) + between))
    return {
        "auc": mean,
        "auc_ci": [max(0.0, mean - half), min(1.0, mean + half)],
        "repeats": {"n": len(aucs), "aucs": aucs, "sd_between": float(np.sqrt(between))},
    }


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


def _pairs(result: ExperimentResult) -> list[tuple[str, str]]:
    backbones = result.config.backbones
    pairs = [(model_name("patch", b), model_name("downsample", b)) for b in backbones]
    if len(backbones) == 2:
        for approach in ("patch", "downsample"):
            pairs.append((model_name(approach, backbones[0]), model_name(approach, backbones[1])))
    return pairs


def _comparisons(result: ExperimentResult) -> list[dict[str, Any]]:
    rows = []
    for subset, chosen in _subsets(result).items():
        rows += _comparisons_on(result, subset, chosen)
    return rows


def _comparisons_on(
    result: ExperimentResult, subset: str, chosen: IntArray
) -> list[dict[str, Any]]:
    labels, patients = (
        result.labels[chosen],
        np.array([i.row.patient_id for i in result.images])[chosen],
    )
    probabilities: dict[str, Any] = {
        model_name(a, b): p[chosen].astype(np.float64) for (a, b), p in result.probabilities.items()
    }
    rows = []
    for first, second in _pairs(result):
        for level in ("image", "patient"):
            y, p_a, p_b = labels, probabilities[first], probabilities[second]
            if level == "patient":
                _, y, p_a = aggregate_by_patient(patients, labels, p_a)
                _, _, p_b = aggregate_by_patient(patients, labels, p_b)
            test_result = _safe(partial(delong_test, y, p_a, p_b))
            row: dict[str, Any] = {"a": first, "b": second, "level": level, "subset": subset}
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
    mark_cautions(classification, comparisons, patients)
    first_epoch = first_epoch_networks(result.best_epochs, result.history)
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
        "training": {"best_epochs": dict(result.best_epochs), "first_epoch_kept": first_epoch},
        "cautions": cautions(patients, classification, first_epoch),
        "notes": list(result.notes),
    }
