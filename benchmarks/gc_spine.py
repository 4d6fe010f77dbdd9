"""Time the grand-challenge spine entrypoint against ``spine analyze`` on a full-size phantom.

Usage:
    python benchmarks/gc_spine.py                 # 512 x 512 x 400, 0.8 x 0.8 x 1 mm, T1-L5
    python benchmarks/gc_spine.py --small         # 256 x 256 x 200, a quick run
    python benchmarks/gc_spine.py --model DIR     # with a spine model (both commands)

Both commands run in their own process on the same files (the entrypoint on the platform's
input layout: ``inputs.json`` and uuid-named ``.mha``), one after the other, ``--repeats``
times; the script prints the median wall time and the peak resident memory of each, and the
ratio entrypoint / analyze (target <= 1.3x). ``spine analyze`` runs with ``--no-overview`` so
that both do the same work; the time it takes with its overview is printed too.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from fracturelab.grandchallenge.simulate import check_outputs, make_input_folder, read_only
from spine_morphometry import clinical_phantom  # the same phantom as the morphometry timing


def _run(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall time (s) and peak resident memory (MiB) of one process."""
    start = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    stderr = process.stderr.read().decode() if process.stderr else ""
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(command[:5])} failed: {stderr.strip()[-500:]}")
    return wall, usage.ru_maxrss / 1024  # kB on Linux


def _median(runs: list[tuple[float, float]]) -> tuple[float, float]:
    return statistics.median(r[0] for r in runs), max(r[1] for r in runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="256 x 256 x 200 voxels, T11-L5")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--model", type=Path, default=None, help="spine model folder")
    args = parser.parse_args()
    phantom = clinical_phantom(small=args.small)
    env = {**os.environ, "FRACTURELAB_GC_TASK": "spine"}
    env.pop("FRACTURELAB_GC_MODEL", None)
    model_args = [] if args.model is None else ["--model", str(args.model)]
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        import SimpleITK as sitk

        sitk.WriteImage(phantom.ct.to_sitk(), str(root / "ct.mha"), useCompression=True)
        sitk.WriteImage(phantom.vertebrae.to_sitk(), str(root / "mask.mha"), useCompression=True)
        del phantom
        cases = {"ct": root / "ct.mha", "vertebrae": root / "mask.mha"}
        read_only(make_input_folder(root / "input", "spine", cases))
        analyze = [sys.executable, "-m", "fracturelab", "spine", "analyze", "-q"]
        analyze += ["--ct", str(root / "ct.mha"), "--vertebrae", str(root / "mask.mha")]
        gc_run = [sys.executable, "-m", "fracturelab.cli.gc", "run", "-q"]
        gc_run += ["--input", str(root / "input")]
        analyze_runs, overview_runs, gc_runs = [], [], []
        for k in range(args.repeats):
            out = root / f"analyze{k}"
            analyze_runs.append(
                _run([*analyze, "--no-overview", "--out", str(out), *model_args], env)
            )
            out = root / f"overview{k}"
            overview_runs.append(_run([*analyze, "--out", str(out), *model_args], env))
            out = root / f"gc{k}"
            gc_runs.append(_run([*gc_run, "--output", str(out), *model_args], env))
            check_outputs(out, "spine")
            print(f"  round {k + 1}/{args.repeats} done", flush=True)
    (a_s, a_mb), (o_s, o_mb), (g_s, g_mb) = map(_median, (analyze_runs, overview_runs, gc_runs))
    print(f"spine analyze --no-overview : {a_s:7.1f} s  peak {a_mb:7.0f} MiB")
    print(f"spine analyze (overview)    : {o_s:7.1f} s  peak {o_mb:7.0f} MiB")
    print(f"gc run (entrypoint)         : {g_s:7.1f} s  peak {g_mb:7.0f} MiB")
    print(f"entrypoint / analyze        : {g_s / a_s:7.2f}x  (target <= 1.3x)")
    print("platform limits            : 3600 s by default; memory as the algorithm sets it")


if __name__ == "__main__":
    main()
