"""Read many JPEG 2000 CR radiographs for a femur experiment: 1 vs 2 workers, cache, memory.

Usage:
    python benchmarks/femur_read.py                        # 1000 images of 1500 x 1800 px
    python benchmarks/femur_read.py --images 200 --size 3000,2500 --keep /data/bench

Writes ``--images`` DICOM CR files (12 bits stored, JPEG 2000 lossless, half MONOCHROME1,
0.15 mm pixels) drawn from ``--distinct`` synthetic femur phantoms (each file has its own
UIDs, so its own bytes and cache key; decoding cost does not depend on which phantom). Then
prepares them as ``femur experiment`` does (256 px localizer input, 224 px baseline input,
native window for 224 px patches with 16 px jitter) in fresh processes:

1. 1 worker, no cache;
2. 2 workers, no cache (target: >= 1.8x faster than 1 on two free cores);
3. 2 workers filling an empty cache;
4. 2 workers again from the full cache (no JPEG 2000 decode).

Each phase reports wall time, images per second and peak resident memory of the main process
and of the largest worker (``resource.getrusage``), and the cache's size per image.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from fracturelab.femur.data import PatchGeometry
from fracturelab.femur.manifest import ManifestRow
from fracturelab.femur.prepare_pool import prepare_images

PARAMS = {"localizer_size": 256, "geometry": PatchGeometry(224), "baseline_size": 224,
          "jitter_px": 16.0}  # fmt: skip
SPACING_MM = 0.15


def _write_one(task: tuple[int, int, tuple[int, int], str]) -> tuple[str, float, float]:
    """Write file ``index`` from phantom ``seed``; return its name and fracture centre."""
    import pydicom
    from pydicom.dataset import FileMetaDataset
    from pydicom.uid import JPEG2000Lossless, generate_uid

    from fracturelab.synth.femur import make_femur_radiograph

    index, seed, size, folder = task
    phantom = make_femur_radiograph("AFF" if seed % 2 else "NFF", seed=seed, size_px=size,
                                    spacing_mm=SPACING_MM)  # fmt: skip
    pixels = np.round(phantom.radiograph.array * 4095).astype(np.uint16)
    inverted = index % 2 == 1
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.1"  # CR Image Storage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = pydicom.uid.ExplicitVRLittleEndian
    ds = pydicom.Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    ds.Modality = "CR"
    ds.PhotometricInterpretation = "MONOCHROME1" if inverted else "MONOCHROME2"
    ds.Rows, ds.Columns = pixels.shape
    ds.SamplesPerPixel, ds.BitsAllocated, ds.BitsStored, ds.HighBit = 1, 16, 12, 11
    ds.PixelRepresentation = 0
    ds.PixelSpacing = [SPACING_MM, SPACING_MM]
    ds.compress(JPEG2000Lossless, 4095 - pixels if inverted else pixels,
                encoding_plugin="pylibjpeg")  # fmt: skip
    name = f"cr{index:05d}.dcm"
    ds.save_as(Path(folder) / name, enforce_file_format=True)
    x, y = phantom.center_xy_px
    return name, float(x), float(y)


def write_images(folder: Path, count: int, distinct: int, size: tuple[int, int]) -> None:
    """Write the files (two processes) and ``centres.json``."""
    from fracturelab.progress import progress_bar

    tasks = [(k, k % distinct, size, str(folder)) for k in range(count)]
    written = []
    with (
        ProcessPoolExecutor(max_workers=2) as pool,
        progress_bar("writing JPEG 2000 CR files", count) as advance,
    ):
        for result in pool.map(_write_one, tasks, chunksize=4):
            written.append(result)
            advance()
    (folder / "centres.json").write_text(json.dumps(written))


def _rows(folder: Path) -> list[ManifestRow]:
    written = json.loads((folder / "centres.json").read_text())
    return [ManifestRow(k + 2, folder / name, name, f"P{k // 4:04d}", "AFF" if k % 2 else "NFF",
                        (x, y), None) for k, (name, x, y) in enumerate(written)]  # fmt: skip


def _phase(folder: Path, workers: int, cache: str) -> None:
    """One measured phase, in its own process: prints one JSON line."""
    rows = _rows(folder)
    start = time.perf_counter()
    images = prepare_images(rows, PARAMS, workers=workers,
                            cache_dir=Path(cache) if cache else None)  # fmt: skip
    elapsed = time.perf_counter() - start
    prepared_mb = (
        sum(i.localizer_input.nbytes + i.baseline_input.nbytes + i.window.nbytes for i in images)
        / 2**20
    )
    kib = 1 if sys.platform != "darwin" else 1 / 1024  # ru_maxrss: KiB on Linux, bytes on macOS
    print(json.dumps({
        "seconds": elapsed,
        "main_peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * kib / 1024,
        "worker_peak_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * kib / 1024,
        "prepared_mb": prepared_mb,
    }))  # fmt: skip


def _run_phase(folder: Path, workers: int, cache: Path | None) -> dict[str, float]:
    command = [sys.executable, __file__, "--phase", str(folder), "--workers", str(workers),
               "--cache", str(cache or "")]  # fmt: skip
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--distinct", type=int, default=20, help="different phantoms drawn")
    parser.add_argument("--size", default="1500,1800", help="width,height in pixels")
    parser.add_argument("--keep", type=Path, help="folder for the files (default: temporary)")
    parser.add_argument("--phase", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--workers", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--cache", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        _phase(args.phase, args.workers, args.cache)
        return
    width, height = (int(v) for v in args.size.split(","))
    with tempfile.TemporaryDirectory() as scratch:
        folder = args.keep or Path(scratch) / "images"
        folder.mkdir(parents=True, exist_ok=True)
        start = time.perf_counter()
        if not (folder / "centres.json").is_file():
            write_images(folder, args.images, args.distinct, (width, height))
        files_mb = sum(p.stat().st_size for p in folder.glob("*.dcm")) / 2**20
        count = len(list(folder.glob("*.dcm")))
        print(f"{count} JPEG 2000 CR files of {width} x {height} px, {files_mb / count:.2f} MB "
              f"each (written in {time.perf_counter() - start:.0f} s); {os.cpu_count()} CPUs "
              "seen")  # fmt: skip
        cache = Path(scratch) / "cache"
        phases = [("1 worker, no cache", 1, None), ("2 workers, no cache", 2, None),
                  ("2 workers, filling the cache", 2, cache),
                  ("2 workers, from the cache", 2, cache)]  # fmt: skip
        seconds = {}
        for title, workers, cache_dir in phases:
            result = _run_phase(folder, workers, cache_dir)
            seconds[title] = result["seconds"]
            worker = result["worker_peak_mb"]
            worker_text = f"{worker:.0f} MB" if worker > 0 else "none started"
            print(f"  {title:30s} {result['seconds']:7.1f} s  {count / result['seconds']:6.1f} "
                  f"images/s  peak RSS main {result['main_peak_mb']:.0f} MB, largest worker "
                  f"{worker_text}")  # fmt: skip
        cache_mb = sum(p.stat().st_size for p in cache.glob("*.npz")) / 2**20
        speedup = seconds["1 worker, no cache"] / seconds["2 workers, no cache"]
        print(f"  speed-up with 2 workers: {speedup:.2f}x (target >= 1.8x on two free cores)")
        print(f"  cache: {cache_mb / count:.2f} MB per image; prepared arrays in memory "
              f"{result['prepared_mb'] / count:.2f} MB per image")  # fmt: skip


if __name__ == "__main__":
    main()
