"""The VerSe evaluation protocol for a spine fracture classifier's predictions table.

The table has one row per vertebra (:mod:`fracturelab.spine.learned.predictions_table`):
``validation`` rows are out-of-fold predictions, ``test`` rows come from held-out patients.
For each split, for grade >= 1 (``ge1``) and grade >= 2 (``ge2``), per vertebra and per
patient (a patient is positive when any of its vertebrae is, and scored by the maximum over
its vertebrae, :func:`~fracturelab.spine.learned.predictions_table.patient_max`):

* AUC with a percentile bootstrap 95 % interval resampling whole patients
  (:func:`fracturelab.evaluation.bootstrap_ci`, the patient as the group);
* sensitivity and specificity at a threshold chosen on the validation rows (Youden's J,
  :func:`fracturelab.evaluation.choose_threshold`) and applied unchanged to the test rows;
* three methods: the learned ``model``, ``morphometry`` (height loss in percent as its score,
  positive from the Genant cuts :data:`GENANT_CUTS_PCT`) and their ``combination``
  (:data:`COMBINATION_RULE`). Vertebrae without a height loss are counted and left out of
  morphometry and the combination; the DeLong tests use the vertebrae every method scored.

Grades: quadratic-weighted kappa and a 4x4 confusion matrix (rows truth, columns prediction);
morphology: the model's accuracy on fractured vertebrae of known morphology. Genant grades and
cuts: ``docs/design.md``, "Conventions".
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from fracturelab.checks import did_you_mean
from fracturelab.errors import InputError
from fracturelab.evaluation import (
    binary_metrics,
    bootstrap_ci,
    choose_threshold,
    delong_test,
    expected_calibration_error,
    weighted_kappa,
)
from fracturelab.spine.learned.config import GRADES, MORPHOLOGIES
from fracturelab.spine.learned.predictions_table import (
    SPLITS,
    TARGETS,
    Predictions,
    patient_max,
    read_predictions,
)
from fracturelab.typing import Float64Array, IntArray, PathLike

__all__ = [
    "COMBINATION_RULE",
    "GENANT_CUTS_PCT",
    "METHODS",
    "MIN_PATIENTS_PER_CLASS",
    "WORST_ERRORS",
    "ZERO_WIDTH",
    "SpineEvaluation",
    "evaluate",
    "plain",
]

#: Methods compared on the same vertebrae.
METHODS = ("model", "morphometry", "combination")
#: Morphometry calls a vertebra positive from these height losses (percent): Genant's cuts.
GENANT_CUTS_PCT = {"ge1": 20.0, "ge2": 25.0}
#: How the combination scores a vertebra (``a``, ``b`` fitted per target on validation rows).
COMBINATION_RULE = (
    "mean of the model's probability and a logistic map of the height loss, "
    "1 / (1 + exp(-(a + b * (height_loss_pct - mean) / sd))), fitted by L2-regularised "
    "(C = 1) logistic regression on the validation vertebrae that have a height loss"
)
#: Below this many patients of a class, AUCs, intervals and p-values carry a caution: with n1
#: positive and n0 negative patients a random ranking reaches AUC 1 with probability
#: 1 / C(n1 + n0, n1), and bootstrap intervals over so few patients are too narrow.
MIN_PATIENTS_PER_CLASS = 10
#: Rows of the worst-errors table (largest |truth - P(grade >= 1)|, test rows if any).
WORST_ERRORS = 8
#: A bootstrap interval narrower than this is of zero width (every resample agreed).
ZERO_WIDTH = 1e-9
#: Validation and test disagree when their AUCs differ by more than this and the test AUC
#: lies outside the validation interval.
_DISAGREE_AUC = 0.1
_THRESHOLD_SOURCES = ("validation", "default")
_SECTIONS = ("binary", "grades", "morphology", "calibration", "comparisons")
_FRACTURED = tuple(m for m in MORPHOLOGIES if m != "normal")


@dataclass(frozen=True)
class SpineEvaluation:
    """Every number of the protocol, by section, and what they were computed from.

    Args:
        numbers: JSON-ready sections (NaN where undefined; :meth:`to_dict` writes ``None``):
            ``settings`` (``n_boot``, ``seed``, ``threshold_from``, the rules); ``counts``
            (per split: vertebrae, cases, patients, positives per target, vertebrae without
            a height loss); ``thresholds`` (``"<method>_<target>"`` -> ``value``,
            ``source``); ``combination`` (per target: the fitted map, or ``unavailable``);
            ``binary`` (one row per method, target, level and split: AUC, bootstrap
            interval, sensitivity, specificity and counts at the threshold); ``grades``
            (per method and split: quadratic kappa, 4x4 confusion matrix, rows truth);
            ``morphology`` (per split: the model's accuracy); ``calibration`` (per target
            and split: ECE, Brier); ``comparisons`` (DeLong tests on the vertebrae every
            method scored); ``notes`` (why a threshold or the combination fell back);
            ``cautions`` (sentences for the report: small samples, zero-width intervals,
            validation and test disagreeing, the notes); ``worst_errors`` (the vertebrae
            whose P(grade >= 1) is furthest from the truth).
        predictions: The table evaluated.
        combined: Per target, the combination's score of each row (NaN without height loss).

    """

    numbers: dict[str, Any]
    predictions: Predictions = field(repr=False)
    combined: dict[str, Float64Array] = field(repr=False)

    def __getitem__(self, section: str) -> Any:
        return self.numbers[section]

    def to_dict(self) -> dict[str, Any]:
        """The numbers as JSON-ready builtins, NaN and infinities as ``None``."""
        return {"source": self.predictions.source, **plain(self.numbers)}

    def scores(self, method: str, target: str) -> Float64Array | None:
        """Score of ``method`` for ``target`` per row (NaN where not scored), or ``None``."""
        if method == "model":
            return self.predictions.model_score(target)
        if method == "morphometry":
            return self.predictions.height_loss
        return self.combined.get(target)


def evaluate(
    predictions: PathLike | Sequence[Mapping[str, Any]] | Predictions,
    *,
    threshold_from: str | Mapping[str, float] = "validation",
    n_boot: int = 2000,
    seed: int = 0,
) -> SpineEvaluation:
    """Evaluate a predictions table by the VerSe protocol (see the module docstring).

    Args:
        predictions: A CSV path, one mapping per row, or a read :class:`Predictions`.
        threshold_from: ``"validation"`` (Youden's J on the validation rows; 0.5 with a note
            where they hold one class), ``"default"`` (0.5), or ``"<method>_<target>"`` ->
            threshold (e.g. recorded in a model folder) for a table of test rows only.
        n_boot: Bootstrap resamples (by patient) of each AUC interval, >= 1.
        seed: Seed of the bootstrap; equal seeds give equal intervals.

    Raises:
        InputError: For a bad table or argument, or a table without a fractured vertebra.

    """
    table = predictions if isinstance(predictions, Predictions) else read_predictions(predictions)
    if isinstance(threshold_from, str) and threshold_from not in _THRESHOLD_SOURCES:
        raise InputError(
            f"threshold_from={threshold_from!r} is not valid"
            f"{did_you_mean(threshold_from, _THRESHOLD_SOURCES)}; allowed: validation, "
            "default, or a mapping such as {'model_ge1': 0.4, 'model_ge2': 0.3}"
        )
    if isinstance(n_boot, bool) or int(n_boot) != n_boot or n_boot < 1:
        raise InputError(f"n_boot={n_boot!r} is not valid; give a positive integer, e.g. 2000")
    if not (table.grade >= 1).any():
        raise InputError(
            f"predictions {table.source}: no vertebra has genant_grade >= 1; the protocol "
            "needs fractures: evaluate on a set that holds fractured vertebrae"
        )
    notes: list[str] = []
    combination, combined = _fit_combination(table, notes)
    given = threshold_from if isinstance(threshold_from, str) else "given"
    numbers: dict[str, Any] = {
        "settings": {"n_boot": int(n_boot), "seed": int(seed), "threshold_from": given},
        "rules": {"combination": COMBINATION_RULE, "morphometry_cuts_pct": GENANT_CUTS_PCT},
        "counts": {},
        "thresholds": _thresholds(table, combined, threshold_from, notes),
        "combination": combination,
        **{section: [] for section in _SECTIONS},
        "notes": notes,
    }
    result = SpineEvaluation(numbers, table, combined)
    for split in SPLITS:
        rows = table.rows(split)
        if rows.size:
            _evaluate_split(result, split, rows, int(n_boot), int(seed))
    numbers["cautions"] = _cautions(result)
    numbers["worst_errors"] = table.worst_errors(WORST_ERRORS)
    return result


def _evaluate_split(
    result: SpineEvaluation, split: str, rows: IntArray, n_boot: int, seed: int
) -> None:
    """Append the numbers of one split to ``result``'s sections."""
    table, numbers = result.predictions, result.numbers
    scored = rows[np.isfinite(table.height_loss[rows])]
    numbers["counts"][split] = table.summary(rows)
    for target in TARGETS:
        for method in METHODS:
            scores = result.scores(method, target)
            if scores is None:
                continue
            chosen = rows if method == "model" else scored
            cut = numbers["thresholds"][f"{method}_{target}"]["value"]
            for level in ("vertebra", "patient"):
                values = _binary(table, target, scores, chosen, cut, level, n_boot, seed)
                key = {"method": method, "target": target, "level": level, "split": split}
                numbers["binary"].append({**key, **values})
        for level in ("vertebra", "patient"):
            numbers["comparisons"].extend(_delong(result, target, scored, level, split))
        y, p = table.truth(target)[rows], table.model_score(target)[rows]
        ece = expected_calibration_error(y, p, n_bins=10)
        brier = float(np.mean((p - y) ** 2))
        row = {"target": target, "split": split, "n": int(rows.size), "ece": ece}
        numbers["calibration"].append({**row, "brier": brier})
    predicted = table.numbers["predicted_grade"].astype(np.int64)
    numbers["grades"].append(_grades("model", table.grade[rows], predicted[rows], split))
    morph = np.nan_to_num(table.numbers["morph_grade"], nan=-1).astype(np.int64)
    graded = rows[morph[rows] >= 0]
    if graded.size:
        numbers["grades"].append(_grades("morphometry", table.grade[graded], morph[graded], split))
    numbers["morphology"].append(_morphology(table, rows, split))


