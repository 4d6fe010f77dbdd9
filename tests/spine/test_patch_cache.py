"""The patch cache: one folder of patches and index.csv per dataset (spine.patch_cache)."""

import csv
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from fracturelab.errors import InputError
from fracturelab.spine.patch_cache import INDEX_COLUMNS, prepare_cache, read_spec
from fracturelab.spine.patches import PatchSpec, extract_patches
from fracturelab.synth import make_spine_phantom

SPEC = PatchSpec(size_mm=(48.0, 48.0, 48.0), spacing_mm=2.0)


@dataclass(frozen=True)
class Case:
    case_id: str
    patient_id: str
    ct: Path
    vertebrae: Path | None
    tier: str


@dataclass(frozen=True)
class Grade:
    case_id: str
    level: str
    genant_grade: int
    morphology: str | None


@dataclass
class Dataset:
    """The dataset API the cache is written against (read_dataset's SpineDataset)."""

    cases: list[Case]
    grades: list[Grade] = field(default_factory=list)

    def grades_of(self, case_id):
        return {g.level: g for g in self.grades if g.case_id == case_id}


@pytest.fixture(scope="module")
def scans(tmp_path_factory):
    root = tmp_path_factory.mktemp("scans")
    a = make_spine_phantom(levels="T12-L2", fractures="L1:2:wedge", seed=1, spacing_mm=(1.5,) * 3)
    b = make_spine_phantom(levels="L2-L4", seed=2, spacing_mm=(1.5,) * 3, orientation="RAS")
    paths = {"a": a.save(root / "a"), "b": b.save(root / "b")}
    broken = root / "broken"
    broken.mkdir()
    (broken / "ct.nii.gz").write_bytes(b"not a nifti file")
    paths["broken"] = {"ct": broken / "ct.nii.gz", "vertebrae": paths["a"]["vertebrae"]}
    return paths


def _dataset(scans):
    cases = [
        Case("a", "p1", scans["a"]["ct"], scans["a"]["vertebrae"], "graded"),
        Case("b", "p2", scans["b"]["ct"], scans["b"]["vertebrae"], "delineated"),
        Case("u", "p2", scans["b"]["ct"], None, "unlabelled"),
        Case("broken", "p3", scans["broken"]["ct"], scans["broken"]["vertebrae"], "graded"),
    ]
    grades = [
        Grade("a", "T12", 0, "normal"),
        Grade("a", "L1", 2, "wedge"),
        Grade("a", "L3", 1, None),  # not in a's label map (T12-L2)
        Grade("broken", "L1", 0, "normal"),
    ]
    return Dataset(cases, grades)


def _index(path):
    with Path(path).open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        return reader.fieldnames, list(reader)


@pytest.fixture(scope="module")
def cache(scans, tmp_path_factory):
    folder = tmp_path_factory.mktemp("cache")
    index = prepare_cache(_dataset(scans), folder, SPEC, show_progress=False)
    return folder, index


def test_index_lists_every_scan_and_vertebra(cache):
    folder, index = cache
    assert index == folder / "index.csv"
    columns, rows = _index(index)
    assert tuple(columns) == INDEX_COLUMNS
    keyed = {(r["case_id"], r["level"]): r for r in rows}
    assert sorted(keyed) == sorted(
        [("a", "T12"), ("a", "L1"), ("a", "L2"), ("a", "L3"), ("b", "L2"), ("b", "L3"),
         ("b", "L4"), ("u", ""), ("broken", "")]
    )  # fmt: skip
    l1 = keyed[("a", "L1")]
    assert (l1["genant_grade"], l1["morphology"], l1["fracture"]) == ("2", "wedge", "1")
    assert l1["morph_grade"] == "2"  # the phantom's known grade, read by the morphometry
    assert float(l1["height_loss_pct"]) > 25.0
    assert (l1["status"], l1["tier"], l1["patient_id"]) == ("ok", "graded", "p1")
    assert l1["label"] == "20"  # VerSe numbering
    t12 = keyed[("a", "T12")]
    assert (t12["genant_grade"], t12["fracture"]) == ("0", "0")
    ungraded = keyed[("a", "L2")]
    assert ungraded["genant_grade"] == ungraded["fracture"] == ungraded["morphology"] == ""
    assert ungraded["status"] == "ok"
    missing = keyed[("a", "L3")]
    assert missing["status"] == "missing"
    assert missing["patch"] == ""
    assert "L3 is not in the label map" in missing["reason"]
    assert keyed[("u", "")]["status"] == "unlabelled"
    assert keyed[("u", "")]["reason"] == "no label map"
    broken = keyed[("broken", "")]
    assert broken["status"] == "failed"
    assert "ct.nii.gz" in broken["reason"]
    assert "\n" not in broken["reason"]


