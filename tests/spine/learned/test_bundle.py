"""The spine model folder: save/load round trip and the inputs it refuses."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from fracturelab.errors import InputError
from fracturelab.spine.learned.bundle import SpineModel
from fracturelab.spine.learned.network import build_spine_network


def _model(fuse: bool = False) -> SpineModel:
    torch.manual_seed(0)
    networks = [build_spine_network("cnn", (16, 16, 16), 3, "tiny", fuse) for _ in range(2)]
    return SpineModel(networks, "cnn", "tiny", (16, 16, 16), ("ct", "vertebra", "neighbours"), fuse)


def test_round_trip_gives_the_same_probabilities(tmp_path: Path) -> None:
    model = _model()
    patches = [np.random.default_rng(i).random((3, 16, 16, 16), dtype=np.float32) for i in range(3)]
    before = model.predict(patches)
    loaded = SpineModel.load(model.save(tmp_path / "best"))
    after = loaded.predict(patches)
    assert np.allclose(before.fracture_probability, after.fracture_probability, atol=1e-6)
    assert np.allclose(before.grade_probabilities.sum(axis=1), 1.0)
    assert loaded.info["fracturelab_version"]


def test_femur_folder_is_refused(tmp_path: Path) -> None:
    (tmp_path / "model.json").write_text(json.dumps({"task": "femur-aff"}))
    with pytest.raises(InputError, match="holds a femur model") as error:
        SpineModel.load(tmp_path)
    assert "\n" not in str(error.value)


def test_other_folders_are_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="does not exist"):
        SpineModel.load(tmp_path / "none")
    with pytest.raises(InputError, match=r"no spine_model\.json"):
        SpineModel.load(tmp_path)
    (tmp_path / "spine_model.json").write_text(json.dumps({"task": "femur-aff"}))
    with pytest.raises(InputError, match="task 'femur-aff', not 'spine'"):
        SpineModel.load(tmp_path)
    (tmp_path / "spine_model.json").write_text(json.dumps({"task": "spine"}))
    with pytest.raises(InputError, match="incomplete or damaged"):
        SpineModel.load(tmp_path)


def test_incompatible_inputs_are_refused(tmp_path: Path) -> None:
    model = _model()
    with pytest.raises(InputError, match="CT without its vertebra mask") as error:
        model.predict([np.zeros((1, 16, 16, 16), np.float32)])
    assert "\n" not in str(error.value)
    with pytest.raises(InputError, match=r"does not fit this model, which takes \(3, 16, 16, 16\)"):
        model.predict([np.zeros((3, 12, 16, 16), np.float32)])
    with pytest.raises(InputError, match="fuses morphometry"):
        _model(fuse=True).predict([np.zeros((3, 16, 16, 16), np.float32)])
