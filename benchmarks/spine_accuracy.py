"""Height and grade accuracy of spine morphometry on a seeded set of phantoms.

Usage:
    python benchmarks/spine_accuracy.py [--phantoms 8] [--spacing 1,1,1]

Each phantom (T8-L5) carries four fractures of mixed grade (1-3) and type (wedge, biconcave,
crush), a different spinal curvature and a different storage orientation. Prints the mean and
largest absolute height error against the analytic truth, the share of exact Genant grades,
the number of normal vertebrae graded 2 or worse, and the misgraded vertebrae.
"""

from __future__ import annotations

import argparse

import numpy as np

from fracturelab.spine import analyze
from fracturelab.spine.levels import parse_level_range
from fracturelab.synth import make_spine_phantom

KINDS = ("wedge", "biconcave", "crush")
ORIENTATIONS = ("LPS", "RAS", "PIR", "ASL")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--phantoms", type=int, default=8)
    parser.add_argument("--spacing", default="1,1,1", help="mm, left-right,front-back,head-foot")
    args = parser.parse_args()
    spacing = tuple(float(x) for x in args.spacing.split(","))
    levels = parse_level_range("T8-L5")
    rng = np.random.default_rng(7)
    errors, exact, total, normal_high, misses = [], 0, 0, 0, []
    for seed in range(args.phantoms):
        picks = sorted(rng.choice(len(levels) - 2, 4, replace=False) + 1)
        fractures = ",".join(
            f"{levels[p]}:{1 + (seed + j) % 3}:{KINDS[(2 * seed + j) % 3]}"
            for j, p in enumerate(picks)
        )
        phantom = make_spine_phantom(
            levels=levels,
            fractures=fractures,
            seed=seed,
            spacing_mm=spacing,
            curvature=float(rng.uniform(0.4, 1.5)),
            orientation=ORIENTATIONS[seed % len(ORIENTATIONS)],
        )
        report = analyze(phantom.ct, phantom.vertebrae)
        truth = {v["level"]: v for v in phantom.truth["vertebrae"]}
        for vertebra in report.vertebrae:
            expected = truth[vertebra.level]
            total += 1
            if vertebra.status != "graded" or vertebra.heights_mm is None:
                misses.append(f"{seed}:{vertebra.level} not graded ({vertebra.reason})")
                continue
            errors += [
                abs(vertebra.heights_mm[k] - expected["heights_mm"][k])
                for k in ("anterior", "middle", "posterior")
            ]
            exact += vertebra.genant_grade == expected["genant_grade"]
            normal_high += expected["genant_grade"] == 0 and (vertebra.genant_grade or 0) >= 2
            if vertebra.genant_grade != expected["genant_grade"]:
                misses.append(
                    f"{seed}:{vertebra.level} {expected['kind']} true {expected['height_loss_pct']}"
                    f" % grade {expected['genant_grade']}, measured"
                    f" {vertebra.height_loss_pct:.1f} % grade {vertebra.genant_grade}"
                )
    print(f"phantoms {args.phantoms}, vertebrae {total}, spacing {spacing} mm")
    print(f"height error: mean {np.mean(errors):.2f} mm, max {np.max(errors):.2f} mm")
    print(f"Genant grade exact: {exact}/{total} = {100 * exact / total:.1f} %")
    print(f"normal vertebrae graded >= 2: {normal_high}")
    for line in misses:
        print(f"  missed {line}")


if __name__ == "__main__":
    main()