def _fit_combination(
    table: Predictions, notes: list[str]
) -> tuple[dict[str, dict[str, Any]], dict[str, Float64Array]]:
    """Per target: the logistic map of height loss fitted on validation rows, and the scores."""
    from sklearn.linear_model import LogisticRegression

    fits: dict[str, dict[str, Any]] = {}
    scores: dict[str, Float64Array] = {}
    loss = table.height_loss
    fit = np.zeros(len(table), dtype=bool)
    fit[table.rows("validation")] = True
    fit &= np.isfinite(loss)
    for target, cut in TARGETS.items():
        y = table.truth(target)[fit]
        if np.unique(y).size < 2:
            reason = f"the {int(fit.sum())} validation vertebrae with a height loss hold one class"
            fits[target] = {"unavailable": reason}
            notes.append(f"no combination for grade >= {cut}: {reason}")
            continue
        mean, sd = float(loss[fit].mean()), float(loss[fit].std()) or 1.0
        model = LogisticRegression(C=1.0).fit(((loss[fit] - mean) / sd)[:, None], y)
        a, b = float(model.intercept_[0]), float(model.coef_[0, 0])
        fits[target] = {
            "intercept": a,
            "slope": b,
            "mean_pct": mean,
            "sd_pct": sd,
            "n_validation": int(fit.sum()),
        }
        p_morphometry = 1.0 / (1.0 + np.exp(-(a + b * (loss - mean) / sd)))
        scores[target] = (table.model_score(target) + p_morphometry) / 2.0  # NaN stays NaN
    return fits, scores