def test_patches_are_the_extracted_patches_in_float16(cache, scans):
    folder, index = cache
    _, rows = _index(index)
    row = next(r for r in rows if (r["case_id"], r["level"]) == ("b", "L3"))
    stored = np.load(folder / row["patch"])
    assert row["patch"] == "patches/b/L3.npy"
    assert stored.dtype == np.float16
    assert stored.shape == (3, *SPEC.shape)
    from fracturelab.imaging import read_volume

    ct = read_volume(scans["b"]["ct"])
    labels = read_volume(scans["b"]["vertebrae"])
    direct = next(p for p in extract_patches(ct, labels, SPEC) if p.level == "L3")
    # float16 keeps 11 significant bits: 5e-4 relative on values in [0, 1]
    assert np.abs(stored.astype(np.float32) - direct.array).max() < 1e-3


def test_spec_json_records_how_patches_were_cut(cache):
    folder, _ = cache
    document = json.loads((folder / "spec.json").read_text())
    assert document["channels"] == ["ct", "vertebra", "neighbours"]
    assert document["axes"] == ["superior", "anterior", "right"]
    assert document["dtype"] == "float16"
    assert "fracturelab_version" in document
    assert read_spec(folder) == SPEC


def test_failed_scans_are_reported(scans, tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="fracturelab.spine.patch_cache"):
        prepare_cache(_dataset(scans), tmp_path / "c", SPEC, show_progress=False)
    warned = [r.getMessage() for r in caplog.records]
    assert any("case broken skipped" in m for m in warned)
    assert any("1 of 4 scans failed" in m for m in warned)


def test_rerun_reuses_patches_and_redoes_only_what_is_missing(scans, tmp_path):
    dataset = _dataset(scans)
    folder = tmp_path / "cache"
    prepare_cache(dataset, folder, SPEC, show_progress=False)
    times = {p: p.stat().st_mtime_ns for p in folder.glob("patches/*/*.npy")}
    first = _index(folder / "index.csv")
    (folder / "patches" / "b" / "L3.npy").unlink()  # as if interrupted while writing b
    prepare_cache(dataset, folder, SPEC, show_progress=False)
    assert _index(folder / "index.csv") == first
    for path, stamp in times.items():
        if path.parent.name == "a":
            assert path.stat().st_mtime_ns == stamp  # a reused, not recut
    assert (folder / "patches" / "b" / "L3.npy").is_file()  # b redone


def test_another_spec_in_the_same_folder_is_refused(cache, scans):
    folder, _ = cache
    other = PatchSpec(size_mm=(48.0, 48.0, 48.0), spacing_mm=1.0)
    with pytest.raises(InputError) as caught:
        prepare_cache(_dataset(scans), folder, other, show_progress=False)
    message = str(caught.value)
    assert "\n" not in message
    assert str(folder) in message
    assert "spacing_mm=2.0" in message
    assert "spacing_mm=1.0" in message


def test_levels_with_grades_only(scans, tmp_path):
    folder = tmp_path / "graded"
    index = prepare_cache(
        _dataset(scans), folder, SPEC, levels_with_grades_only=True, show_progress=False
    )
    _, rows = _index(index)
    keyed = {(r["case_id"], r["level"]): r["status"] for r in rows}
    assert keyed == {
        ("a", "T12"): "ok", ("a", "L1"): "ok", ("a", "L3"): "missing",
        ("u", ""): "unlabelled", ("broken", ""): "failed",
    }  # fmt: skip
    assert sorted(p.name for p in folder.glob("patches/*/*.npy")) == ["L1.npy", "T12.npy"]


