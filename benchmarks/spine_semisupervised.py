"""Does unlabelled data help the spine classifier? A phantom ablation on the CPU.

Usage:
    python benchmarks/spine_semisupervised.py                 # full: 60 scans, 10/25/50/100 %
    python benchmarks/spine_semisupervised.py --reduced       # 36 scans, 25/50/100 %, fewer epochs
    python benchmarks/spine_semisupervised.py --out /tmp/semi # keep the files

Writes a phantom set with few graded, many delineated-only and many unlabelled scans
(``synth spine-set``), cuts every vertebra into a patch cache, pretrains the encoder on crops
along the spine of every scan, and runs the ablation (supervised only, + pseudo-labels,
+ pretraining, + both, at graded fractions, one held-out test set). Prints:

- pseudo-label quality on the delineated scans against the phantoms' true grades: coverage
  (share of delineated vertebrae pseudo-labelled), exact-grade accuracy, and precision and
  recall of "fractured" (grade >= 1);
- pretraining throughput (crops per second, 2 CPU cores);
- the ablation table (AUC with 95 % patient-bootstrap CIs, DeLong p against supervised).

Timing targets: under ~25 minutes on 2 idle cores for the full run.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from fracturelab.spine.dataset import read_dataset
from fracturelab.spine.learned.ablation import AblationConfig, run_ablation
from fracturelab.spine.learned.ablation_report import write_ablation_report
from fracturelab.spine.learned.config import SpineTrainingConfig
from fracturelab.spine.learned.data import CacheIndex
from fracturelab.spine.learned.pretrain import PretrainConfig, crop_sources, pretrain_spine
from fracturelab.spine.learned.pseudo_labels import PseudoLabelRule, pseudo_records
from fracturelab.spine.patch_cache import prepare_cache
from fracturelab.spine.patches import PatchSpec
from fracturelab.synth.spine_set import make_spine_set
from fracturelab.training.config import TrainConfig


def _pseudo_quality(cache: Path, set_dir: Path, rule: PseudoLabelRule) -> dict[str, float]:
    """Pseudo-labels of the delineated scans against the phantoms' true grades."""
    index = CacheIndex.read(cache)
    delineated = [r for r in index.rows if r["tier"] == "delineated" and r["patch"]]
    truth: dict[tuple[str, str], int] = {}
    for case in {r["case_id"] for r in delineated}:
        document = json.loads((set_dir / "scans" / case / "truth.json").read_text())
        for vertebra in document["vertebrae"]:
            truth[(case, vertebra["level"])] = int(vertebra["genant_grade"])
    pseudo = pseudo_records(index, rule)
    exact = sum(truth[(r.case_id, r.level)] == r.genant_grade for r in pseudo)
    predicted = [r for r in pseudo if r.genant_grade >= 1]
    true_positive = sum(truth[(r.case_id, r.level)] >= 1 for r in predicted)
    fractured = sum(truth[(r["case_id"], r["level"])] >= 1 for r in delineated)
    return {
        "delineated_vertebrae": len(delineated),
        "pseudo_labelled": len(pseudo),
        "coverage": len(pseudo) / max(1, len(delineated)),
        "grade_accuracy": exact / max(1, len(pseudo)),
        "precision_fracture": true_positive / max(1, len(predicted)),
        "recall_fracture": true_positive / max(1, fractured),
        "fractured_delineated": fractured,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reduced", action="store_true", help="smaller set, fewer epochs")
    parser.add_argument("--out", type=Path, default=None, help="keep the files here")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    n, fractions, epochs, pre_epochs = 60, (0.1, 0.25, 0.5, 1.0), 12, 6
    if args.reduced:
        n, fractions, epochs, pre_epochs = 36, (0.25, 0.5, 1.0), 8, 3
    root = args.out or Path(tempfile.mkdtemp(prefix="semi-"))
    started = time.perf_counter()
    csv_path = make_spine_set(
        root / "set", n, seed=args.seed, spacing_mm=(3, 3, 3), levels="T11-L3",
        graded_share=0.4, unlabelled_share=0.3, fracture_share=0.6, progress=False,
    )  # fmt: skip
    data = read_dataset(csv_path)
    print(f"phantom set: {data!r} ({time.perf_counter() - started:.0f} s)")
    spec = PatchSpec(size_mm=(48.0,) * 3, spacing_mm=3.0)
    step = time.perf_counter()
    prepare_cache(data, root / "cache", spec, jobs=2, show_progress=False)
    print(f"patch cache: {time.perf_counter() - step:.0f} s")
    model = SpineTrainingConfig(
        test_fraction=0.3, model_size="tiny", pseudo_weight=0.5,
        training=TrainConfig(max_epochs=epochs, batch_size=16, device="cpu", seed=args.seed),
    )  # fmt: skip
    rule = PseudoLabelRule(model.pseudo_margin_pct, model.pseudo_weight)
    quality = _pseudo_quality(root / "cache", root / "set", rule)
    print("pseudo-labels vs the phantoms' true grades:")
    for key, value in quality.items():
        print(f"  {key}: {value:.3f}" if isinstance(value, float) else f"  {key}: {value}")
    step = time.perf_counter()
    pre = PretrainConfig(
        model_size="tiny", patch_mm=48.0, patch_spacing_mm=3.0, seed=args.seed,
        training=TrainConfig(max_epochs=pre_epochs, batch_size=16, device="cpu"),
    )  # fmt: skip
    described = pretrain_spine(
        crop_sources(data), root / "pretrain", pre, jobs=2, show_progress=False
    )
    history = described["history"]
    print(
        f"pretraining: {described['crops']} crops, {described['epochs']} epochs, "
        f"{described['crops_per_second']} crops/s (training only), "
        f"{time.perf_counter() - step:.0f} s with cutting; loss "
        f"{history[0]['train_loss']:.3f} -> {history[-1]['train_loss']:.3f}"
    )
    step = time.perf_counter()
    config = AblationConfig(fractions, model, n_bootstrap=1000, seed=args.seed)
    result = run_ablation(
        root / "cache", root / "ablation", config, pretrained=root / "pretrain",
        show_progress=False,
    )  # fmt: skip
    files = write_ablation_report(result, root / "ablation")
    print(f"ablation: {time.perf_counter() - step:.0f} s")
    print(files["markdown"].read_text(encoding="utf-8"))
    print(f"total {time.perf_counter() - started:.0f} s; files in {root}")


if __name__ == "__main__":
    main()
