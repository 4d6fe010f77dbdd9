"""Discovery and eligibility: DICOM series grouped by UID, volumes, manifests, bad input."""

from __future__ import annotations

from pathlib import Path

import pytest

from fracturelab.batch import BatchSettings
from fracturelab.batch.discovery import discover
from fracturelab.batch.sources import eligibility
from fracturelab.errors import InputError
from tests.batch.conftest import SHARED_DICOM, PhantomSet


def test_mixed_folder(dicom_mix: Path) -> None:
    scans = {scan.key: scan for scan in discover([dicom_mix])}
    assert set(scans) == {"1.2.826.0.1.1", "1.2.826.0.1.2", "1.2.826.0.1.3"}
    ct = scans["1.2.826.0.1.1"]
    assert ct.mask == str(dicom_mix / "1.2.826.0.1.1_vertebrae.nii.gz")
    assert ct.n_slices == 53 and ct.slice_thickness_mm == 3.0 and ct.patient_id == "P1"
    settings = BatchSettings()
    assert eligibility(ct, settings) is None
    assert eligibility(scans["1.2.826.0.1.2"], settings) == "modality MR is not CT (--modality)"
    assert eligibility(scans["1.2.826.0.1.3"], settings) == (
        "not enough slices: 10 < 40 (--min-slices)"
    )
    thick = BatchSettings(max_slice_thickness_mm=2.5)
    assert "slices too thick: 3 mm > 2.5 mm" in (eligibility(ct, thick) or "")
    chest = BatchSettings(body_parts=("CHEST",))
    assert eligibility(ct, chest) == "body part ABDOMEN is not thorax/abdomen (--body-part)"


def test_volumes_and_masks_by_name(phantoms: PhantomSet, tmp_path: Path) -> None:
    scans = discover([phantoms.root])
    assert len(scans) == 4  # seg.nii.gz files are masks, not scans
    assert all(scan.key.startswith("sha256:") and scan.mask is None for scan in scans)
    assert all(scan.n_slices == 53 for scan in scans)
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "ct.nii.gz").symlink_to(phantoms.ct("case0"))
    (tmp_path / "a" / "vertebrae.nii.gz").symlink_to(phantoms.root / "case0" / "seg.nii.gz")
    (found,) = discover([tmp_path / "a"])
    assert found.mask == str(tmp_path / "a" / "vertebrae.nii.gz")
    assert found.name == f"a_ct_{found.key[7:15]}"


def test_manifest(phantoms: PhantomSet, tmp_path: Path) -> None:
    manifest = phantoms.manifest(tmp_path, ["case0", "case1"])
    scans = discover([manifest])
    assert [s.case_id for s in scans] == ["case0", "case1"]
    assert scans[1].mask == str(phantoms.root / "case1" / "seg.nii.gz")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("path,case_id\nx,1\n", "has no 'ct' column"),
        ("ct,colour\nx,red\n", r"unknown manifest column\(s\) colour"),
        ("ct\nmissing.nii.gz\n", "ct .*missing.nii.gz does not exist"),
        ("ct\n", "lists no scan"),
    ],
)
def test_bad_manifest(tmp_path: Path, text: str, expected: str) -> None:
    manifest = tmp_path / "m.csv"
    manifest.write_text(text, encoding="utf-8")
    with pytest.raises(InputError, match=expected):
        discover([manifest])


def test_unreadable_and_empty(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "readme.txt").write_text("x", encoding="utf-8")
    with pytest.raises(InputError, match="holds no DICOM series or volume file"):
        discover([tmp_path / "empty"])
    with pytest.raises(InputError, match="no such file or folder"):
        discover([tmp_path / "nowhere"])
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "x.dcm").write_bytes(b"\0" * 128 + b"DICM" + b"\xff" * 40)
    (scan,) = discover([bad])
    assert scan.problem is not None and "cannot be read" in scan.problem


@pytest.mark.skipif(not SHARED_DICOM.is_dir(), reason="../shared/data is absent")
def test_real_series_slice_limit() -> None:
    (scan,) = discover([SHARED_DICOM / "dicom"])
    assert scan.modality == "CT" and scan.n_slices == 20
    assert eligibility(scan, BatchSettings()) == "not enough slices: 20 < 40 (--min-slices)"
    assert eligibility(scan, BatchSettings(min_slices=10)) is None
