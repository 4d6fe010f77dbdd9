"""Small seeded spine phantoms for the batch tests, made once per session."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from fracturelab.imaging import write_volume
from fracturelab.imaging.dicom_series_writer import DicomSeriesInfo, write_dicom_series
from fracturelab.synth import make_spine_phantom

#: Fractures drawn per case (ground truth of the tests).
FRACTURES = {"case0": "", "case1": "L1:2:wedge", "case2": "", "case3": "L2:3:crush"}
SHARED_DICOM = Path(__file__).resolve().parents[3] / "shared/data/ct-totalsegmentator-example"


@dataclass
class PhantomSet:
    """Four phantom cases (``<case>/ct.nii.gz`` + ``<case>/seg.nii.gz``) and their truth."""

    root: Path
    truth: dict[str, dict[str, int]]  # case -> level -> Genant grade

    def ct(self, case: str) -> Path:
        return self.root / case / "ct.nii.gz"

    def manifest(self, folder: Path, cases: list[str], *, masks: bool = True) -> Path:
        lines = ["ct,vertebrae,case_id"] if masks else ["ct,case_id"]
        for case in cases:
            seg = f"{self.root / case / 'seg.nii.gz'},"
            lines.append(f"{self.ct(case)},{seg if masks else ''}{case}")
        path = folder / "manifest.csv"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return path

    def copy_cmd(self) -> str:
        """A segmenter command template that copies the case's seg.nii.gz."""
        return 'cp "$(dirname {ct})/seg.nii.gz" {out}'


@pytest.fixture(scope="session")
def phantoms(tmp_path_factory: pytest.TempPathFactory) -> PhantomSet:
    root = tmp_path_factory.mktemp("batch-phantoms")
    truth = {}
    for seed, (case, fractures) in enumerate(FRACTURES.items()):
        phantom = make_spine_phantom(
            levels="T12-L2", fractures=fractures, spacing_mm=(2, 2, 3), seed=seed, noise_hu=5
        )
        (root / case).mkdir()
        write_volume(phantom.ct, root / case / "ct.nii.gz")
        write_volume(phantom.vertebrae, root / case / "seg.nii.gz")
        truth[case] = {v["level"]: v["genant_grade"] for v in phantom.truth["vertebrae"]}
    return PhantomSet(root, truth)


@pytest.fixture(scope="session")
def dicom_mix(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One folder: a CT series with its mask beside it, an MR series, a 10-slice CT series."""
    folder = tmp_path_factory.mktemp("dicom-mix") / "scans"
    phantom = make_spine_phantom(
        levels="T12-L2", fractures="L1:2:wedge", spacing_mm=(2, 2, 3), seed=7, noise_hu=5
    )
    write_dicom_series(phantom.ct, folder, DicomSeriesInfo("P1", "1.2.826.0.1.1"), prefix="ct")
    write_volume(phantom.vertebrae, folder / "1.2.826.0.1.1_vertebrae.nii.gz")
    mr = DicomSeriesInfo("P1", "1.2.826.0.1.2", modality="MR", body_part="LSPINE")
    write_dicom_series(phantom.ct, folder, mr, prefix="mr")
    slab = phantom.ct.with_array(phantom.ct.array)
    slab = type(slab)(slab.array[:, :, :10], slab.affine)
    write_dicom_series(slab, folder, DicomSeriesInfo("P2", "1.2.826.0.1.3"), prefix="slab")
    (folder / "notes.txt").write_text("not an image\n", encoding="utf-8")
    return folder


@pytest.fixture
def fresh(tmp_path: Path) -> Path:
    """A private work folder (removed by pytest)."""
    folder = tmp_path / "work"
    folder.mkdir()
    yield folder
    shutil.rmtree(folder, ignore_errors=True)
