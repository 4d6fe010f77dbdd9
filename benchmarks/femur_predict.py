"""Time femur prediction per radiograph: patch pipeline vs the downsampling baseline.

Usage:
    python benchmarks/femur_predict.py                   # 3000 x 2500 px, small networks
    python benchmarks/femur_predict.py --model runs/exp1/models/best --baseline \
        runs/exp1/models/downsample-cnn                  # trained model folders
    python benchmarks/femur_predict.py --dicom           # read DICOM (JPEG 2000) instead of PNG

Per image, both pipelines read the file from disk. The patch pipeline then letterboxes the
image for the localizer, decodes the centre, refines it on a 32 mm window resampled to
128 x 128 (the two-stage localizer; ``--localizer single`` skips it), cuts a native
224 x 224 patch and classifies it; the baseline letterboxes the whole image to 224 x 224
and classifies it. Run time does not
depend on the weights, so untrained networks of the default size are used unless model
folders are given. Targets on two CPU cores: patch <= 0.25 s per image, <= 1.5x the baseline.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from fracturelab.femur.bundle import FemurModel
from fracturelab.femur.networks import build_classifier, build_localizer
from fracturelab.imaging.radiograph_io import read_radiograph
from fracturelab.synth.femur import make_femur_radiograph


def _write_images(folder: Path, count: int, size: tuple[int, int], dicom: bool) -> list[Path]:
    paths = []
    for k in range(count):
        phantom = make_femur_radiograph("AFF" if k % 2 else "NFF", seed=k, size_px=size)
        if dicom:
            path = folder / f"image{k}.dcm"
            _write_dicom(phantom.radiograph.array, path)
        else:
            from fracturelab.imaging.radiograph_io import write_radiograph

            path = write_radiograph(phantom.radiograph, folder / f"image{k}.png")
        paths.append(Path(path))
    return paths


def _write_dicom(array: np.ndarray, path: Path) -> None:
    """A DX image, 12 bits stored, JPEG 2000 lossless (as many archives send them)."""
    import pydicom
    from pydicom.dataset import FileMetaDataset
    from pydicom.uid import JPEG2000Lossless, generate_uid

    pixels = np.round(array * 4095).astype(np.uint16)
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.1.1"
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = pydicom.uid.ExplicitVRLittleEndian
    ds = pydicom.Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID = (
        meta.MediaStorageSOPClassUID,
        meta.MediaStorageSOPInstanceUID,
    )
    ds.Modality, ds.PhotometricInterpretation = "DX", "MONOCHROME2"
    ds.Rows, ds.Columns = pixels.shape
    ds.SamplesPerPixel, ds.BitsAllocated, ds.BitsStored, ds.HighBit = 1, 16, 12, 11
    ds.PixelRepresentation = 0
    ds.ImagerPixelSpacing = [0.15, 0.15]
    ds.PixelData = pixels.tobytes()
    ds.compress(JPEG2000Lossless, encoding_plugin="pylibjpeg")
    ds.save_as(path, enforce_file_format=True)


def _time_per_image(model: FemurModel, paths: list[Path], repeats: int) -> float:
    model.predict(read_radiograph(paths[0]))  # warm-up
    times = []
    for _ in range(repeats):
        for path in paths:
            start = time.perf_counter()
            model.predict(read_radiograph(path))
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, help="patch model folder (default: untrained)")
    parser.add_argument("--baseline", type=Path, help="downsample model folder")
    parser.add_argument("--size", default="3000,2500", help="width,height in pixels")
    parser.add_argument("--images", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--backbone", default="cnn", choices=["cnn", "vit"])
    parser.add_argument("--dicom", action="store_true")
    parser.add_argument("--threads", type=int, default=2, help="CPU threads (default 2)")
    parser.add_argument("--localizer", default="two-stage", choices=["two-stage", "single"])
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    width, height = (int(v) for v in args.size.split(","))
    if args.model:
        patch = FemurModel.load(args.model)
    else:
        refiner = build_localizer(args.backbone, 128) if args.localizer == "two-stage" else None
        patch = FemurModel(
            "patch", build_classifier(args.backbone, 224), args.backbone, 0.5,
            localizer=build_localizer(args.backbone, 256), localizer_backbone=args.backbone,
            refiner=refiner,
        )  # fmt: skip
    if args.baseline:
        baseline = FemurModel.load(args.baseline)
    else:
        baseline = FemurModel(
            "downsample", build_classifier(args.backbone, 224), args.backbone, 0.5
        )
    with tempfile.TemporaryDirectory() as folder:
        paths = _write_images(Path(folder), args.images, (width, height), args.dicom)
        load = statistics.median(_timed_load(path) for _ in range(args.repeats) for path in paths)
        patch_s = _time_per_image(patch, paths, args.repeats)
        baseline_s = _time_per_image(baseline, paths, args.repeats)
    kind = "DICOM JPEG 2000" if args.dicom else "16-bit PNG"
    print(f"{args.images} radiographs of {width} x {height} px ({kind}), {args.threads} threads")
    print(f"  load only:                     {load:.3f} s per image")
    stages = "two-stage" if patch.refiner is not None else "single-stage"
    print(f"  patch pipeline ({patch.classifier_backbone}, {stages}): {patch_s:.3f} s per image"
          f"  (target <= 0.25 s)")  # fmt: skip
    print(
        f"  downsample baseline ({baseline.classifier_backbone}):     {baseline_s:.3f} s per image"
    )
    print(f"  ratio patch / baseline:        {patch_s / baseline_s:.2f}x  (target <= 1.5x)")


def _timed_load(path: Path) -> float:
    start = time.perf_counter()
    read_radiograph(path)
    return time.perf_counter() - start


if __name__ == "__main__":
    main()