def _thresholds(
    table: Predictions,
    combined: dict[str, Float64Array],
    threshold_from: str | Mapping[str, float],
    notes: list[str],
) -> dict[str, dict[str, Any]]:
    """Threshold of each method and target: chosen on validation, given, or the default."""
    out: dict[str, dict[str, Any]] = {}
    validation = np.zeros(len(table), dtype=bool)
    validation[table.rows("validation")] = True
    for target, grade in TARGETS.items():
        cut = GENANT_CUTS_PCT[target]
        out[f"morphometry_{target}"] = {"value": cut, "source": "Genant cut (height loss, %)"}
        for method, scores in (
            ("model", table.model_score(target)),
            ("combination", combined.get(target)),
        ):
            key = f"{method}_{target}"
            if scores is None:
                continue
            if not isinstance(threshold_from, str) and key in threshold_from:
                out[key] = {"value": float(threshold_from[key]), "source": "given"}
                continue
            use = validation & np.isfinite(scores)
            y = table.truth(target)[use]
            if threshold_from == "validation" and np.unique(y).size == 2:
                value = choose_threshold(y, scores[use], "youden")
                out[key] = {"value": value, "source": "Youden's J on the validation rows"}
                continue
            if threshold_from != "default":
                why = (
                    "not given"
                    if not isinstance(threshold_from, str)
                    else (f"the {int(use.sum())} validation rows hold one class")
                )
                notes.append(f"{method} threshold for grade >= {grade} is 0.5: {why}")
            out[key] = {"value": 0.5, "source": "default 0.5"}
    return out


