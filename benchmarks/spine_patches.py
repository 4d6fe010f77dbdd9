"""Throughput of per-vertebra patch preparation (fracturelab.spine.patch_cache).

Usage:
    python benchmarks/spine_patches.py [--scans 4] [--jobs 1 2] [--real]

Writes ``--scans`` phantom scans (T10-L3, one fracture each, 1 mm; ``synth spine``) and a
scans.csv + grades.csv, then prepares a patch cache of them once per ``--jobs`` value and
prints vertebrae per second. It also splits one scan's time into reading, morphometry and
cutting the patches (linear and cubic CT interpolation), which shows where the time goes: the
morphometry, not the patches. ``--real`` adds the real development set in
``../shared/data/ct-verse19-graded`` when present. About a minute with the defaults on two
cores.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from fracturelab.spine import analyze
from fracturelab.spine.dataset import read_dataset
from fracturelab.spine.patch_cache import prepare_cache
from fracturelab.spine.patches import PatchSpec, extract_patches
from fracturelab.spine.pipeline import load_inputs
from fracturelab.synth import make_spine_phantom

LEVELS = "T10-L3"
FRACTURES = ("T12:2:wedge", "L1:3:crush", "L2:1:biconcave", "T11:2:biconcave")
REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "ct-verse19-graded"


def _write_set(root: Path, scans: int) -> Path:
    lines = ["case_id,patient_id,ct,vertebrae"]
    grades = ["case_id,level,genant_grade,morphology"]
    for number in range(scans):
        fracture = FRACTURES[number % len(FRACTURES)]
        phantom = make_spine_phantom(levels=LEVELS, fractures=fracture, seed=number)
        paths = phantom.save(root / f"case{number}")
        lines.append(f"case{number},p{number},{paths['ct']},{paths['vertebrae']}")
        for entry in phantom.truth["vertebrae"]:
            grades.append(
                f"case{number},{entry['level']},{entry['genant_grade']},{entry['morphology']}"
            )
    (root / "scans.csv").write_text("\n".join(lines) + "\n")
    (root / "grades.csv").write_text("\n".join(grades) + "\n")
    return root / "scans.csv"


def _split(ct_path: str, labels_path: str) -> None:
    started = time.perf_counter()
    ct, label_map = load_inputs(ct_path, labels_path)
    loaded = time.perf_counter()
    report = analyze(ct, label_map)
    analysed = time.perf_counter()
    print(f"  one scan, {len(report.vertebrae)} vertebrae, {ct}")
    print(f"  read CT and label map  {loaded - started:6.2f} s")
    print(f"  morphometry            {analysed - loaded:6.2f} s")
    for order in (1, 3):
        spec = PatchSpec(ct_order=order)
        start = time.perf_counter()
        extract_patches(ct, label_map, spec, report=report)
        elapsed = time.perf_counter() - start
        print(
            f"  patches, ct_order={order}     {elapsed:6.2f} s "
            f"({elapsed / len(report.vertebrae) * 1000:.0f} ms per vertebra, 64^3 at 1 mm)"
        )


def _throughput(source: Path, jobs: list[int], work: Path) -> None:
    dataset = read_dataset(source)
    for n in jobs:
        folder = work / f"cache-jobs{n}"
        start = time.perf_counter()
        index = prepare_cache(dataset, folder, jobs=n, show_progress=False)
        elapsed = time.perf_counter() - start
        rows = index.read_text().splitlines()[1:]
        made = sum(1 for row in rows if ",ok," in row)
        print(
            f"  jobs={n}: {len(dataset.cases)} scans, {made} patches in {elapsed:.1f} s: "
            f"{made / elapsed:.2f} vertebrae/s"
        )
        start = time.perf_counter()
        prepare_cache(dataset, folder, jobs=n, show_progress=False)
        print(f"  jobs={n}: rerun (all reused) {time.perf_counter() - start:.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scans", type=int, default=4, help="phantom scans (default 4)")
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2], help="processes")
    parser.add_argument("--real", action="store_true", help="also the real development set")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as temporary:
        work = Path(temporary)
        print(f"phantoms: {args.scans} scans {LEVELS}")
        source = _write_set(work / "set", args.scans)
        dataset = read_dataset(source)
        first = dataset.cases[0]
        _split(str(first.ct), str(first.vertebrae))
        _throughput(source, args.jobs, work / "phantom")
        if args.real and (REAL / "scans.csv").is_file():
            print(f"real: {REAL}")
            real = read_dataset(REAL / "scans.csv")
            case = real.cases[0]
            _split(str(case.ct), str(case.vertebrae))
            _throughput(REAL / "scans.csv", args.jobs, work / "real")


if __name__ == "__main__":
    main()
