"""The spine model report: ``report.md``, ``report.html``, ``metrics.json`` and ``metrics.csv``.

:func:`write_report` evaluates a predictions table by the VerSe protocol
(:func:`fracturelab.spine.learned.evaluation.evaluate`), draws the figures and writes:

* ``metrics.json``: every number (``null`` where undefined), the cautions and the worst errors;
* ``metrics.csv``: the same numbers in long form (``section, method, target, level, split,
  metric, value``);
* ``report.md`` and ``report.html`` (same content; the HTML embeds its images, so it is one
  self-contained file), with ``figures/`` holding the PNGs the Markdown links.

Numbers that rest on few patients, intervals of zero width, and validation and test
disagreeing are stated as cautions in the text, as the femur report does.
"""

from __future__ import annotations

import json
import math
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from fracturelab.document import Block, to_html, to_markdown
from fracturelab.errors import InputError
from fracturelab.outputs import atomic_write_text, check_output_dir, write_csv
from fracturelab.spine.learned.evaluation import (
    COMBINATION_RULE,
    GENANT_CUTS_PCT,
    MIN_PATIENTS_PER_CLASS,
    ZERO_WIDTH,
    SpineEvaluation,
    evaluate,
)
from fracturelab.spine.learned.figures import draw_figures
from fracturelab.spine.learned.predictions_table import TARGETS, Predictions
from fracturelab.typing import PathLike

__all__ = ["DEFAULT_TITLE", "write_report"]

DEFAULT_TITLE = "Spine fracture classifier: VerSe evaluation"
_CSV_COLUMNS = ("section", "method", "target", "level", "split", "metric", "value")
_PNG = b"\x89PNG\r\n\x1a\n"


def write_report(
    predictions: PathLike | Sequence[Mapping[str, Any]] | Predictions | SpineEvaluation,
    out_dir: PathLike,
    *,
    title: str = DEFAULT_TITLE,
    gallery: Sequence[tuple[str, PathLike]] | None = None,
    threshold_from: str | Mapping[str, float] = "validation",
    n_boot: int = 2000,
    seed: int = 0,
) -> dict[str, Path]:
    """Evaluate the predictions and write the report files into ``out_dir``.

    Args:
        predictions: A predictions CSV, its rows, a read table, or a finished evaluation.
        out_dir: The report folder (created if needed).
        title: The report's title.
        gallery: Worst-error images (e.g. Grad-CAM on sagittal patch slices) supplied by the
            caller, as ``(caption, PNG path)``; copied into ``figures/gallery/``.
        threshold_from: As in :func:`~fracturelab.spine.learned.evaluation.evaluate`.
        n_boot: Bootstrap resamples (by patient) of each AUC interval.
        seed: Seed of the bootstrap.

    Returns:
        ``metrics_json``, ``metrics_csv``, ``report_md``, ``report_html`` and one key per
        figure (``roc_ge1_vertebra``, ..., ``calibration``, ``confusion``, ``gallery_1``, ...)
        -> the file written.

    Raises:
        InputError: For a bad table or argument, an unusable ``out_dir``, or a gallery
            image that is missing or not a PNG.

    """
    folder = check_output_dir(Path(out_dir), option="out_dir")
    images = _check_gallery(gallery or [])
    if isinstance(predictions, SpineEvaluation):
        evaluation = predictions
    else:
        evaluation = evaluate(predictions, threshold_from=threshold_from, n_boot=n_boot, seed=seed)
    figures = draw_figures(evaluation, folder)
    for k, (_, source) in enumerate(images, start=1):
        target = folder / "figures" / "gallery" / f"{k:02d}.png"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
        figures[f"gallery_{k}"] = target
    metrics = evaluation.to_dict()
    metrics["figures"] = {k: p.relative_to(folder).as_posix() for k, p in figures.items()}
    captions = {f"gallery_{k}": c for k, (c, _) in enumerate(images, start=1)}
    blocks = _blocks(title, metrics, figures, captions)
    paths = {
        "metrics_json": atomic_write_text(
            folder / "metrics.json", json.dumps(metrics, indent=2, allow_nan=False) + "\n"
        ),
        "metrics_csv": write_csv(folder / "metrics.csv", _CSV_COLUMNS, _long_rows(metrics)),
        "report_md": atomic_write_text(folder / "report.md", to_markdown(blocks, folder)),
        "report_html": atomic_write_text(
            folder / "report.html", to_html(blocks, folder, title, embed_images=True)
        ),
    }
    return {**paths, **figures}