def _binary(
    table: Predictions,
    target: str,
    scores_all: Float64Array,
    rows: IntArray,
    cut: float,
    level: str,
    n_boot: int,
    seed: int,
) -> dict[str, Any]:
    """AUC [bootstrap CI by patient] and sensitivity, specificity at ``cut`` on ``rows``."""
    y, scores, groups = table.truth(target)[rows], scores_all[rows], table.patients[rows]
    if level == "patient" and rows.size:
        groups, y, scores = patient_max(groups, y, scores)
    n_pos = int(y.sum())
    out: dict[str, Any] = {
        "n": int(y.size),
        "n_positive": n_pos,
        "threshold": cut,
        "n_patients": int(np.unique(groups).size),
    }
    if y.size == 0:
        return {**out, "auc": math.nan, "unavailable": "no vertebra scored"}
    called = binary_metrics(y, (scores >= cut).astype(np.float64), 0.5)
    out.update({k: called[k] for k in ("sensitivity", "specificity", "tp", "fp", "tn", "fn")})
    if not 0 < n_pos < y.size:
        return {**out, "auc": math.nan, "unavailable": f"one class only ({y.size} cases)"}
    by = None if level == "patient" else groups
    ci = bootstrap_ci(y, scores, by, n_resamples=n_boot, seed=seed)
    return {
        **out,
        "auc": ci.estimate,
        "auc_low": ci.low,
        "auc_high": ci.high,
        "n_boot_failed": ci.n_failed,
    }


def _delong(
    result: SpineEvaluation, target: str, rows: IntArray, level: str, split: str
) -> list[dict[str, Any]]:
    """Paired DeLong tests between the methods on ``rows`` (the vertebrae all methods scored)."""
    table = result.predictions
    named = ((m, result.scores(m, target)) for m in METHODS)
    scores = {m: s[rows] for m, s in named if s is not None}
    y, patients = table.truth(target)[rows], table.patients[rows]
    if level == "patient" and rows.size:
        scores = {m: patient_max(patients, y, s)[2] for m, s in scores.items()}
        y = patient_max(patients, y, y)[1]
    names = list(scores)
    out = []
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            row: dict[str, Any] = {
                "a": a,
                "b": b,
                "target": target,
                "level": level,
                "split": split,
                "n": int(y.size),
                "n_positive": int(y.sum()),
            }
            try:
                test = delong_test(y, scores[a], scores[b])
            except InputError as error:
                row["unavailable"] = str(error)
            else:
                row.update(
                    auc_a=test.auc_a,
                    auc_b=test.auc_b,
                    difference=test.difference,
                    ci_low=test.ci_difference[0],
                    ci_high=test.ci_difference[1],
                    z=test.z,
                    p_value=test.p_value,
                )
            out.append(row)
    return out