def test_parallel_jobs_give_the_same_cache(cache, scans, tmp_path):
    folder, index = cache
    parallel = prepare_cache(_dataset(scans), tmp_path / "p", SPEC, jobs=2, show_progress=False)
    assert _index(parallel) == _index(index)
    for path in folder.glob("patches/*/*.npy"):
        other = tmp_path / "p" / path.relative_to(folder)
        assert np.array_equal(np.load(path), np.load(other))


@pytest.mark.parametrize("jobs", [0, -1, 1.5, True])
def test_bad_jobs(scans, tmp_path, jobs):
    with pytest.raises(InputError, match=r"^jobs=.* is not valid; give a number of processes"):
        prepare_cache(_dataset(scans), tmp_path, SPEC, jobs=jobs, show_progress=False)


def test_case_id_that_cannot_name_a_folder(scans, tmp_path):
    dataset = Dataset([Case("../up", "p1", scans["a"]["ct"], scans["a"]["vertebrae"], "graded")])
    with pytest.raises(InputError, match=r"case_id '\.\./up' cannot name a cache folder"):
        prepare_cache(dataset, tmp_path / "c", SPEC, show_progress=False)


def test_out_dir_that_is_a_file(scans, tmp_path):
    target = tmp_path / "file.txt"
    target.write_text("x")
    with pytest.raises(InputError, match=r"out_dir .*file\.txt: is a file"):
        prepare_cache(_dataset(scans), target, SPEC, show_progress=False)


def test_read_spec_of_a_folder_without_a_cache(tmp_path):
    with pytest.raises(InputError, match=r"spec\.json does not exist"):
        read_spec(tmp_path)


def test_dataset_read_by_read_dataset(scans, tmp_path):
    """The cache reads the pinned dataset API (scans.csv + grades.csv through read_dataset)."""
    from fracturelab.spine.dataset import read_dataset

    root = tmp_path / "set"
    root.mkdir()
    (root / "scans.csv").write_text(
        "case_id,patient_id,ct,vertebrae\n"
        f"a,p1,{scans['a']['ct']},{scans['a']['vertebrae']}\n"
        f"u,p2,{scans['b']['ct']},\n"
    )
    (root / "grades.csv").write_text(
        "case_id,level,genant_grade,morphology\na,L1,2,wedge\na,T12,0,normal\n"
    )
    dataset = read_dataset(root / "scans.csv")
    index = prepare_cache(dataset, tmp_path / "cache", SPEC, show_progress=False)
    _, rows = _index(index)
    keyed = {(r["case_id"], r["level"]): r for r in rows}
    assert set(keyed) == {("a", "T12"), ("a", "L1"), ("a", "L2"), ("u", "")}
    assert keyed[("a", "L1")]["genant_grade"] == "2"
    assert keyed[("a", "L1")]["status"] == "ok"
    assert keyed[("u", "")]["tier"] == "unlabelled"


def test_real_scan(shared_data, tmp_path):
    """A real VerSe CT (3 x 1 x 1 mm, cut by the field of view): every graded level is indexed
    and every framed vertebra has a patch centred in its body."""
    from fracturelab.spine.dataset import read_dataset

    source = shared_data / "ct-verse19-graded" / "scans.csv"
    if not source.is_file():
        pytest.skip("ct-verse19-graded is absent")
    full = read_dataset(source)
    dataset = Dataset(
        [c for c in full.cases if c.case_id == "verse012"],
        [g for g in full.grades if g.case_id == "verse012"],
    )
    index = prepare_cache(dataset, tmp_path, SPEC, show_progress=False)
    _, rows = _index(index)
    assert {r["level"] for r in rows} >= set(dataset.grades_of("verse012"))
    l1 = next(r for r in rows if r["level"] == "L1")
    assert (l1["genant_grade"], l1["status"]) == ("3", "ok")
    for row in rows:
        if row["status"] == "ok":
            patch = np.load(tmp_path / row["patch"])
            centre = tuple(n // 2 for n in SPEC.shape)
            assert patch[1][centre] == 1.0
