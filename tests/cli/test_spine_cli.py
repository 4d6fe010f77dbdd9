import json
import subprocess
import sys

import numpy as np
import pytest
import SimpleITK as sitk
from typer.testing import CliRunner

from fracturelab.cli.main import app
from fracturelab.imaging import read_volume, write_volume
from fracturelab.synth import make_spine_phantom
from tests.cli.helpers import one_line_error, unusable_out

runner = CliRunner(env={"COLUMNS": "400"})  # no wrapping of long temporary paths


@pytest.fixture(scope="module")
def phantom_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("phantom")
    phantom = make_spine_phantom(
        levels="T11-L2", fractures="T12:2:wedge", spacing_mm=(1.5, 1.5, 1.5)
    )
    paths = phantom.save(folder)
    return paths, phantom.truth


def _analyze(ct, labels, out, *extra):
    args = ["spine", "analyze", "--ct", str(ct), "--vertebrae", str(labels), "--out", str(out)]
    return runner.invoke(app, [*args, *extra])


def test_analyze_writes_json_csv_and_overview(phantom_files, tmp_path):
    paths, truth = phantom_files
    result = _analyze(paths["ct"], paths["vertebrae"], tmp_path / "out")
    assert result.exit_code == 0, result.output
    data = json.loads((tmp_path / "out" / "vertebrae.json").read_text())
    assert data["schema_version"] == "1.0" and data["label_convention"] == "verse"
    by_level = {v["level"]: v for v in data["vertebrae"]}
    assert by_level["T12"]["genant_grade"] == 2
    true_t12 = next(v for v in truth["vertebrae"] if v["level"] == "T12")
    # at 1.5 mm voxels this wedge's corner (rounded, with a spur) reads 2.3 mm tall: Ha/Hp
    # 0.72 against Hm/Hp 0.69, so it is typed biconcave (truth: wedge); see the README
    assert abs(by_level["T12"]["heights_mm"]["anterior"] - true_t12["heights_mm"]["anterior"]) < 2.5
    assert set(by_level["T12"]["measurement_points_mm"]) == {"anterior", "middle", "posterior"}
    assert data["summary"]["n_fractured"] == 1 and data["summary"]["max_grade"] == 2
    csv_lines = (tmp_path / "out" / "vertebrae.csv").read_text().splitlines()
    assert len(csv_lines) == 1 + len(data["vertebrae"])
    png = (tmp_path / "out" / "overview.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert "T12" in result.output and "graded" in result.output  # the terminal table


def test_missing_file(phantom_files, tmp_path):
    paths, _ = phantom_files
    result = _analyze(tmp_path / "nope.nii.gz", paths["vertebrae"], tmp_path / "out")
    one_line_error(result, "nope.nii.gz", "no such file")
    assert not (tmp_path / "out").exists()


def test_unreadable_file(phantom_files, tmp_path):
    paths, _ = phantom_files
    bad = tmp_path / "broken.nii.gz"
    bad.write_bytes(b"\x00" * 100)
    result = _analyze(bad, paths["vertebrae"], tmp_path / "out")
    one_line_error(result, "broken.nii.gz", "cannot be read")


def test_label_map_on_another_grid_offers_resampling(phantom_files, tmp_path):
    paths, _ = phantom_files
    labels = read_volume(paths["vertebrae"])
    fine = labels.to_sitk()
    image = sitk.Resample(
        fine,
        [s // 2 for s in fine.GetSize()],
        sitk.Transform(),
        sitk.sitkNearestNeighbor,
        fine.GetOrigin(),
        [s * 2 for s in fine.GetSpacing()],
        fine.GetDirection(),
    )
    coarse = tmp_path / "coarse.nii.gz"
    sitk.WriteImage(image, str(coarse))
    result = _analyze(paths["ct"], coarse, tmp_path / "out")
    one_line_error(result, "coarse.nii.gz", "--resample-labels")
    result = _analyze(paths["ct"], coarse, tmp_path / "out", "--resample-labels", "--no-overview")
    assert result.exit_code == 0, result.output


def test_two_dimensional_image(phantom_files, tmp_path):
    paths, _ = phantom_files
    flat = tmp_path / "flat.nii.gz"
    sitk.WriteImage(sitk.Image(64, 64, sitk.sitkInt16), str(flat))
    one_line_error(_analyze(flat, paths["vertebrae"], tmp_path / "out"), "flat.nii.gz", "2D")


def test_empty_label_map(phantom_files, tmp_path):
    paths, _ = phantom_files
    labels = read_volume(paths["vertebrae"])
    empty = write_volume(labels.with_array(np.zeros(labels.shape, np.uint8)), tmp_path / "e.nii.gz")
    one_line_error(_analyze(paths["ct"], empty, tmp_path / "out"), "e.nii.gz", "is empty")


def test_labels_matching_no_convention(phantom_files, tmp_path):
    paths, _ = phantom_files
    labels = read_volume(paths["vertebrae"])
    odd = labels.with_array(np.where(labels.array > 0, labels.array.astype(np.uint16) + 500, 0))
    path = write_volume(odd, tmp_path / "odd.nii.gz")
    one_line_error(_analyze(paths["ct"], path, tmp_path / "out"), "match no known convention")


def test_label_map_without_vertebrae(phantom_files, tmp_path):
    paths, _ = phantom_files
    labels = read_volume(paths["vertebrae"])
    organs = labels.with_array(np.where(labels.array > 0, 5, 0).astype(np.uint8))
    organs.array[0, 0, 0] = 90  # an organ label only TotalSegmentator uses
    path = write_volume(organs, tmp_path / "organs.nii.gz")
    one_line_error(_analyze(paths["ct"], path, tmp_path / "out"), "organs.nii.gz", "no vertebra")


def test_non_integer_labels(phantom_files, tmp_path):
    paths, _ = phantom_files
    labels = read_volume(paths["vertebrae"])
    soft = write_volume(labels.with_array(labels.array * np.float32(0.3)), tmp_path / "p.nii.gz")
    one_line_error(_analyze(paths["ct"], soft, tmp_path / "out"), "p.nii.gz", "non-integer")


def test_unknown_convention_suggests_the_closest(phantom_files, tmp_path):
    paths, _ = phantom_files
    result = _analyze(paths["ct"], paths["vertebrae"], tmp_path / "out", "--labels", "vers")
    one_line_error(result, "did you mean 'verse'")


def test_whole_spine_body_mask_is_refused(tmp_path):
    from tests.spine.conftest import SHARED_DATA

    folder = SHARED_DATA / "ct-totalsegmentator-example"
    if not folder.exists():
        pytest.skip("../shared/data is absent")
    body = folder / "totalseg_vertebrae_body.nii.gz"
    result = _analyze(folder / "ct.nii.gz", body, tmp_path / "out")
    one_line_error(result, str(body), "label 1", "297,135 mm3", "per-vertebra label map")
    assert not (tmp_path / "out").exists()


def test_real_process_exits_non_zero_without_traceback(tmp_path):
    command = [
        *(sys.executable, "-m", "fracturelab", "spine", "analyze"),
        *("--ct", str(tmp_path / "x.nii"), "--vertebrae", str(tmp_path / "y.nii")),
        *("--out", str(tmp_path / "o")),
    ]
    completed = subprocess.run(command, capture_output=True, text=True, check=False)
    assert completed.returncode == 2
    assert completed.stderr.strip().startswith("error: CT ") and "Traceback" not in completed.stderr
    assert len(completed.stderr.strip().splitlines()) == 1


def test_help_is_fast_and_lists_commands():
    completed = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "fracturelab", "--help"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert "spine" in completed.stdout and "synth" in completed.stdout
    heavy = ("SimpleITK", "scipy", "matplotlib", "numpy")
    imported = [line.split("|")[-1].strip() for line in completed.stderr.splitlines()]
    assert not [name for name in imported if name.split(".")[0] in heavy]


@pytest.mark.parametrize("problem", ["file", "below a file", "not writable"])
def test_unusable_out_is_refused_before_any_work(phantom_files, tmp_path, monkeypatch, problem):
    paths, _ = phantom_files
    blocker, out = unusable_out(tmp_path, monkeypatch, problem)
    # A CT that does not exist: the --out error must come first, before reading anything.
    result = _analyze(tmp_path / "missing-ct.nii.gz", paths["vertebrae"], out)
    one_line_error(result, f"error: --out {out}: ")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken"]
    assert blocker.read_text() == "x"


def test_mr_series_is_refused_as_ct_unless_allowed(phantom_files, tmp_path):
    from tests.cli.dicom_builders import write_series

    paths, _ = phantom_files
    ct = read_volume(paths["ct"])
    assert ct.orientation == "LPS"
    series = write_series(
        tmp_path / "mr", np.asarray(ct.array), "MR",
        spacing_mm=ct.spacing_mm, origin_mm=ct.origin_mm,
    )  # fmt: skip
    result = _analyze(series, paths["vertebrae"], tmp_path / "out")
    one_line_error(result, str(series), "MR", "--allow-modality MR")
    assert not (tmp_path / "out").exists()
    result = _analyze(series, paths["vertebrae"], tmp_path / "out", "--allow-modality", "MR")
    assert result.exit_code == 0, result.output
    graded = json.loads((tmp_path / "out" / "vertebrae.json").read_text())["vertebrae"]
    assert {v["level"]: v["genant_grade"] for v in graded}["T12"] == 2  # the phantom's fracture


def test_levels_out_of_order_are_warned_in_the_terminal_and_the_json(phantom_files, tmp_path):
    """T12 and L1 swapped in the label map: graded all the same, but the user is told."""
    paths, _ = phantom_files
    labels = read_volume(paths["vertebrae"])
    swapped = labels.array.copy()
    t12, l1 = 19, 20  # VerSe labels
    swapped[labels.array == t12], swapped[labels.array == l1] = l1, t12
    write_volume(labels.with_array(swapped), tmp_path / "swapped.nii.gz")
    result = _analyze(paths["ct"], tmp_path / "swapped.nii.gz", tmp_path / "out", "--quiet")
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.output.splitlines() if line.startswith("warning: ")]
    data = json.loads((tmp_path / "out" / "vertebrae.json").read_text())
    assert data["summary"]["level_warnings"], data["summary"]
    assert len(warnings) == len(data["summary"]["level_warnings"])
    assert any("T12" in line and "L1" in line for line in warnings), warnings
