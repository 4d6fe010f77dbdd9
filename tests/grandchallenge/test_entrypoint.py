"""The entrypoint as the platform runs it: a read-only /input, a subprocess, checked outputs.

Ground truth comes from the phantom (which vertebra is fractured, where its body centre lies,
which label its voxels carry), not from the code under test.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from fracturelab.grandchallenge.simulate import check_outputs, make_input_folder, read_only
from fracturelab.grandchallenge.sockets import sockets_for

runner = CliRunner()


def entrypoint(
    input_dir: Path, output_dir: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``python -m fracturelab.cli.gc run`` in a new process, as the container runs it."""
    command = [sys.executable, "-m", "fracturelab.cli.gc", "run", "--input", str(input_dir)]
    return subprocess.run(
        [*command, "--output", str(output_dir), *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        check=False,
    )


@pytest.fixture(scope="module")
def spine_context(spine_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``gc build`` of the tiny spine model."""
    from fracturelab.cli.gc import app

    out = tmp_path_factory.mktemp("context") / "gc-spine"
    result = runner.invoke(app, ["build", "--model", str(spine_model), "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture(scope="module")
def spine_run(
    spine_case: dict[str, object], spine_context: Path, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """``gc test``: a read-only uuid-named input folder, the entrypoint run as a subprocess
    with the context's model given through the environment, every output checked."""
    from fracturelab.cli.gc import app

    root = tmp_path_factory.mktemp("spine-run")
    args = ["test", str(spine_context), "--case", str(spine_case["ct"])]
    args += ["--case-mask", str(spine_case["vertebrae"]), "--out", str(root)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "6 outputs valid" in result.output
    return root / "output"


def _value(output_dir: Path, task: str, role: str) -> object:
    socket = sockets_for(task)[role]
    return json.loads((output_dir / socket.relative_path).read_text(encoding="utf-8"))


def test_input_folder_is_the_platforms_layout(spine_run: Path) -> None:
    input_dir = spine_run.parent / "input"
    listed = json.loads((input_dir / "inputs.json").read_text())
    assert {e["interface"]["slug"] for e in listed} == {"ct-image", "vertebra-segmentation"}
    (ct,) = (input_dir / "images" / "ct-image").iterdir()
    assert ct.suffix == ".mha" and len(ct.stem) == 36  # <uuid>.mha
    assert not os.access(ct, os.W_OK) or os.geteuid() == 0  # read-only (root ignores modes)


def test_spine_outputs_validate_against_the_platform_schemas(spine_run: Path) -> None:
    found = check_outputs(spine_run, "spine")
    assert set(found) == {s.slug for s in sockets_for("spine").values() if not s.is_input}
    assert not [p for p in spine_run.rglob("*") if p.name.startswith(".")]  # no staging left


def test_grade_map_has_the_input_geometry_and_grades(
    spine_run: Path, spine_case: dict[str, object]
) -> None:
    import SimpleITK as sitk

    ct = sitk.ReadImage(str(spine_case["ct"]))
    (path,) = (spine_run / "images" / "vertebra-grade-map").iterdir()
    grades = sitk.ReadImage(str(path))
    assert not np.allclose(np.reshape(ct.GetDirection(), (3, 3)), np.eye(3))  # PIR storage
    assert grades.GetSize() == ct.GetSize()
    assert grades.GetOrigin() == ct.GetOrigin()
    assert grades.GetSpacing() == ct.GetSpacing()
    assert grades.GetDirection() == ct.GetDirection()
    phantom = spine_case["phantom"]
    mask = sitk.GetArrayFromImage(sitk.ReadImage(str(spine_case["vertebrae"])))
    values = sitk.GetArrayFromImage(grades)
    for entry in phantom.truth["vertebrae"]:  # type: ignore[attr-defined]
        inside = values[mask == entry["label"]]
        expected = entry["genant_grade"] or 4  # 4: a vertebra graded 0
        assert np.all(inside == expected), (entry["level"], np.unique(inside))
    assert np.all(values[mask == 0] == 0)


def test_points_lie_at_the_fractured_vertebrae_in_world_mm(
    spine_run: Path, spine_case: dict[str, object]
) -> None:
    import SimpleITK as sitk

    phantom = spine_case["phantom"]
    fractured = {e["level"]: e for e in phantom.fractured}  # type: ignore[attr-defined]
    value = _value(spine_run, "spine", "points")
    assert isinstance(value, dict) and value["type"] == "Multiple points"
    named = {p["name"].split()[0]: p for p in value["points"]}
    assert set(named) == set(fractured) == {"L1"}
    mask = sitk.ReadImage(str(spine_case["vertebrae"]))
    for level, entry in fractured.items():
        point = np.asarray(named[level]["point"])
        assert np.linalg.norm(point - np.asarray(entry["body_center_mm"])) < 3.0
        index = mask.TransformPhysicalPointToIndex(point.tolist())
        assert mask[index] == entry["label"]
        assert 0 <= named[level]["probability"] <= 1


def test_results_equal_those_of_spine_analyze(
    spine_run: Path, spine_case: dict[str, object], spine_model: Path, tmp_path: Path
) -> None:
    from fracturelab.cli.spine import app as spine_app

    out = tmp_path / "analyze"
    args = ["analyze", "--ct", str(spine_case["ct"]), "--vertebrae", str(spine_case["vertebrae"])]
    result = runner.invoke(
        spine_app, [*args, "--out", str(out), "--model", str(spine_model), "--no-overview", "-q"]
    )
    assert result.exit_code == 0, result.output
    analyzed = json.loads((out / "vertebrae.json").read_text())
    results = _value(spine_run, "spine", "results")
    assert isinstance(results, dict)
    assert results["vertebrae"] == analyzed["vertebrae"]
    # The same model, copied into the build context: only its recorded folder differs.
    for document in (results, analyzed):
        assert document["summary"]["model"].pop("folder")
    assert results["summary"] == analyzed["summary"]
    summary = _value(spine_run, "spine", "summary")
    probabilities = [v["fracture_probability"] for v in analyzed["vertebrae"]]
    assert summary == {
        "fracture_probability": pytest.approx(max(probabilities), abs=1e-6),
        "probability_source": "model",
        "max_grade": 2,
        "n_fractured": 1,
        "fractured_levels": ["L1"],
        "n_vertebrae": 3,
        "note": summary["note"],  # type: ignore[index]
    }
    assert _value(spine_run, "spine", "max_grade") == 2
    assert _value(spine_run, "spine", "probability") == summary["fracture_probability"]  # type: ignore[index]


def test_femur_run_with_model_option(femur_model: Path, radiograph: Path, tmp_path: Path) -> None:
    import SimpleITK as sitk

    from fracturelab.cli.gc import app

    input_dir = make_input_folder(tmp_path / "input", "femur", {"radiograph": radiograph})
    read_only(input_dir)
    args = ["run", "--input", str(input_dir), "--output", str(tmp_path / "output")]
    result = runner.invoke(app, [*args, "--model", str(femur_model)])
    assert result.exit_code == 0, result.output
    check_outputs(tmp_path / "output", "femur")
    prediction = _value(tmp_path / "output", "femur", "prediction")
    assert isinstance(prediction, dict)
    center = _value(tmp_path / "output", "femur", "center")
    assert isinstance(center, dict) and center["type"] == "Point"
    x_px, y_px = prediction["center_px"]
    # Hand-computed: origin (10, -20, 7.5) + 0.5 mm x pixel index, identity direction.
    assert center["point"] == pytest.approx([10 + 0.5 * x_px, -20 + 0.5 * y_px, 7.5], abs=1e-2)
    p_aff = _value(tmp_path / "output", "femur", "p_aff")
    label = _value(tmp_path / "output", "femur", "label")
    assert label == ("AFF" if p_aff >= prediction["threshold"] else "NFF")  # type: ignore[operator]
    (overlay,) = (tmp_path / "output" / "images" / "femur-fracture-overlay").iterdir()
    image = sitk.ReadImage(str(overlay))
    assert image.GetNumberOfComponentsPerPixel() == 3
    width_mm = image.GetSize()[0] * image.GetSpacing()[0]
    assert width_mm == pytest.approx(256 * 0.5, rel=1e-6)


def test_model_from_the_platforms_model_folder(
    spine_case: dict[str, object],
    spine_model: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from fracturelab.grandchallenge import entrypoint

    monkeypatch.delenv("FRACTURELAB_GC_MODEL", raising=False)
    monkeypatch.setattr(entrypoint, "DEFAULT_MODEL", spine_model)  # as /opt/ml/model
    cases = {"ct": spine_case["ct"], "vertebrae": spine_case["vertebrae"]}
    input_dir = make_input_folder(tmp_path / "input", "spine", cases)  # type: ignore[arg-type]
    result = entrypoint.run_algorithm(input_dir, tmp_path / "output")
    assert result.task == "spine" and result.model_folder == spine_model
    assert _value(tmp_path / "output", "spine", "summary")["probability_source"] == "model"  # type: ignore[index]


def test_morphometry_only_without_a_model(
    spine_case: dict[str, object], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fracturelab.grandchallenge import entrypoint

    monkeypatch.delenv("FRACTURELAB_GC_MODEL", raising=False)
    monkeypatch.setattr(entrypoint, "DEFAULT_MODEL", tmp_path / "absent")
    cases = {"ct": spine_case["ct"], "vertebrae": spine_case["vertebrae"]}
    input_dir = make_input_folder(tmp_path / "input", "spine", cases)  # type: ignore[arg-type]
    entrypoint.run_algorithm(input_dir, tmp_path / "output")
    found = check_outputs(tmp_path / "output", "spine")
    assert "vertebral-fracture-probability" not in found
    summary = _value(tmp_path / "output", "spine", "summary")
    assert summary["fracture_probability"] is None and "no model" in summary["note"]  # type: ignore[index]
    points = _value(tmp_path / "output", "spine", "points")
    assert [p["name"] for p in points["points"]] == ["L1 grade 2"]  # type: ignore[index]
    assert "probability" not in points["points"][0]  # type: ignore[index]
