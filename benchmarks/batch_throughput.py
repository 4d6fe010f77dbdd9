"""Throughput of the batch runner on spine phantoms: 1 and 2 workers, local pool and Dask.

Usage:
    python benchmarks/batch_throughput.py             # 16 phantoms, T11-L3 at 1 mm
    python benchmarks/batch_throughput.py --n 4 --small

Prints, for each engine, scans per minute with 1 and 2 workers (target ratio >= 1.8x on two
idle cores) and the runner's time per scan with one worker against two baselines (target
<= 10 % overhead): ``fracturelab spine analyze`` run once per scan, as a user would read the
scans without the runner (4 scans), and the stricter one of reading the scans one after the
other in one warm process (no start-up at all). The runner's figure includes discovery, the
database, starting the workers (a few seconds, which a real run spreads over thousands of
scans) and hand-over. Outputs (vertebrae.json/csv, no overview) are written in all.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from fracturelab.batch import BatchSettings, run_batch
from fracturelab.imaging import write_volume
from fracturelab.spine.scan import read_spine_scan
from fracturelab.synth import make_spine_phantom


def _phantoms(folder: Path, n: int, levels: str, spacing: float) -> Path:
    lines = ["ct,vertebrae,case_id"]
    for index in range(n):
        phantom = make_spine_phantom(
            levels=levels, spacing_mm=(spacing,) * 3, seed=index, fractures="L1:2:wedge"
        )
        case = folder / f"case{index}"
        case.mkdir(parents=True)
        write_volume(phantom.ct, case / "ct.nii.gz")
        write_volume(phantom.vertebrae, case / "seg.nii.gz")
        lines.append(f"{case / 'ct.nii.gz'},{case / 'seg.nii.gz'},case{index}")
    manifest = folder / "manifest.csv"
    manifest.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return manifest


def _baseline(folder: Path, n: int, out: Path) -> float:
    """Seconds per scan reading the scans one after the other in this process."""
    read_spine_scan(folder / "case0" / "ct.nii.gz", folder / "case0" / "seg.nii.gz")  # warm up
    start = time.perf_counter()
    for index in range(n):
        case = folder / f"case{index}"
        reading = read_spine_scan(case / "ct.nii.gz", case / "seg.nii.gz")
        reading.write(out / f"case{index}", overview=False)
    return (time.perf_counter() - start) / n


def _cli_baseline(folder: Path, n: int, out: Path) -> float:
    """Seconds per scan running ``fracturelab spine analyze`` once per scan, as a user would."""
    start = time.perf_counter()
    for index in range(n):
        case = folder / f"case{index}"
        subprocess.run(
            [sys.executable, "-m", "fracturelab", "spine", "analyze", "--ct",
             str(case / "ct.nii.gz"), "--vertebrae", str(case / "seg.nii.gz"), "--out",
             str(out / f"case{index}"), "--no-overview", "--quiet"],
            check=True,
        )  # fmt: skip
    return (time.perf_counter() - start) / n


def _run(manifest: Path, folder: Path, engine: str, workers: int) -> float:
    """Scans per minute of a batch run (a fresh database and output folder)."""
    tag = f"{engine}{workers}"
    settings = BatchSettings(
        engine=engine, workers=workers, out=folder / f"out-{tag}", overview=False
    )
    summary = run_batch([manifest], str(folder / f"{tag}.db"), settings, show_progress=False)
    if summary.done != summary.found:
        raise SystemExit(f"{tag}: {summary.failures}")
    return 60.0 * summary.done / summary.elapsed_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=16, help="phantoms")
    parser.add_argument("--small", action="store_true", help="T12-L2 at 2 mm")
    parser.add_argument("--engines", default="local,dask")
    args = parser.parse_args()
    # 1 mm scans take about 1.5 s each: long enough that a run measures reading, not the
    # seconds it takes to start the workers (included: a real run amortises them over
    # thousands of scans)
    levels, spacing = ("T12-L2", 2.0) if args.small else ("T11-L3", 1.0)
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary)
        print(f"{args.n} phantoms, {levels} at {spacing} mm ...", flush=True)
        manifest = _phantoms(folder, args.n, levels, spacing)
        per_scan = _baseline(folder, args.n, folder / "out-baseline")
        print(f"one process, one scan after the other: {per_scan:.2f} s/scan "
              f"({60.0 / per_scan:.1f} scans/min)", flush=True)  # fmt: skip
        per_command = _cli_baseline(folder, min(args.n, 4), folder / "out-cli")
        print(f"`fracturelab spine analyze` once per scan: {per_command:.2f} s/scan "
              f"({60.0 / per_command:.1f} scans/min)", flush=True)  # fmt: skip
        for engine in args.engines.split(","):
            one = _run(manifest, folder, engine, 1)
            two = _run(manifest, folder, engine, 2)
            overhead = 100.0 * ((60.0 / one) / per_scan - 1.0)
            against_command = 100.0 * ((60.0 / one) / per_command - 1.0)
            print(
                f"{engine}: 1 worker {one:.1f} scans/min, 2 workers {two:.1f} scans/min, "
                f"ratio {two / one:.2f}x (target >= 1.8); time per scan with 1 worker "
                f"{overhead:+.1f} % against one process, {against_command:+.1f} % against "
                "`spine analyze` per scan (target <= 10 %)",
                flush=True,
            )


if __name__ == "__main__":
    main()