def _grades(method: str, truth: IntArray, predicted: IntArray, split: str) -> dict[str, Any]:
    """Quadratic-weighted kappa, exact agreement and the 4x4 confusion matrix (rows truth)."""
    confusion = np.zeros((len(GRADES), len(GRADES)), dtype=np.int64)
    np.add.at(confusion, (truth, predicted), 1)
    row = {
        "method": method,
        "split": split,
        "n": int(truth.size),
        "exact_agreement": float(np.mean(truth == predicted)),
        "confusion": confusion.tolist(),
    }
    try:
        kappa = weighted_kappa(truth.tolist(), predicted.tolist(), "quadratic", labels=GRADES)
    except InputError as error:
        return {**row, "kappa_quadratic": math.nan, "kappa_note": str(error)}
    return {**row, "kappa_quadratic": kappa.kappa, "kappa_note": kappa.undefined_reason or ""}


def _morphology(table: Predictions, rows: IntArray, split: str) -> dict[str, Any]:
    """The model's morphology accuracy on fractured vertebrae whose morphology is known."""
    truth = table.text["morphology"]
    known = rows[(table.grade[rows] >= 1) & np.isin(truth[rows], _FRACTURED)]
    right = truth[known] == table.text["predicted_morphology"][known]
    per_class = {
        m: [int(right[truth[known] == m].sum()), int((truth[known] == m).sum())] for m in _FRACTURED
    }
    accuracy = float(right.mean()) if known.size else math.nan
    return {"split": split, "n": int(known.size), "accuracy": accuracy, "per_class": per_class}


def _cautions(evaluation: SpineEvaluation) -> list[str]:
    """Sentences for the report: small samples, zero-width intervals, splits disagreeing.

    Also the evaluation's own notes (a threshold or the combination that fell back).
    """
    out = []
    for split, c in evaluation["counts"].items():
        for target, grade in TARGETS.items():
            pos, neg = c[f"positive_patients_{target}"], c[f"negative_patients_{target}"]
            if min(pos, neg) >= MIN_PATIENTS_PER_CLASS:
                continue
            text = (
                f"small {split} set for grade >= {grade}: {pos} positive and {neg} negative "
                f"patients (fewer than {MIN_PATIENTS_PER_CLASS} of a class), so its AUCs, "
                "intervals and p-values are unreliable"
            )
            if pos and neg:
                text += (
                    "; a random ranking reaches a patient-level AUC of 1 with probability "
                    f"1 in {math.comb(pos + neg, pos):,}"
                )
            out.append(text)
        if c["without_height_loss"]:
            out.append(
                f"{c['without_height_loss']} {split} vertebrae have no height loss: left out "
                "of morphometry, the combination and the DeLong tests"
            )
    binary = evaluation["binary"]
    flat = [r for r in binary if "auc_low" in r and r["auc_high"] - r["auc_low"] < ZERO_WIDTH]
    if flat:
        names = ", ".join(f"{_name(r)} {r['split']}" for r in flat)
        out.append(
            f"bootstrap 95 % interval of zero width for {names}: every resample gave the same "
            "AUC, so the interval shows no uncertainty; the real uncertainty is larger"
        )
    for test in (r for r in binary if r["split"] == "test" and "auc_low" in r):
        key = (test["method"], test["target"], test["level"], "validation")
        val = next(
            (
                r
                for r in binary
                if (r["method"], r["target"], r["level"], r["split"]) == key and "auc_low" in r
            ),
            None,
        )
        if val is None or abs(test["auc"] - val["auc"]) <= _DISAGREE_AUC:
            continue
        if not val["auc_low"] <= test["auc"] <= val["auc_high"]:
            out.append(
                f"validation and test disagree for {_name(test)}: AUC {val['auc']:.3f} on "
                f"validation vs {test['auc']:.3f} on test, outside the validation interval; "
                "the test data may differ from the training data"
            )
    return out + list(evaluation["notes"])


def _name(row: Mapping[str, Any]) -> str:
    return f"{row['method']} grade >= {TARGETS[row['target']]} per {row['level']}"


def plain(value: Any) -> Any:
    """JSON-ready copy: numpy values to Python builtins, NaN and infinities to ``None``."""
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [plain(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
