"""Time spine morphometry on a full-size phantom and compare it with the time to load the scan.

Usage:
    python benchmarks/spine_morphometry.py            # 512 x 512 x 400, 0.8 x 0.8 x 1 mm, T1-L5
    python benchmarks/spine_morphometry.py --small    # a quick run on a smaller scan

Prints the time to load CT + label map (NIfTI .nii.gz), the analysis time per scan and per
vertebra, the ratio analysis / load (target <= 1 on two cores), the overview rendering time,
and the height error against the phantom's ground truth.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from fracturelab.spine.levels import parse_level_range
from fracturelab.spine.overview import render_overview
from fracturelab.spine.pipeline import analyze, load_inputs
from fracturelab.synth import SpinePhantom, make_spine_phantom, parse_fractures


def _timed(function, repeats):
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def clinical_phantom(*, small: bool = False) -> SpinePhantom:
    """The timing phantom: 512 x 512 x 400 voxels of 0.8 x 0.8 x 1 mm, T1-L5, 3 fractures.

    ``small``: 256 x 256 x 200 voxels of 1 mm, T11-L5, 2 fractures. Prints what it builds.
    """
    if small:
        shape, spacing, levels = (256, 256, 200), (1.0, 1.0, 1.0), "T11-L5"
        fractures = "T12:3:crush,L2:1:biconcave"
    else:
        shape, spacing, levels = (512, 512, 400), (0.8, 0.8, 1.0), "T1-L5"
        fractures = "T7:2:wedge,T12:3:crush,L2:1:biconcave"
    fov = tuple(n * s for n, s in zip(shape, spacing, strict=True))
    print(f"building phantom: {shape} voxels of {spacing} mm, {levels} ...", flush=True)
    start = time.perf_counter()
    phantom = make_spine_phantom(
        levels=parse_level_range(levels),
        fractures=parse_fractures(fractures),
        spacing_mm=spacing,
        fov_mm=fov,
    )
    print(f"  built in {time.perf_counter() - start:.1f} s; CT {phantom.ct.shape}", flush=True)
    return phantom


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="256 x 256 x 200 voxels, T11-L5")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    phantom = clinical_phantom(small=args.small)
    with tempfile.TemporaryDirectory() as folder:
        paths = phantom.save(folder)
        load_s, (ct, labels) = _timed(
            lambda: load_inputs(paths["ct"], paths["vertebrae"]), args.repeats
        )
        analysis_s, report = _timed(lambda: analyze(ct, labels), args.repeats)
        overview_s, _ = _timed(
            lambda: render_overview(ct, labels.volume, report, Path(folder) / "o.png"), 1
        )
    n = len(report.vertebrae)
    graded = [v for v in report.vertebrae if v.status == "graded"]
    truth = {t["level"]: t for t in phantom.truth["vertebrae"]}
    errors = [
        abs(v.heights_mm[k] - truth[v.level]["heights_mm"][k])
        for v in graded
        for k in ("anterior", "middle", "posterior")
        if v.heights_mm
    ]
    print(f"load CT + label map : {load_s:7.2f} s")
    print(f"analysis per scan   : {analysis_s:7.2f} s  ({n} vertebrae, {len(graded)} graded)")
    print(f"analysis per vertebra: {1000 * analysis_s / n:6.0f} ms")
    print(f"analysis / load      : {analysis_s / load_s:6.2f}x  (target <= 1.0x)")
    print(f"overview PNG         : {overview_s:7.2f} s")
    if errors:
        print(f"height error vs truth: mean {np.mean(errors):.2f} mm, max {np.max(errors):.2f} mm")


if __name__ == "__main__":
    main()
