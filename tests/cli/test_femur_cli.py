import csv
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk
from typer.testing import CliRunner

from fracturelab.cli.main import app
from fracturelab.femur.result import ExperimentResult
from tests.cli.helpers import one_line_error, unusable_out
from tests.femur.builders import balanced_rows, write_manifest

runner = CliRunner(env={"COLUMNS": "400"})  # no wrapping of long temporary paths


def _first_test_image(run: ExperimentResult) -> tuple[Path, dict[str, str]]:
    assert run.manifest is not None
    with run.manifest.open() as handle:
        rows = list(csv.DictReader(handle))
    row = rows[0]
    return run.manifest.parent / row["image"], row


def test_predict_writes_json_and_overlay(tiny_run: ExperimentResult, tmp_path: Path) -> None:
    image, row = _first_test_image(tiny_run)
    result = runner.invoke(
        app, ["femur", "predict", str(image), "--model", str(tiny_run.out / "models" / "best"),
              "--out", str(tmp_path), "--device", "cpu"]
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    data = json.loads((tmp_path / f"{image.stem}.json").read_text())
    assert set(data) >= {"image", "center_px", "center_mm", "p_aff", "label"}
    assert 0 <= data["p_aff"] <= 1 and data["label"] in {"AFF", "NFF"}
    assert data["label"] == ("AFF" if data["p_aff"] >= data["threshold"] else "NFF")
    spacing = float(row["pixel_spacing_mm"])  # synthetic PNGs carry it in pHYs too
    assert data["center_mm"] == pytest.approx([v * spacing for v in data["center_px"]], rel=1e-3)
    x0, y0, x1, y1 = data["patch_box_px"]
    assert (x1 - x0, y1 - y0) == (224, 224)  # a native-resolution patch
    assert x0 <= data["center_px"][0] < x1 and y0 <= data["center_px"][1] < y1
    assert (tmp_path / f"{image.stem}.png").read_bytes()[:4] == b"\x89PNG"


def test_predict_matches_the_experiment_pipeline(tiny_run: ExperimentResult) -> None:
    """The model folder reproduces the in-experiment centre and probability of a test image."""
    from fracturelab.femur.bundle import FemurModel
    from fracturelab.femur.splits import TEST
    from fracturelab.imaging.radiograph_io import read_radiograph

    best = json.loads((tiny_run.out / "models" / "best" / "model.json").read_text())
    backbone = best["classifier"]["backbone"]
    model = FemurModel.load(tiny_run.out / "models" / "best")
    index = int(tiny_run.splits.indices(TEST)[0])
    item = tiny_run.images[index]
    spacing = item.row.pixel_spacing_mm
    prediction = model.predict(read_radiograph(item.row.image, (spacing, spacing)))
    expected_center = tiny_run.centers[tiny_run.best_localizer][index]
    assert prediction.center_px == pytest.approx(tuple(expected_center), abs=0.05)
    expected_p = tiny_run.probabilities[("patch", backbone)][index]
    assert prediction.p_aff == pytest.approx(float(expected_p), abs=2e-3)


def test_unreadable_image(tiny_run: ExperimentResult, tmp_path: Path) -> None:
    bad = tmp_path / "broken.png"
    bad.write_text("not an image")
    result = runner.invoke(
        app, ["femur", "predict", str(bad), "--model", str(tiny_run.out / "models" / "best"),
              "--out", str(tmp_path / "out")]
    )  # fmt: skip
    one_line_error(result, "broken.png")
    assert not (tmp_path / "out").exists()


def test_volume_given_as_radiograph(tiny_run: ExperimentResult, tmp_path: Path) -> None:
    volume = tmp_path / "ct.nii.gz"
    sitk.WriteImage(sitk.GetImageFromArray(np.zeros((4, 5, 6), np.int16)), str(volume))
    result = runner.invoke(
        app, ["femur", "predict", str(volume), "--model", str(tiny_run.out / "models" / "best"),
              "--out", str(tmp_path / "out")]
    )  # fmt: skip
    one_line_error(result, "ct.nii.gz", "3D")


def test_model_folder_from_another_task(tiny_run: ExperimentResult, tmp_path: Path) -> None:
    folder = tmp_path / "model"
    shutil.copytree(tiny_run.out / "models" / "best", folder)
    description = json.loads((folder / "model.json").read_text())
    (folder / "model.json").write_text(json.dumps({**description, "task": "spine-fracture"}))
    image, _ = _first_test_image(tiny_run)
    result = runner.invoke(
        app, ["femur", "predict", str(image), "--model", str(folder), "--out", str(tmp_path)]
    )
    one_line_error(result, "spine-fracture", "femur-aff")


def test_folder_without_model(tmp_path: Path) -> None:
    image = tmp_path / "x.png"
    result = runner.invoke(
        app, ["femur", "predict", str(image), "--model", str(tmp_path), "--out", str(tmp_path)]
    )
    one_line_error(result, "no model.json")


def test_model_weights_that_do_not_fit(tiny_run: ExperimentResult, tmp_path: Path) -> None:
    folder = tmp_path / "model"
    shutil.copytree(tiny_run.out / "models" / "best", folder)
    description = json.loads((folder / "model.json").read_text())
    (folder / "model.json").write_text(json.dumps({**description, "model_size": "small"}))
    image, _ = _first_test_image(tiny_run)
    result = runner.invoke(
        app, ["femur", "predict", str(image), "--model", str(folder), "--out", str(tmp_path)]
    )
    one_line_error(result, "does not fit")


def _experiment(manifest: Path, out: Path):
    return runner.invoke(
        app, ["femur", "experiment", "--manifest", str(manifest), "--out", str(out),
              "--folds", "2", "--model-size", "tiny", "--max-steps", "1"]
    )  # fmt: skip


def test_empty_manifest(tmp_path: Path) -> None:
    manifest = tmp_path / "manifest.csv"
    manifest.write_text("")
    one_line_error(_experiment(manifest, tmp_path / "run"), "manifest.csv", "empty")
    assert not (tmp_path / "run").exists()


def test_manifest_with_one_class(tmp_path: Path) -> None:
    rows = [row | {"label": "AFF"} for row in balanced_rows(8)]
    manifest = write_manifest(tmp_path, rows)
    one_line_error(_experiment(manifest, tmp_path / "run"), "every labelled image is AFF")
    assert not (tmp_path / "run").exists()


def test_manifest_with_a_missing_column(tmp_path: Path) -> None:
    manifest = write_manifest(tmp_path, [], header="image,patient,label")
    one_line_error(_experiment(manifest, tmp_path / "run"), "lacks the column")


def test_bad_backbone_suggests_the_closest(tmp_path: Path) -> None:
    manifest = write_manifest(tmp_path, balanced_rows(8))
    result = runner.invoke(
        app, ["femur", "experiment", "--manifest", str(manifest), "--out", str(tmp_path / "r"),
              "--backbones", "cnn,vitt"]
    )  # fmt: skip
    one_line_error(result, "'vitt'", "did you mean 'vit'")


@pytest.mark.parametrize("problem", ["file", "below a file", "not writable"])
def test_predict_refuses_an_unusable_out_before_any_work(
    tiny_run: ExperimentResult, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, problem: str
) -> None:
    image, _ = _first_test_image(tiny_run)
    blocker, out = unusable_out(tmp_path, monkeypatch, problem)
    result = runner.invoke(
        app, ["femur", "predict", str(image), "--model", str(tiny_run.out / "models" / "best"),
              "--out", str(out), "--device", "cpu"]
    )  # fmt: skip
    one_line_error(result, f"error: --out {out}: ")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken"]
    assert blocker.read_text() == "x"
    # Checked first: a missing model folder is not even looked at.
    result = runner.invoke(
        app, ["femur", "predict", str(image), "--model", str(tmp_path / "none"), "--out", str(out)]
    )
    one_line_error(result, f"error: --out {out}: ")


@pytest.mark.parametrize("problem", ["file", "below a file", "not writable"])
def test_experiment_refuses_an_unusable_out_before_any_work(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, problem: str
) -> None:
    (tmp_path / "data").mkdir()
    manifest = write_manifest(tmp_path / "data", balanced_rows(8))
    blocker, out = unusable_out(tmp_path, monkeypatch, problem)
    one_line_error(_experiment(manifest, out), f"error: --out {out}: ")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data", "taken"]
    assert blocker.read_text() == "x"


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--folds", "1"], "error: --folds 1 is not valid"),
        (["--epochs", "0"], "error: --epochs 0 is not valid"),
        (["--localizer-epochs", "0"], "error: --localizer-epochs 0 is not valid"),
        (["--batch-size", "0"], "error: --batch-size 0 is not valid"),
        (["--max-steps", "0"], "error: --max-steps 0 is not valid"),
        (["--bootstrap", "10"], "error: --bootstrap 10 is not valid"),
        (["--jitter", "-1"], "error: --jitter -1.0 is not valid"),
        (["--model-size", "huge"], "error: --model-size 'huge' is not valid"),
        (["--localizer-size", "100"], "error: --localizer-size 100 is not valid"),
        (["--patch-mm", "-5"], "error: --patch-mm -5.0 mm is not valid"),
        (["--test-fraction", "0.9"], "error: --test-fraction 0.9 is not valid"),
        (["--device", "tpu"], "error: --device 'tpu' is not valid"),
    ],
)
def test_experiment_messages_name_the_options(
    tmp_path: Path, args: list[str], expected: str
) -> None:
    manifest = write_manifest(tmp_path, balanced_rows(8))
    result = runner.invoke(
        app, ["femur", "experiment", "--manifest", str(manifest), "--out", str(tmp_path / "run"),
              "--folds", "2", "--model-size", "tiny", "--max-steps", "1", *args]
    )  # fmt: skip
    one_line_error(result, expected)
    assert not re.search(r"\w_\w|\w=", result.stderr.replace(str(tmp_path), "")), result.stderr


