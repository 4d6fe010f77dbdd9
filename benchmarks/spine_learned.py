"""The learned spine classifier against morphometry: phantom test set, speed, real scans.

Usage:
    python benchmarks/spine_learned.py [--scans 60] [--epochs 12] [--folds 3] [--size small]
        [--jobs 2] [--out DIR] [--real ../shared/data/ct-verse19-graded]

1. Writes a phantom dataset (``fracturelab synth spine-set``: graded scans with fractures of
   every grade and kind, their CT signs, varied bone density) and cuts its patches once
   (``prepare_cache``), timing the preparation (vertebrae per second).
2. Trains the classifier (``train_spine``: patient-grouped folds and a held-out test set) and
   prints, on the held-out phantom test set, per-vertebra AUC for grade >= 1 and >= 2 with
   patient-bootstrap 95 % intervals (targets >= 0.95 and >= 0.98), quadratic kappa of the
   grades (target >= 0.85), the same for morphometry (height loss as its score), and the DeLong
   p-value between them.
3. Times, on the largest real scan (a phantom test scan without the real set) and on a
   clinical-size phantom CT (512 x 512 x 400), loading the CT and label map, morphometry, and
   the model's inference (cutting the patches and the networks' forward passes), against the
   target: inference <= 1x the load time.
4. Evaluates the phantom-trained model and morphometry on the real development set (four
   VerSe'19 CTs graded by a radiologist) and prints both, whatever they show: a model trained
   on phantoms is not expected to transfer (skipped when the folder is absent).

Everything goes into ``--out`` (a temporary folder by default); a rerun with the same
``--out`` reuses the dataset, the cache and the trained folds.
"""

from __future__ import annotations

import argparse
import csv
import tempfile
import time
from pathlib import Path
from typing import Any

from fracturelab.spine.dataset import read_dataset
from fracturelab.spine.learned.apply import predict_cache, predict_scan, scan_inputs
from fracturelab.spine.learned.bundle import SpineModel
from fracturelab.spine.learned.config import SpineTrainingConfig
from fracturelab.spine.learned.evaluation import SpineEvaluation, evaluate
from fracturelab.spine.learned.experiment import train_spine
from fracturelab.spine.patch_cache import prepare_cache
from fracturelab.spine.patches import PatchSpec
from fracturelab.spine.pipeline import analyze, load_inputs
from fracturelab.synth.spine_set import make_spine_set
from fracturelab.training.config import TrainConfig

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "ct-verse19-graded"
TARGETS = {"ge1": "grade >= 1", "ge2": "grade >= 2"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scans", type=int, default=60, help="phantom scans")
    parser.add_argument("--epochs", type=int, default=12, help="largest epochs per fold")
    parser.add_argument("--folds", type=int, default=3)
    parser.add_argument("--size", default="small", help="network size: tiny, small, base")
    parser.add_argument("--jobs", type=int, default=2, help="processes preparing patches")
    parser.add_argument("--out", type=Path, default=None, help="work folder (kept)")
    parser.add_argument("--real", type=Path, default=SHARED, help="real graded dataset")
    parser.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples")
    parser.add_argument("--patch-spacing", type=float, default=2.0, help="patch voxel, mm")
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="spine-learned-"))
    started = time.perf_counter()

    print(f"work folder: {out}")
    made = time.perf_counter()
    scans = make_spine_set(
        out / "set", args.scans, seed=0, graded_share=1.0, unlabelled_share=0.0,
        fracture_share=0.7, progress=True,
    )  # fmt: skip
    dataset = read_dataset(scans)
    print(f"phantom dataset: {len(dataset.cases)} scans in {time.perf_counter() - made:.0f} s")

    prepared = time.perf_counter()
    spec = PatchSpec(spacing_mm=args.patch_spacing)  # 64 mm cubes
    cache = prepare_cache(dataset, out / "cache", spec, jobs=args.jobs).parent
    seconds = time.perf_counter() - prepared
    n_patches = _count_patches(cache)
    print(
        f"data preparation: {n_patches} vertebrae in {seconds:.1f} s = "
        f"{n_patches / max(seconds, 1e-9):.2f} vertebrae/s with {args.jobs} process(es) "
        "(a rerun reuses the cache: delete it to time it again)"
    )

    config = SpineTrainingConfig(
        n_folds=args.folds,
        model_size=args.size,
        training=TrainConfig(max_epochs=args.epochs, patience=4, batch_size=16, seed=0),
    )
    trained = time.perf_counter()
    run = train_spine(cache, out / "run", config, n_bootstrap=args.bootstrap)
    print(f"training: {time.perf_counter() - trained:.0f} s; run folder {run.out}")

    phantom = evaluate(run.predictions, n_boot=args.bootstrap)
    print("\nheld-out phantom test set (targets: AUC >= 0.95 for grade >= 1, >= 0.98 for")
    print("grade >= 2, quadratic kappa >= 0.85)")
    print(_table(phantom, "test"))

    real = read_dataset(args.real / "scans.csv") if (args.real / "scans.csv").is_file() else None
    _speed(run.model_dir, real or dataset, out / "run" / "splits.csv")
    _speed_clinical_size(run.model_dir, out / "clinical")

    if (args.real / "scans.csv").is_file():
        _real(run.model_dir, args.real, out / "real-cache", args.jobs, args.bootstrap)
    else:
        print(f"\nreal development set: {args.real} is absent; skipped")
    print(f"\ntotal: {time.perf_counter() - started:.0f} s")


