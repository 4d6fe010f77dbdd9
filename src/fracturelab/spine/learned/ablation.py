"""Does unlabelled data help? Supervised only, + pseudo-labels, + pretraining, + both.

``run_ablation(cache_dir, out_dir, config, pretrained=RUN)`` holds one test set of patients
out of the graded vertebrae (the same for every setting), orders the remaining (development)
patients once by a seeded draw (fractured and fracture-free patients alternately, so that
every fraction holds both), and for each fraction of the graded development patients
(default 10, 25, 50, 100 %; the smaller fractions are subsets of the larger) trains one
network per variant:

- ``supervised``: the graded vertebrae of the fraction only;
- ``pseudo``: plus the confident pseudo-labels of the delineated scans
  (:mod:`.pseudo_labels`; never of a test patient), weighted below the graded ones;
- ``pretrained``: the graded vertebrae, the encoder initialised from a ``spine pretrain``
  run;
- ``both``: pseudo-labels and the pretrained encoder.

Every network starts from the same seed and trains the same number of epochs (no early
stopping: there is no validation set to spare at 10 %), and is scored on the same test
vertebrae: per-vertebra AUC for grade >= 1 and >= 2 with 95 % bootstrap intervals that
resample patients, and DeLong's test against ``supervised`` at the same fraction
(:mod:`fracturelab.evaluation`). Each network's checkpoints are kept
(``OUT/checkpoints/<variant>-<percent>``), so an interrupted ablation resumes. The tables and
the figure are written by :mod:`.ablation_report`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from fracturelab.errors import InputError
from fracturelab.evaluation import bootstrap_ci, delong_test, roc_auc
from fracturelab.spine.learned.config import MORPHOLOGIES, SpineTrainingConfig
from fracturelab.spine.learned.data import (
    CacheIndex,
    VertebraDataset,
    VertebraRecord,
    load_patches,
)
from fracturelab.spine.learned.inference import predict_outputs
from fracturelab.spine.learned.losses import SpineLoss
from fracturelab.spine.learned.network import build_spine_network
from fracturelab.spine.learned.pretrain_model import load_encoder
from fracturelab.spine.learned.pseudo_labels import PseudoLabelRule, pseudo_records
from fracturelab.spine.learned.splits import TEST, make_spine_splits
from fracturelab.training.trainer import TrainConfig, fit
from fracturelab.typing import Float64Array

__all__ = ["VARIANTS", "AblationConfig", "AblationResult", "development_order", "run_ablation"]

#: The settings compared, in order.
VARIANTS: tuple[str, ...] = ("supervised", "pseudo", "pretrained", "both")


@dataclass(frozen=True)
class AblationConfig:
    """What the ablation compares and how each network trains.

    Attributes:
        fractions: Fractions of the graded development patients, each in (0, 1].
        model: Backbone, size, augmentation, test fraction, pseudo-label margin and weight
            (:class:`SpineTrainingConfig`; its ``training`` gives epochs, batch and device).
        n_bootstrap: Bootstrap resamples (by patient) of each AUC interval.
        seed: Seed of the split, the order of patients and every network.

    """

    fractions: tuple[float, ...] = (0.1, 0.25, 0.5, 1.0)
    model: SpineTrainingConfig = field(
        default_factory=lambda: SpineTrainingConfig(training=TrainConfig(max_epochs=15))
    )
    n_bootstrap: int = 1000
    seed: int = 0

    def __post_init__(self) -> None:
        bad = [f for f in self.fractions if not (isinstance(f, int | float) and 0 < f <= 1)]
        if bad or not self.fractions:
            raise InputError(
                f"--fractions {list(self.fractions)} is not valid; give fractions in (0, 1], "
                "e.g. 0.1,0.25,0.5,1"
            )


@dataclass
class AblationResult:
    """What :func:`run_ablation` measured.

    Attributes:
        rows: One per variant and fraction: ``variant``, ``fraction``, ``graded_patients``,
            ``graded_vertebrae``, ``pseudo_vertebrae``, ``auc_ge1`` (+ ``_low``, ``_high``),
            ``auc_ge2`` (+ ``_low``, ``_high``), ``delong_p_ge1``, ``delong_p_ge2``,
            ``difference_ge1``, ``difference_ge2`` (against ``supervised``; empty for it).
        test: Test vertebrae and patients, with the counts of grade >= 1 and >= 2.
        variants: The variants run (``pretrained`` and ``both`` need a pretraining run).
        notes: What was not computed, and why.

    """

    rows: list[dict[str, Any]]
    test: dict[str, int]
    variants: tuple[str, ...]
    notes: list[str] = field(default_factory=list)


def development_order(records: list[VertebraRecord], patients: list[str], seed: int) -> list[str]:
    """Development patients in a seeded order alternating fractured and fracture-free ones."""
    rng = np.random.default_rng(seed)
    fractured = sorted({r.patient_id for r in records if r.genant_grade >= 1} & set(patients))
    normal = sorted(set(patients) - set(fractured))
    a = [fractured[i] for i in rng.permutation(len(fractured))]
    b = [normal[i] for i in rng.permutation(len(normal))]
    order: list[str] = []
    for i in range(max(len(a), len(b))):
        order += a[i : i + 1] + b[i : i + 1]
    return order


def _auc(labels: np.ndarray, p: Float64Array, groups: list[str], n: int, seed: int) -> list[Any]:
    if not 0 < labels.sum() < len(labels):
        return [None, None, None]
    ci = bootstrap_ci(labels, p, groups, n_resamples=n, seed=seed)
    return [round(roc_auc(labels, p), 4), round(ci.low, 4), round(ci.high, 4)]


def run_ablation(
    cache_dir: str | Path,
    out_dir: str | Path,
    config: AblationConfig | None = None,
    *,
    pretrained: str | Path | None = None,
    show_progress: bool = True,
) -> AblationResult:
    """Train and score every variant at every fraction (see the module docstring).

    Args:
        cache_dir: Patch cache with every vertebra of the graded and delineated scans.
        out_dir: Where the checkpoints go (``checkpoints/<variant>-<percent>``).
        config: Settings; defaults to :class:`AblationConfig`'s.
        pretrained: A ``spine pretrain`` run folder; without it only ``supervised`` and
            ``pseudo`` run (a note says so).
        show_progress: Show progress bars.

    Raises:
        InputError: For a cache whose graded vertebrae cannot be split (too few fractured or
            fracture-free patients).

    """
    settings = config or AblationConfig()
    model = settings.model
    cache = CacheIndex.read(cache_dir)
    records = cache.records()
    if not records:
        raise InputError(
            f"{cache.folder}: no graded vertebra with a patch; the ablation needs some"
        )
    splits = make_spine_splits(records, 2, model.test_fraction, settings.seed)
    test = splits.indices(records, TEST)
    test_patients = {records[i].patient_id for i in test}
    development = sorted({r.patient_id for r in records} - test_patients)
    order = development_order(records, development, settings.seed)
    rule = PseudoLabelRule(model.pseudo_margin_pct, model.pseudo_weight)
    pseudo = [r for r in pseudo_records(cache, rule) if r.patient_id not in test_patients]
    patches = load_patches(records)
    pseudo_patches = load_patches(pseudo) if pseudo else []
    variants = VARIANTS if pretrained is not None else VARIANTS[:2]
    notes = [] if pretrained is not None else [
        "no pretraining run was given: the pretrained and both variants were not run"
    ]  # fmt: skip
    if not pseudo:
        notes.append("no delineated vertebra passed the confidence rule: pseudo adds nothing")
    grades = np.array([records[i].genant_grade for i in test])
    groups = [records[i].patient_id for i in test]
    depth, height, width = (int(s) for s in patches[0].shape[1:])
    channels = int(patches[0].shape[0])
    rows: list[dict[str, Any]] = []
    test_probabilities: dict[tuple[str, float], tuple[Float64Array, Float64Array]] = {}
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    progress = Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
        disable=not show_progress,
    )  # fmt: skip
    with progress:
        overall = progress.add_task("ablation", total=len(variants) * len(settings.fractions))
        for fraction in settings.fractions:
            chosen_patients = set(order[: max(2, math.ceil(fraction * len(order)))])
            train = [i for i, r in enumerate(records) if r.patient_id in chosen_patients]
            for variant in variants:
                use_pseudo = variant in ("pseudo", "both")
                items = [records[i] for i in train] + (pseudo if use_pseudo else [])
                item_patches = [patches[i] for i in train] + (pseudo_patches if use_pseudo else [])
                weights = [1.0] * len(train) + [model.pseudo_weight] * (len(items) - len(train))
                torch.manual_seed(settings.seed)
                network = build_spine_network(
                    model.backbone, (depth, height, width), channels, model.model_size
                )
                if variant in ("pretrained", "both") and pretrained is not None:
                    load_encoder(network, pretrained, model.backbone, model.model_size)
                morphologies = [
                    -1 if r.morphology is None else MORPHOLOGIES.index(r.morphology) for r in items
                ]
                loss = SpineLoss(
                    [r.genant_grade for r in items], morphologies, model.morphology_weight
                )
                dataset = VertebraDataset(
                    items, item_patches, augment=model.augment,
                    max_rotation_deg=model.max_rotation_deg, max_shift_vox=model.max_shift_vox,
                    seed=settings.seed, weights=weights,
                )  # fmt: skip
                percent = round(100 * fraction)
                training = TrainConfig(**{**model.training.__dict__, "seed": settings.seed})
                fit(
                    network, dataset, loss, training,
                    Path(out_dir) / "checkpoints" / f"{variant}-{percent}",
                    description=f"{variant} {percent}%", progress=progress,
                )  # fmt: skip
                outputs = predict_outputs([network], [patches[i] for i in test])
                test_probabilities[(variant, fraction)] = (
                    outputs.fracture_probability, outputs.p_grade_ge2
                )  # fmt: skip
                rows.append(
                    _row(variant, fraction, chosen_patients, len(train), len(items) - len(train),
                         grades, groups, test_probabilities, settings)
                )  # fmt: skip
                progress.advance(overall)
    test_summary = {
        "vertebrae": len(test), "patients": len(test_patients),
        "grade_ge1": int((grades >= 1).sum()), "grade_ge2": int((grades >= 2).sum()),
    }  # fmt: skip
    return AblationResult(rows, test_summary, variants, notes)


def _row(
    variant: str,
    fraction: float,
    patients: set[str],
    n_graded: int,
    n_pseudo: int,
    grades: np.ndarray,
    groups: list[str],
    probabilities: dict[tuple[str, float], tuple[Float64Array, Float64Array]],
    settings: AblationConfig,
) -> dict[str, Any]:
    """One table row: AUCs with patient-bootstrap intervals and DeLong against supervised."""
    mine = probabilities[(variant, fraction)]
    base = probabilities[("supervised", fraction)]
    row: dict[str, Any] = {
        "variant": variant, "fraction": fraction, "graded_patients": len(patients),
        "graded_vertebrae": n_graded, "pseudo_vertebrae": n_pseudo,
    }  # fmt: skip
    for k, (name, cut) in enumerate((("ge1", 1), ("ge2", 2))):
        labels = (grades >= cut).astype(np.int64)
        auc, low, high = _auc(labels, mine[k], groups, settings.n_bootstrap, settings.seed)
        row.update({f"auc_{name}": auc, f"auc_{name}_low": low, f"auc_{name}_high": high})
        row[f"difference_{name}"] = row[f"delong_p_{name}"] = None
        enough = int(labels.sum()) >= 2 and int((1 - labels).sum()) >= 2
        if variant != "supervised" and enough:
            result = delong_test(labels, mine[k], base[k])
            row[f"difference_{name}"] = round(result.difference, 4)
            row[f"delong_p_{name}"] = round(result.p_value, 4)
    return row