def _check_gallery(gallery: Sequence[tuple[str, PathLike]]) -> list[tuple[str, Path]]:
    images = []
    for k, item in enumerate(gallery):
        if not isinstance(item, tuple | list) or len(item) != 2:
            raise InputError(f"gallery[{k}]={item!r} is not valid; give (caption, PNG path)")
        caption, source = str(item[0]), Path(item[1])
        if not source.is_file():
            raise InputError(f"gallery image {source}: file not found; give an existing PNG")
        with source.open("rb") as handle:
            if handle.read(len(_PNG)) != _PNG:
                raise InputError(f"gallery image {source}: not a PNG file; save it as PNG")
        images.append((caption, source))
    return images


def _name(row: Mapping[str, Any]) -> str:
    return f"{row['method']} grade >= {TARGETS[row['target']]} per {row['level']}"


def _number(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def _p_value(value: Any) -> str:
    if not isinstance(value, float) or not math.isfinite(value):
        return "-"
    return "< 0.001" if value < 0.001 else f"{value:.3f}"


def _auc(row: Mapping[str, Any]) -> str:
    if row.get("auc") is None:
        return "-"
    if row.get("auc_low") is None:
        return _number(row["auc"])
    return f"{row['auc']:.3f} [{row['auc_low']:.3f}, {row['auc_high']:.3f}]"


def _small(metrics: Mapping[str, Any], split: str, target: str) -> bool:
    c = metrics["counts"][split]
    low = min(c[f"positive_patients_{target}"], c[f"negative_patients_{target}"])
    return bool(low < MIN_PATIENTS_PER_CLASS)


#: Table headers, ``|``-separated.
_BINARY_HEADER = "method|target|level|split|n (positive)|AUC [95 % CI]|threshold|sensitivity|"
_BINARY_HEADER += "specificity|caution"
_DELONG_HEADER = "A|B|target|level|split|n (positive)|AUC A|AUC B|difference [95 % CI]|"
_DELONG_HEADER += "p (DeLong)|caution"
_DATA_KEYS = ("vertebrae", "cases", "patients", "positive_vertebrae_ge1", "positive_vertebrae_ge2")
_DATA_HEADER = "split|vertebrae|cases|patients|grade >= 1|grade >= 2|patients with grade >= 1|"
_DATA_HEADER += "no height loss"
_WORST_HEADER = "case|level|true grade|P(grade >= 1)|model grade|height loss %"
_FILES = [
    "metrics.json: every number above (null where undefined)",
    "metrics.csv: the same numbers, one per row",
    "figures/: the pictures",
]


def _binary_table(metrics: Mapping[str, Any]) -> Block:
    rows = []
    for r in metrics["binary"]:
        notes = ["small sample"] if _small(metrics, r["split"], r["target"]) else []
        if r.get("auc_low") is not None and r["auc_high"] - r["auc_low"] < ZERO_WIDTH:
            notes.append("interval of zero width")
        if "unavailable" in r:
            notes.append(f"no AUC: {r['unavailable']}")
        start = [r["method"], f"grade >= {TARGETS[r['target']]}", r["level"], r["split"]]
        cut = f"{r['threshold']:g} %" if r["method"] == "morphometry" else _number(r["threshold"])
        numbers = [cut, _number(r.get("sensitivity")), _number(r.get("specificity"))]
        rows.append([*start, f"{r['n']} ({r['n_positive']})", _auc(r), *numbers, "; ".join(notes)])
    return ("table", _BINARY_HEADER.split("|"), rows)


def _comparison_table(metrics: Mapping[str, Any]) -> Block:
    rows = []
    for r in metrics["comparisons"]:
        caution = "small sample" if _small(metrics, r["split"], r["target"]) else ""
        start = [r["a"], r["b"], f"grade >= {TARGETS[r['target']]}", r["level"], r["split"]]
        start.append(f"{r['n']} ({r['n_positive']})")
        if "unavailable" in r:
            rows.append([*start, "-", "-", r["unavailable"], "-", caution])
            continue
        difference = f"{r['difference']:+.3f} [{r['ci_low']:+.3f}, {r['ci_high']:+.3f}]"
        aucs = [_number(r["auc_a"]), _number(r["auc_b"])]
        rows.append([*start, *aucs, difference, _p_value(r["p_value"]), caution])
    return ("table", _DELONG_HEADER.split("|"), rows)


def _answers(metrics: Mapping[str, Any]) -> list[str]:
    """One line per target and level (model, morphometry, combination), then the grades."""
    split = "test" if "test" in metrics["counts"] else "validation"
    lines = []
    for target, grade in TARGETS.items():
        for level in ("vertebra", "patient"):
            key = (target, level, split)
            found = {r["method"]: r for r in metrics["binary"] if _key(r) == key}
            aucs = ", ".join(f"{method} AUC {_auc(row)}" for method, row in found.items())
            pair = ("model", "morphometry", *key)
            test = [c for c in metrics["comparisons"] if (c["a"], c["b"], *_key(c)) == pair]
            reason = test[0].get("unavailable")
            delong = f"not computed: {reason}" if reason else f"p {_p_value(test[0]['p_value'])}"
            lines.append(f"Grade >= {grade}, per {level} ({split}): {aucs}; model vs "
                         f"morphometry DeLong {delong}.")  # fmt: skip
    for g in (g for g in metrics["grades"] if g["split"] == split):
        kappa, exact = _number(g["kappa_quadratic"]), _number(g["exact_agreement"])
        lines.append(f"Genant grade ({g['method']}, {split}): quadratic kappa {kappa}, exact "
                     f"agreement {exact} (n={g['n']}).")  # fmt: skip
    return lines


def _key(row: Mapping[str, Any]) -> tuple[str, str, str]:
    return (row["target"], row["level"], row["split"])


def _protocol(metrics: Mapping[str, Any]) -> list[str]:
    """How the numbers were made, for the report."""
    t, settings = metrics["thresholds"], metrics["settings"]
    chosen = ", ".join(
        f"grade >= {g}: {_number(t[f'model_{k}']['value'])} ({t[f'model_{k}']['source']})"
        for k, g in TARGETS.items()
    )
    cuts = ", ".join(f"{v:g} % for grade >= {TARGETS[k]}" for k, v in GENANT_CUTS_PCT.items())
    return [
        "Per vertebra and per patient (a patient is positive when any of its vertebrae is, "
        "and scored by the maximum over its vertebrae), for grade >= 1 and >= 2.",
        f"AUC intervals: percentile bootstrap over patients ({settings['n_boot']} resamples, "
        f"seed {settings['seed']}).",
        f"Model thresholds: {chosen}; never chosen on the test rows.",
        f"Morphometry: height loss (%) is the score, positive from the Genant cuts {cuts}; "
        "vertebrae without a height loss are left out of it.",
        f"Combination: {COMBINATION_RULE}; its threshold is chosen like the model's.",
        "DeLong tests compare methods on the same vertebrae (those every method scored).",
    ]


def _blocks(
    title: str, metrics: Mapping[str, Any], figures: Mapping[str, Path], captions: dict[str, str]
) -> list[Block]:
    counts = metrics["counts"]
    summary = "; ".join(
        f"{split}: {c['vertebrae']} vertebrae of {c['patients']} patients, "
        f"{c['positive_vertebrae_ge1']} with grade >= 1"
        for split, c in counts.items()
    )
    data = [
        [split, *(c[k] for k in _DATA_KEYS), c["positive_patients_ge1"], c["without_height_loss"]]
        for split, c in counts.items()
    ]
    blocks: list[Block] = [("h1", title), ("p", f"Predictions: {metrics['source']}. {summary}.")]
    blocks += [("h2", "Summary"), ("ul", _answers(metrics))]
    blocks += [("h2", "Protocol"), ("ul", _protocol(metrics))]
    if metrics["cautions"]:
        blocks += [("h2", "Cautions"), ("ul", metrics["cautions"])]
    blocks += [("h2", "Data"), ("table", _DATA_HEADER.split("|"), data)]
    blocks += [("h2", "Fracture detection"), _binary_table(metrics)]
    blocks += [
        ("img", path, f"ROC, grade >= {TARGETS[key.split('_')[1]]}, per {key.split('_')[2]}")
        for key, path in figures.items()
        if key.startswith("roc_")
    ]
    blocks += [("h2", "Paired comparisons (DeLong test)"), _comparison_table(metrics)]
    blocks += _grade_blocks(metrics, figures)
    worst = [
        [w["case_id"], w["level"], w["genant_grade"], _number(w["fracture_probability"]),
         w["predicted_grade"], _number(w["height_loss_pct"], 1)]
        for w in metrics["worst_errors"]
    ]  # fmt: skip
    blocks += [("h2", "Worst errors"), ("table", _WORST_HEADER.split("|"), worst)]
    blocks += [("img", figures[k], caption) for k, caption in captions.items()] or [
        ("p", "No images were supplied (Grad-CAM needs the model); the table lists them.")
    ]
    return [*blocks, ("h2", "Files"), ("ul", _FILES)]


def _grade_blocks(metrics: Mapping[str, Any], figures: Mapping[str, Path]) -> list[Block]:
    grades = [
        [g["method"], g["split"], g["n"], _number(g["kappa_quadratic"]),
         _number(g["exact_agreement"]), g["kappa_note"]]
        for g in metrics["grades"]
    ]  # fmt: skip
    morphology = [[m["split"], m["n"], _number(m["accuracy"])] for m in metrics["morphology"]]
    calibration = [
        [f"grade >= {TARGETS[c['target']]}", c["split"], c["n"], _number(c["ece"]),
         _number(c["brier"])]
        for c in metrics["calibration"]
    ]  # fmt: skip
    return [
        ("h2", "Genant grade"),
        ("table", ["method", "split", "n", "quadratic kappa", "exact agreement", "note"], grades),
        ("img", figures["confusion"], "Confusion matrices (rows: true grade)"),
        ("h2", "Morphology (fractured vertebrae of known morphology)"),
        ("table", ["split", "n", "accuracy"], morphology),
        ("h2", "Calibration of the model"),
        ("table", ["probability", "split", "n", "ECE", "Brier"], calibration),
        ("img", figures["calibration"], "Reliability diagram"),
    ]


def _long_rows(metrics: Mapping[str, Any]) -> list[list[Any]]:
    """``metrics`` as (section, method, target, level, split, metric, value) rows."""
    rows: list[list[Any]] = []

    def add(section: str, row: Mapping[str, Any], method: str, skip: tuple[str, ...]) -> None:
        for key, value in row.items():
            if key in skip or isinstance(value, str | Mapping):
                continue
            if isinstance(value, list):  # the confusion matrix
                for (i, j), count in np.ndenumerate(np.asarray(value)):
                    rows.append(
                        [
                            section,
                            method,
                            row.get("target", ""),
                            row.get("level", ""),
                            row.get("split", ""),
                            f"{key}_true{i}_pred{j}",
                            count,
                        ]
                    )
                continue
            rows.append(
                [
                    section,
                    method,
                    row.get("target", ""),
                    row.get("level", ""),
                    row.get("split", ""),
                    key,
                    "" if value is None else value,
                ]
            )

    for r in metrics["binary"]:
        add("binary", r, r["method"], ("method",))
    for r in metrics["comparisons"]:
        add("comparison", r, f"{r['a']} vs {r['b']}", ("a", "b"))
    for r in metrics["grades"]:
        add("grades", r, r["method"], ("method",))
    for r in metrics["morphology"]:
        add("morphology", r, "model", ())
    for r in metrics["calibration"]:
        add("calibration", r, "model", ())
    for key, value in metrics["thresholds"].items():
        method, target = key.rsplit("_", 1)
        rows.append(["threshold", method, target, "", "", "value", value["value"]])
    for target, fit in metrics["combination"].items():
        add("combination", {**fit, "target": target}, "combination", ())
    for split, c in metrics["counts"].items():
        add("counts", {**c, "split": split}, "", ())
    return rows
