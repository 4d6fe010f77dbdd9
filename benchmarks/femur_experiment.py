"""Run the whole femur experiment on a synthetic set and print its headline figures.

Usage:
    python benchmarks/femur_experiment.py                 # 300 radiographs, 2 folds, CNN + ViT
    python benchmarks/femur_experiment.py --n 400 --folds 3 --backbones cnn,vit
    python benchmarks/femur_experiment.py --quick         # 120 small radiographs, CNN only

Generates ``--n`` synthetic radiographs (1000-3500 px, 0.1-0.2 mm, ~20 % AFF patients) into
``--data`` (reused when it exists), runs ``fracturelab femur experiment`` into ``--out`` and
prints: localisation median error (mm) for AFF and NFF, AUC of patch vs downsample with
patient-bootstrap 95 % CIs, the DeLong p-value of each paired comparison, and the wall time.
Target on two CPU cores: under ~20 minutes for the default settings.
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path

import torch

from fracturelab.femur.config import ExperimentConfig
from fracturelab.femur.experiment import run_experiment
from fracturelab.synth.femur import make_femur_dataset
from fracturelab.training.config import TrainConfig


def _auc(entry: dict) -> str:
    ci = entry.get("auc_ci")
    bounds = f" [{ci[0]:.3f}, {ci[1]:.3f}]" if isinstance(ci, list) else ""
    return f"{entry['auc']:.3f}{bounds}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=300, help="synthetic radiographs")
    parser.add_argument("--folds", type=int, default=2)
    parser.add_argument("--backbones", default="cnn,vit")
    parser.add_argument("--epochs", type=int, default=30, help="most epochs per classifier")
    parser.add_argument("--localizer-epochs", type=int, default=40)
    parser.add_argument("--patience", type=int, default=8)
    parser.add_argument("--data", type=Path, default=Path("benchmark-data/femur"))
    parser.add_argument("--out", type=Path, default=Path("benchmark-runs/femur"))
    parser.add_argument("--quick", action="store_true", help="120 small images, CNN only")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(max(1, torch.get_num_threads()))
    size_range = (1000, 3500)
    if args.quick:
        args.n, args.backbones, size_range = 120, "cnn", (600, 1200)
        args.data = args.data.with_name(args.data.name + "-quick")
        args.out = args.out.with_name(args.out.name + "-quick")
    start = time.perf_counter()
    manifest = args.data / "manifest.csv"
    if not manifest.is_file():
        make_femur_dataset(args.data, args.n, seed=args.seed, size_range_px=size_range)
    generated = time.perf_counter()
    shutil.rmtree(args.out, ignore_errors=True)  # a benchmark measures a fresh run

    def training(epochs: int) -> TrainConfig:
        return TrainConfig(max_epochs=epochs, patience=args.patience, seed=args.seed)

    config = ExperimentConfig(
        n_folds=args.folds,
        backbones=tuple(args.backbones.split(",")),
        localizer_training=training(args.localizer_epochs),
        classifier_training=training(args.epochs),
        seed=args.seed,
    )
    result = run_experiment(manifest, args.out, config)
    finished = time.perf_counter()
    metrics = json.loads((result.out / "metrics.json").read_text())
    data = metrics["dataset"]
    print(f"\n{data['images']} radiographs, {data['patients']} patients, {data['aff_images']} AFF; "
          f"{args.folds} folds, test set {data['test_images']} images")  # fmt: skip
    print("Localisation, test set, median error (IQR):")
    for backbone in config.backbones:
        test = metrics["localisation"][backbone]["test"]
        parts = []
        for name in ("AFF", "NFF"):
            entry = test[name]
            parts.append(f"{name} {entry['median']:.2f} mm ({entry['iqr'][0]:.2f}-"
                         f"{entry['iqr'][1]:.2f}, n={entry['n']})")  # fmt: skip
        p = test["mann_whitney_aff_vs_nff"].get("p_value")
        print(f"  {backbone}: " + "; ".join(parts) + f"; Mann-Whitney p = {p:.3g}")
    print("Classification, test set, AUC [patient-bootstrap 95 % CI]:")
    for level in ("image", "patient"):
        for name, entry in metrics["classification"][level].items():
            print(f"  {level:7s} {name:15s} {_auc(entry['test'])}")
    print("Paired comparisons (DeLong, test set):")
    for row in metrics["comparisons"]:
        if "p_value" in row:
            print(f"  {row['level']:7s} {row['a']} vs {row['b']}: difference "
                  f"{row['difference']:+.3f}, p = {row['p_value']:.3g}")  # fmt: skip
        else:
            print(f"  {row['level']:7s} {row['a']} vs {row['b']}: {row['unavailable']}")
    print(f"Time: data {generated - start:.0f} s, experiment {finished - generated:.0f} s "
          f"(target: under ~20 minutes in all)")  # fmt: skip
    print(f"Report: {result.out / 'report.md'}")


if __name__ == "__main__":
    main()
