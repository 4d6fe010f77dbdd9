"""The experiment report: ``report.md`` and ``report.html`` plus the CSV/JSON behind them."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from fracturelab.document import Block, to_html, to_markdown
from fracturelab.femur.analysis import analyze
from fracturelab.femur.cautions import small
from fracturelab.femur.figures import draw_figures
from fracturelab.femur.result import ExperimentResult
from fracturelab.outputs import atomic_write_text, write_csv

__all__ = ["write_report"]


def _number(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _p_value(value: Any) -> str:
    if not isinstance(value, float) or not math.isfinite(value):
        return "-"
    return "< 0.001" if value < 0.001 else f"{value:.3f}"


def _p_equation(value: Any) -> str:
    """``p = 0.042`` or ``p < 0.001`` for running text."""
    text = _p_value(value)
    return f"p {text}" if text.startswith("<") else f"p = {text}"


def _auc_text(metrics: dict[str, Any]) -> str:
    ci = metrics.get("auc_ci")
    text = _number(metrics.get("auc"))
    return f"{text} [{ci[0]:.3f}, {ci[1]:.3f}]" if isinstance(ci, list) else text


def _stages(localisation: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """``(backbone, stage, per-subset summary)`` of every localizer stage, stage 1 first."""
    backbones = [k for k in localisation if k not in _LOCALISATION_KEYS]
    if localisation.get("method") != "two-stage":
        return [(b, "single", localisation[b]) for b in backbones]
    stages = []
    for backbone in backbones:
        stages.append((backbone, "stage 1", localisation["stage1"][backbone]))
        stages.append((backbone, "stage 2", localisation[backbone]))
    return stages


_LOCALISATION_KEYS = ("best", "method", "stage1", "outside_offsets")


def _localisation_table(metrics: dict[str, Any]) -> Block:
    header = ["localizer", "stage", "images", "class", "n", "median error", "IQR", "<= 2 mm",
              "<= 4 mm", "<= 10 mm", "AFF vs NFF p (Mann-Whitney)"]  # fmt: skip
    rows = []
    for backbone, stage, subsets in _stages(metrics["localisation"]):
        for subset, summary in subsets.items():
            p = _p_value(summary["mann_whitney_aff_vs_nff"].get("p_value"))
            for name in ("AFF", "NFF", "all"):
                entry = summary[name]
                if not entry.get("n"):
                    continue
                unit = summary["unit"]
                rates = entry.get("success_rate", {})
                rows.append(
                    [backbone, stage, subset, name, entry["n"], f"{entry['median']:.2f} {unit}",
                     f"{entry['iqr'][0]:.2f}-{entry['iqr'][1]:.2f}",
                     *(_number(rates.get(k), 2) for k in ("2", "4", "10")),
                     p if name == "all" else ""]
                )  # fmt: skip
    return ("table", header, rows)


def _classification_table(metrics: dict[str, Any]) -> Block:
    header = ["model", "level", "images", "AUC [95 % CI]", "sensitivity", "specificity",
              "balanced accuracy", "F1", "Brier", "threshold", "n (AFF)", "caution"]  # fmt: skip
    rows = []
    for level, models in metrics["classification"].items():
        for name, subsets in models.items():
            for subset, m in subsets.items():
                rows.append(
                    [name, level, subset, _auc_text(m), _number(m["sensitivity"]),
                     _number(m["specificity"]), _number(m["balanced_accuracy"]),
                     _number(m["f1"]), _number(m["brier"]), _number(m["threshold"]),
                     f"{int(m['n'])} ({int(m['n_positive'])})", m.get("caution", "")]
                )  # fmt: skip
    return ("table", header, rows)


def _comparison_table(metrics: dict[str, Any]) -> Block:
    header = ["A", "B", "level", "images", "AUC A", "AUC B", "difference [95 % CI]", "z",
              "p (DeLong)", "caution"]  # fmt: skip
    rows = []
    for row in metrics["comparisons"]:
        caution = row.get("caution", "")
        where = [row["a"], row["b"], row["level"], row["subset"]]
        if "unavailable" in row:
            rows.append([*where, "-", "-", row["unavailable"], "-", "-", caution])
            continue
        low, high = row["ci_difference"]
        rows.append(
            [*where, _number(row["auc_a"]), _number(row["auc_b"]),
             f"{row['difference']:+.3f} [{low:+.3f}, {high:+.3f}]", _number(row["z"], 2),
             _p_value(row["p_value"]), caution]
        )  # fmt: skip
    return ("table", header, rows)


_BACKBONE_NAMES = {"cnn": "CNN", "vit": "ViT"}


def _errors_text(summary: dict[str, Any]) -> str:
    unit = summary["unit"]
    return (
        " / ".join(
            f"{summary[c]['median']:.2f}" if summary[c].get("n") else "-" for c in ("AFF", "NFF")
        )
        + f" {unit}"
    )


def _localisation_answer(metrics: dict[str, Any], flag: str) -> str:
    """Median error per class (AFF / NFF), test and out-of-fold validation, by stage."""
    localisation = metrics["localisation"]
    best = localisation["best"]
    test = localisation[best]["test"]
    aff, nff = test["AFF"], test["NFF"]
    if not (aff.get("n") and nff.get("n")):
        return (
            "Localisation AFF vs NFF: not answered: the test set lacks "
            f"{'AFF' if not aff.get('n') else 'NFF'} images with a centre."
        )
    p = _p_equation(test["mann_whitney_aff_vs_nff"].get("p_value"))
    validation = localisation[best]["validation"]
    if localisation.get("method") == "two-stage":
        coarse = localisation["stage1"][best]
        return (
            f"Localisation ({best}, two stages), median error AFF / NFF: test "
            f"{_errors_text(coarse['test'])} after stage 1, {_errors_text(test)} after stage 2 "
            f"(Mann-Whitney {p}); out-of-fold validation over all development images "
            f"{_errors_text(coarse['validation'])} after stage 1, "
            f"{_errors_text(validation)} after stage 2.{flag}"
        )
    return (
        f"Localisation ({best} localizer, single stage), median error AFF / NFF: test "
        f"{_errors_text(test)} (Mann-Whitney {p}); out-of-fold validation over all "
        f"development images {_errors_text(validation)}.{flag}"
    )


def _answers(metrics: dict[str, Any]) -> list[str]:
    """The three questions: localisation AFF vs NFF, patch vs downsampling, CNN vs ViT.

    Each answer gives the test estimate and, beside it, the out-of-fold validation estimate
    over all development patients. A question the run cannot answer says so and why;
    answers that rest on a small test set (see :mod:`fracturelab.femur.cautions`), or whose
    test and validation intervals do not overlap, carry a caution.
    """
    counts = metrics["dataset"].get("patients_per_class", {}).get("test", {})
    flag = " Unreliable: small test set, see the caution below." if counts and small(counts) else ""
    answers = [_localisation_answer(metrics, flag)]
    image = metrics["classification"]["image"]
    validation_rows = {
        (r["a"], r["b"]): r
        for r in metrics["comparisons"]
        if r["level"] == "image" and r["subset"] == "validation"
    }
    for row in metrics["comparisons"]:
        if row["level"] != "image" or row["subset"] != "test":
            continue
        a, b = row["a"], row["b"]
        if "unavailable" in row:
            answers.append(f"{a} vs {b} (test, per image): not answered: {row['unavailable']}.")
            continue
        text = (
            f"{a} vs {b} (test, per image): AUC {_auc_text(image[a]['test'])} vs "
            f"{_auc_text(image[b]['test'])}; DeLong {_p_equation(row['p_value'])}"
        )
        other = validation_rows.get((a, b), {})
        if "p_value" in other:
            repeated = image[a]["validation"].get("repeats", {}).get("aucs")
            times = f" (mean of {len(repeated)} repeated cross-validations)" if repeated else ""
            text += (
                f". Out-of-fold validation over all development patients{times}: AUC "
                f"{_auc_text(image[a]['validation'])} vs {_auc_text(image[b]['validation'])}; "
                f"DeLong {_p_equation(other['p_value'])}"
            )
        disagree = [m for m in (a, b) if "do not overlap" in image[m]["test"].get("caution", "")]
        if disagree:
            text += f". Test and validation disagree for {' and '.join(disagree)}"
        answers.append(text + f".{flag}")
    backbones = metrics.get("backbones", [])
    if len(backbones) == 1:
        only = _BACKBONE_NAMES.get(backbones[0], backbones[0])
        answers.append(
            f"CNN vs ViT: not answered: only the {only} was trained; run with --backbones cnn,vit."
        )
    answers += [f"Caution: {caution}." for caution in metrics.get("cautions", [])]
    return answers


def _blocks(
    result: ExperimentResult, metrics: dict[str, Any], figures: dict[str, Path]
) -> list[Block]:
    c = result.config
    data = metrics["dataset"]
    patch = f"{c.patch.size_px} px native" if c.patch.size_mm is None else (
        f"{c.patch.size_mm:g} mm resampled to {c.patch.size_px} px"
    )  # fmt: skip
    # fmt: off
    blocks: list[Block] = [
        ("h1", "Femur fracture experiment: localisation, patch vs downsampling, CNN vs ViT"),
        ("p", f"{data['images']} labelled radiographs of {data['patients']} patients "
              f"({data['aff_images']} AFF, {data['nff_images']} NFF). Backbones: "
              f"{', '.join(c.backbones)} ({c.model_size}); {c.n_folds}-fold cross-validation "
              f"grouped by patient, {data['test_images']} test images held out. Patch: {patch} "
              f"around the predicted centre; baseline: whole image padded to a square and "
              f"downsampled to {c.baseline_input_px} x {c.baseline_input_px}."),
        ("h2", "Answers"),
        ("ul", _answers(metrics)),
        ("p", "Test-set numbers come from final models trained on all non-test images; "
              "validation numbers are out-of-fold predictions of the cross-validation models. "
              "Decision thresholds were chosen on the out-of-fold validation predictions "
              "(Youden's J), never on the test set. AUC intervals: bootstrap over patients."),
        ("h2", "Data and splits"),
        ("table", ["split", "images", "patients", "AFF images"],
         [[r["split"], r["images"], r["patients"], r["aff_images"]] for r in data["splits"]]),
        ("h2", "Localisation of the fracture centre"),
        _localisation_table(metrics),
    ]
    # fmt: on
    if "localisation" in figures:
        blocks.append(("img", figures["localisation"], "Localisation error, test set"))
    blocks += [("h2", "Classification: AFF vs NFF"), _classification_table(metrics)]
    for key, caption in (
        ("roc_image", "ROC curves, test set, per image"),
        ("roc_patient", "ROC curves, test set, per patient (mean of the patient's images)"),
        ("calibration", "Calibration, test set"),
    ):
        if key in figures:
            blocks.append(("img", figures[key], caption))
    blocks += [
        ("h2", "Paired comparisons (DeLong test; test set and out-of-fold validation)"),
        _comparison_table(metrics),
    ]
    for key, caption in (
        ("examples", "Example test images with true (+) and predicted (x) centres"),
        ("gradcam", "Grad-CAM of each classifier on the same test images"),
    ):
        if key in figures:
            blocks.append(("img", figures[key], caption))
    if metrics["notes"]:
        blocks += [("h2", "Notes"), ("ul", metrics["notes"])]
    # fmt: off
    blocks += [
        ("h2", "Files"),
        ("ul", ["metrics.json: every number above", "classification.csv, localisation_summary.csv, "
                "comparisons.csv: the tables", "localisation.csv, probabilities.csv: one row per "
                "image and model", "splits.csv: the split (reused on reruns)",
                "models/: one folder per classifier; models/best for `fracturelab femur predict`",
                "figures/: the pictures"]),
    ]
    # fmt: on
    return blocks


def write_report(result: ExperimentResult) -> dict[str, Any]:
    """Compute the metrics, draw the figures and write the report files; returns the metrics."""
    folder = result.out
    metrics = analyze(result)
    figures = draw_figures(result, metrics)
    metrics["figures"] = {
        name: path.relative_to(folder).as_posix() for name, path in figures.items()
    }
    atomic_write_text(folder / "metrics.json", json.dumps(metrics, indent=2, default=float) + "\n")
    for name, table in (
        ("classification.csv", _classification_table(metrics)),
        ("localisation_summary.csv", _localisation_table(metrics)),
        ("comparisons.csv", _comparison_table(metrics)),
    ):
        write_csv(folder / name, table[1], table[2])
    blocks = _blocks(result, metrics, figures)
    atomic_write_text(folder / "report.md", to_markdown(blocks, folder))
    atomic_write_text(folder / "report.html", to_html(blocks, folder, "fracturelab femur report"))
    return metrics