def test_predict_messages_name_the_options(tiny_run: ExperimentResult, tmp_path: Path) -> None:
    image, _ = _first_test_image(tiny_run)
    model = str(tiny_run.out / "models" / "best")
    result = runner.invoke(
        app, ["femur", "predict", str(image), "--model", model, "--out", str(tmp_path / "o"),
              "--pixel-spacing", "-1"]
    )  # fmt: skip
    one_line_error(result, "error: --pixel-spacing -1 is not valid")
    result = runner.invoke(
        app, ["femur", "predict", str(image), "--model", model, "--out", str(tmp_path / "o"),
              "--device", "tpu"]
    )  # fmt: skip
    one_line_error(result, "error: --device 'tpu' is not valid")
    volume = tmp_path / "ct.nii.gz"
    sitk.WriteImage(sitk.GetImageFromArray(np.zeros((4, 5, 6), np.int16)), str(volume))
    result = runner.invoke(
        app, ["femur", "predict", str(volume), "--model", model, "--out", str(tmp_path / "o")]
    )
    one_line_error(result, "3D")
    assert "read_volume" not in result.stderr
    assert not (tmp_path / "o").exists()


def test_predict_refuses_a_ct_slice_unless_allowed(
    tiny_run: ExperimentResult, tmp_path: Path
) -> None:
    from tests.cli.dicom_builders import write_slice

    rng = np.random.default_rng(0)
    ct = write_slice(tmp_path / "axial.dcm", rng.integers(0, 2000, (96, 80)), "CT")
    model = str(tiny_run.out / "models" / "best")
    result = runner.invoke(
        app, ["femur", "predict", str(ct), "--model", model, "--out", str(tmp_path / "o")]
    )
    one_line_error(result, str(ct), "modality CT", "--allow-modality CT")
    assert not (tmp_path / "o").exists() and "P(AFF)" not in result.output
    result = runner.invoke(
        app, ["femur", "predict", str(ct), "--model", model, "--out", str(tmp_path / "o"),
              "--allow-modality", "CT", "--pixel-spacing", "0.5", "--device", "cpu"]
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "o" / "axial.json").read_text())["label"] in {"AFF", "NFF"}


def test_allow_modality_must_be_a_code(tiny_run: ExperimentResult, tmp_path: Path) -> None:
    image, _ = _first_test_image(tiny_run)
    result = runner.invoke(
        app, ["femur", "predict", str(image), "--model", str(tiny_run.out / "models" / "best"),
              "--out", str(tmp_path / "o"), "--allow-modality", "ct"]
    )  # fmt: skip
    one_line_error(result, "--allow-modality 'ct'", "did you mean CT?")


def test_experiment_refuses_ct_images_in_the_manifest(tmp_path: Path) -> None:
    from tests.cli.dicom_builders import write_slice

    rows = balanced_rows(8)
    (tmp_path / "images").mkdir()
    ct = write_slice(tmp_path / "images" / "ct.dcm", np.zeros((40, 30)), "CT")
    rows[0] = rows[0] | {"image": "images/ct.dcm", "make_image": False}
    manifest = write_manifest(tmp_path, rows)
    one_line_error(
        _experiment(manifest, tmp_path / "run"),
        "manifest.csv",
        "not a radiograph",
        "--allow-modality",
        "line 2 images/ct.dcm (modality CT",
    )
    assert ct.is_file() and not (tmp_path / "run").exists()