def _count_patches(cache: Path) -> int:
    with (cache / "index.csv").open(newline="", encoding="utf-8") as handle:
        return sum(row["status"] == "ok" for row in csv.DictReader(handle))


def _table(evaluation: SpineEvaluation, split: str) -> str:
    """Per-vertebra AUCs, kappa and DeLong p of the model and morphometry on one split."""
    numbers = evaluation.to_dict()
    lines = ["| method | target | AUC [95 % CI] | quadratic kappa |", "|---|---|---|---|"]
    kappas = {
        g["method"]: g.get("kappa_quadratic") for g in numbers["grades"] if g["split"] == split
    }
    for method in ("model", "morphometry", "combination"):
        for target, name in TARGETS.items():
            row = _find(numbers["binary"], method=method, target=target, level="vertebra",
                        split=split)  # fmt: skip
            if row is None:
                continue
            auc = _interval(row)
            kappa = kappas.get(method) if target == "ge1" else None
            lines.append(f"| {method} | {name} | {auc} | {_number(kappa)} |")
    for target, name in TARGETS.items():
        for row in numbers["comparisons"]:
            if (row["split"], row["target"], row["level"]) != (split, target, "vertebra"):
                continue
            p = row.get("p_value")
            text = _number(p) if p is not None else row.get("unavailable", "not computed")
            lines.append(f"DeLong {row['a']} vs {row['b']}, {name}: p = {text}")
    return "\n".join(lines)


def _find(rows: list[dict[str, Any]], **key: str) -> dict[str, Any] | None:
    return next((r for r in rows if all(r.get(k) == v for k, v in key.items())), None)


def _interval(row: dict[str, Any]) -> str:
    if row.get("auc") is None:
        return f"n/a ({row.get('unavailable', 'not computed')})"
    return f"{row['auc']:.3f} [{_number(row.get('auc_low'))}, {_number(row.get('auc_high'))}]"


def _number(value: Any) -> str:
    return "-" if value is None else f"{float(value):.3f}"


def _speed(model_dir: Path, dataset: Any, splits_csv: Path) -> None:
    """Load, morphometry and inference time on the largest scan of a dataset.

    The largest real scan when the real set is there (the phantom scans are small crops, whose
    load time says little), else the largest phantom test scan.
    """
    with splits_csv.open(newline="", encoding="utf-8") as handle:
        test = {r["case_id"] for r in csv.DictReader(handle) if r.get("split") == "test"}
    candidates = [c for c in dataset.cases if c.case_id in test] or list(dataset.cases)
    case = max(candidates, key=lambda c: Path(c.ct).stat().st_size)  # the largest CT
    _time_scan(model_dir, Path(case.ct), Path(str(case.vertebrae)), f"\nscan {case.case_id}")


def _speed_clinical_size(model_dir: Path, folder: Path) -> None:
    """The same timing on a clinical-size CT: 512 x 512 x 400 at 0.8 x 0.8 x 1 mm, T1-L5."""
    from fracturelab.synth import make_spine_phantom

    if not (folder / "ct.nii.gz").is_file():
        phantom = make_spine_phantom(
            levels="T1-L5", spacing_mm=(0.8, 0.8, 1.0), fov_mm=(409.6, 409.6, 400.0), seed=3
        )
        phantom.save(folder)
    ct_path, mask_path = folder / "ct.nii.gz", folder / "vertebrae.nii.gz"
    _time_scan(model_dir, ct_path, mask_path, "a clinical-size CT (512 x 512 x 400)")


def _time_scan(model_dir: Path, ct_path: Path, mask_path: Path, name: str) -> None:
    """Print load, morphometry and inference time of one scan, and inference / load."""
    model = SpineModel.load(model_dir)
    loaded = time.perf_counter()
    ct, label_map = load_inputs(ct_path, mask_path)
    load_s = time.perf_counter() - loaded
    measured = time.perf_counter()
    report = analyze(ct, label_map)
    morphometry_s = time.perf_counter() - measured
    inferred = time.perf_counter()
    outputs = predict_scan(model, scan_inputs(model, ct, label_map, report, model_dir))
    inference_s = time.perf_counter() - inferred
    print(
        f"speed on {name} ({len(outputs)} vertebrae): load CT + label map {load_s:.2f} s, "
        f"morphometry {morphometry_s:.2f} s, model inference {inference_s:.2f} s "
        f"= {inference_s / max(load_s, 1e-9):.2f}x the load time (target <= 1x)"
    )


def _real(model_dir: Path, data: Path, cache_dir: Path, jobs: int, n_boot: int) -> None:
    """The phantom-trained model and morphometry on the real graded scans."""
    from fracturelab.spine.learned.apply import model_patch_spec

    model = SpineModel.load(model_dir)
    dataset = read_dataset(data / "scans.csv")
    spec = model_patch_spec(model, model_dir)
    cache = prepare_cache(dataset, cache_dir, spec, jobs=jobs).parent
    rows, _, skipped = predict_cache(model, cache, split="test")
    real = evaluate(rows, threshold_from="default", n_boot=n_boot)
    print(f"\nreal development set ({data}, {len(rows)} graded vertebrae, {len(skipped)} skipped)")
    print("a model trained on phantoms is not expected to transfer to real CTs:")
    print(_table(real, "test"))


if __name__ == "__main__":
    main()
