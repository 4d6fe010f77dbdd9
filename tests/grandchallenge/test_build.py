"""``gc build``'s context, checked without Docker; ``gc selftest`` (the health check) run here."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fracturelab.cli.gc import app
from fracturelab.grandchallenge.values import check_value
from tests.cli.helpers import one_line_error

runner = CliRunner()


def _instructions(dockerfile: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of a Dockerfile, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", dockerfile.read_text())
    lines = [line.strip() for line in text.splitlines()]
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line else "")
        for line in lines
        if line and not line.startswith("#")
    ]


@pytest.fixture(scope="module")
def context(spine_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("build") / "gc-spine"
    result = runner.invoke(app, ["build", "--model", str(spine_model), "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


def test_context_holds_everything_the_image_needs(context: Path) -> None:
    names = {p.name for p in context.iterdir()}
    assert {
        "Dockerfile.cpu", "Dockerfile.cuda", "requirements.txt", "requirements-cuda.txt",
        "constraints.txt", "do_test_run.sh", "do_save.sh", "sockets.json", "model", "source",
        "test", ".dockerignore",
    } <= names  # fmt: skip
    assert (context / "model" / "spine_model.json").is_file()
    assert (context / "source" / "pyproject.toml").is_file()
    assert (context / "source" / "src" / "fracturelab" / "grandchallenge" / "schemas").is_dir()
    assert json.loads((context / "test" / "input" / "inputs.json").read_text())
    sockets = json.loads((context / "sockets.json").read_text())
    assert sockets["task"] == "spine"
    for script in ("do_test_run.sh", "do_save.sh"):
        text = (context / script).read_text()
        assert (context / script).stat().st_mode & 0o111 and "fracturelab-spine" in text
    assert "--network none" in (context / "do_test_run.sh").read_text()


@pytest.mark.parametrize("variant", ["cpu", "cuda"])
def test_dockerfile(context: Path, variant: str) -> None:
    path = context / f"Dockerfile.{variant}"
    assert "${" not in path.read_text()  # every placeholder filled
    steps = _instructions(path)
    assert steps[0][0] == "FROM"
    base = steps[0][1].split()[-1]
    assert base.startswith("python:3." if variant == "cpu" else "pytorch/pytorch:")
    users = [i for i, (op, _) in enumerate(steps) if op == "USER"]
    assert users and steps[users[-1]][1] not in ("root", "0")
    # Nothing is installed or downloaded once the unprivileged user runs the container.
    assert all(op != "RUN" for op, _ in steps[users[-1] :])
    run_time = [args for op, args in steps if op in ("ENTRYPOINT", "CMD", "HEALTHCHECK")]
    assert run_time and not any("pip" in args or "http" in args for args in run_time)
    assert ("COPY", "--chown=user:user model/ /opt/ml/model/") in steps
    health = next(args for op, args in steps if op == "HEALTHCHECK")
    assert '"selftest", "--task", "spine"' in health
    entry = next(args for op, args in steps if op == "ENTRYPOINT")
    assert json.loads(entry) == ["python", "-m", "fracturelab.cli.gc", "run"]
    requirements = "requirements.txt" if variant == "cpu" else "requirements-cuda.txt"
    pins = (context / requirements).read_text().split()
    assert pins and all(re.fullmatch(r"[A-Za-z0-9._\[\]-]+==[0-9][^=\s]*", p) for p in pins)
    assert any(p.startswith("torch==") for p in pins) == (variant == "cpu")


def test_selftest_passes_here(spine_model: Path, femur_model: Path) -> None:
    result = runner.invoke(app, ["selftest", "--model", str(spine_model)])
    assert result.exit_code == 0, result.output
    assert "selftest passed: spine, 6 outputs valid" in result.output
    result = runner.invoke(app, ["selftest", "--task", "femur", "--model", str(femur_model)])
    assert result.exit_code == 0, result.output
    assert "selftest passed: femur, 5 outputs valid" in result.output


def test_build_refuses_a_used_folder_and_a_foreign_model(spine_model: Path, tmp_path: Path) -> None:
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "x").write_text("")
    result = runner.invoke(
        app, ["build", "--model", str(spine_model), "--out", str(tmp_path / "used")]
    )
    one_line_error(result, "--out", "not an empty folder")
    result = runner.invoke(app, ["build", "--model", str(tmp_path), "--out", str(tmp_path / "n")])
    one_line_error(result, "holds neither a spine model")
    assert not (tmp_path / "n").exists()
    args = ["build", "--model", str(spine_model), "--task", "femur", "--out", str(tmp_path / "n")]
    one_line_error(runner.invoke(app, args), "holds a spine model, not a femur one")


def test_values_are_checked_against_the_platform_schemas() -> None:
    from fracturelab.errors import FracturelabError

    point = {"name": "L1", "type": "Point", "point": [1.0, 2.0, 3.0], "probability": 0.5}
    good = {
        "name": "x",
        "type": "Multiple points",
        "points": [point],
        "version": {"major": 1, "minor": 0},
    }
    check_value(good, "Multiple points")
    with pytest.raises(FracturelabError, match="version"):
        check_value({k: v for k, v in good.items() if k != "version"}, "Multiple points")
    with pytest.raises(FracturelabError, match="Additional properties"):
        check_value({**good, "extra": 1}, "Multiple points")
    with pytest.raises(FracturelabError, match="JSON cannot carry"):
        check_value(float("nan"), "Float")
    with pytest.raises(FracturelabError):
        check_value([1.0, 2.0], "Point")
