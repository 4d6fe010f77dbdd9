"""Saved weights: a damaged file and a file for another network get different one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from fracturelab.errors import InputError
from fracturelab.training.weights import load_weights


def _saved(tmp_path: Path) -> Path:
    path = tmp_path / "w.pt"
    torch.save(nn.Linear(4, 2).state_dict(), path)
    return path


def test_weights_load_into_the_same_network(tmp_path: Path) -> None:
    source = nn.Linear(4, 2)
    path = tmp_path / "w.pt"
    torch.save(source.state_dict(), path)
    target = nn.Linear(4, 2).train()
    load_weights(target, path, "cpu", "model.json")
    assert torch.equal(target.weight, source.weight) and not target.training


def test_truncated_file_is_called_damaged(tmp_path: Path) -> None:
    path = _saved(tmp_path)
    path.write_bytes(path.read_bytes()[:300])
    with pytest.raises(InputError, match=r"w\.pt cannot be read: the file is truncated or damaged"):
        load_weights(nn.Linear(4, 2), path, "cpu", "model.json")


def test_weights_of_another_network_do_not_fit(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"does not fit the network described in model\.json"):
        load_weights(nn.Linear(3, 2), _saved(tmp_path), "cpu", "model.json")


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="is missing; the model folder is incomplete"):
        load_weights(nn.Linear(4, 2), tmp_path / "none.pt", "cpu", "model.json")
