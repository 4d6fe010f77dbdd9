"""Distributed data parallel on the CPU: two gloo processes train the model one process does.

Tolerance: the two runs add the same numbers in another order (one process sums the squared
errors of 8 items at once; two processes sum 4 each and the gradients are then averaged
across processes), so the weights differ by float32 rounding, about 1e-7 relative per step,
which Adam's normalisation can amplify a little over 18 steps; 1e-5 absolute is far below the
change of the weights in training (about 0.1) and would catch any item seen twice, dropped, or
weighted wrongly.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch

from fracturelab.errors import InputError
from fracturelab.training import launch
from fracturelab.training.distributed import setup
from fracturelab.training.sampler import ShardedBatchSampler, share
from tests.training import ddp_jobs

ATOL = 1e-5


def _log(folder: Path, rank: int) -> dict[str, Any]:
    return json.loads((folder / f"rank{rank}.json").read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def _assert_close(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor], exact: bool) -> None:
    assert a.keys() == b.keys()
    for name in a:
        if exact:
            assert torch.equal(a[name], b[name]), name
        else:
            torch.testing.assert_close(a[name], b[name], atol=ATOL, rtol=0, msg=name)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One process; two gloo processes; two processes interrupted in epoch 2, then resumed."""
    root = tmp_path_factory.mktemp("ddp")
    for name in ("single", "double", "stopped"):
        (root / name / "log").mkdir(parents=True)
    single = launch(ddp_jobs.train, str(root / "single/ckpt"), str(root / "single/log"), devices=1)
    double = launch(ddp_jobs.train, str(root / "double/ckpt"), str(root / "double/log"), devices=2)
    with pytest.raises(RuntimeError, match="interrupted on purpose"):
        # rank 1's 9th batch: the 3rd step of epoch 2 (6 steps an epoch)
        launch(
            ddp_jobs.train, str(root / "stopped/ckpt"), str(root / "stopped/log"), 3, 9, devices=2
        )
    after_stop = sorted(p.name for p in (root / "stopped/ckpt").iterdir())
    resumed = launch(
        ddp_jobs.train, str(root / "stopped/ckpt"), str(root / "stopped/log"), devices=2
    )
    return {
        "root": root,
        "single": single,
        "double": double,
        "after_stop": after_stop,
        "resumed": resumed,
    }


def test_two_gloo_processes_give_the_one_process_model(runs: dict[str, Any]) -> None:
    single, double = runs["single"], runs["double"]
    _assert_close(single["weights"], double["weights"], exact=False)
    moved = ddp_jobs.tiny_model().state_dict()
    assert max((single["weights"][k] - moved[k]).abs().max() for k in moved) > 100 * ATOL
    assert len(single["history"]) == len(double["history"]) == 3
    for one, two in zip(single["history"], double["history"], strict=True):
        assert one["epoch"] == two["epoch"]
        assert one["val_score"] == pytest.approx(two["val_score"], abs=1e-5)
        assert one["train_loss"] == pytest.approx(two["train_loss"], abs=1e-5)


def test_each_process_takes_half_of_every_global_batch(runs: dict[str, Any]) -> None:
    log = runs["root"] / "double" / "log"
    per_epoch = {0: [4, 4, 4, 4, 4, 2], 1: [4, 4, 4, 4, 4, 1]}  # 43 items, batch 8
    for rank, sizes in per_epoch.items():
        assert _log(log, rank)["batch_sizes"] == sizes * 3
    assert _log(runs["root"] / "single" / "log", 0)["batch_sizes"] == [8, 8, 8, 8, 8, 3] * 3


def test_rank_0_alone_validates_and_writes_and_every_rank_agrees(runs: dict[str, Any]) -> None:
    log = runs["root"] / "double" / "log"
    zero, one = _log(log, 0), _log(log, 1)
    assert zero["validated"] == [0, 0, 0] and one["validated"] == []
    assert one["written"] == []
    assert zero["written"].count("last.pt") == 3 and zero["written"][-1] == "result.json"
    assert "best.pt" in zero["written"]
    assert zero["history"] == one["history"]  # the broadcast score: same early-stopping state


def test_a_resumed_two_process_run_continues_from_rank_0_s_checkpoint(
    runs: dict[str, Any],
) -> None:
    assert runs["after_stop"] == ["best.pt", "last.pt"]  # epoch 1 done, epoch 2 interrupted
    resumed = runs["resumed"]
    assert resumed["resumed"]
    _assert_close(resumed["weights"], runs["double"]["weights"], exact=True)
    assert resumed["history"] == runs["double"]["history"]
    log = runs["root"] / "stopped" / "log"
    assert _log(log, 1)["batch_sizes"] == [4, 4, 4, 4, 4, 1] * 2  # epochs 2 and 3 only


def test_a_finished_run_is_read_back_in_every_process(runs: dict[str, Any]) -> None:
    log = runs["root"] / "again"
    log.mkdir()
    again = launch(ddp_jobs.train, str(runs["root"] / "double/ckpt"), str(log), devices=2)
    assert again["resumed"]
    _assert_close(again["weights"], runs["double"]["weights"], exact=True)
    assert _log(log, 1)["batch_sizes"] == []


@pytest.mark.parametrize("devices", [0, -1, 1.5, True])
def test_devices_below_one_is_a_one_line_error(devices: Any) -> None:
    with pytest.raises(InputError, match=r"^--devices .* is not valid; use 1 or more") as error:
        launch(ddp_jobs.tiny_model, devices=devices)
    assert "\n" not in str(error.value)


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_gpus_that_do_not_exist_are_a_one_line_error() -> None:
    with pytest.raises(InputError, match=r"backend='nccl' needs CUDA GPUs"):
        launch(ddp_jobs.tiny_model, devices=2, backend="nccl")
    with pytest.raises(InputError, match=r"backend='mpi' is not valid"):
        launch(ddp_jobs.tiny_model, devices=2, backend="mpi")


def test_gpus_beyond_the_machine_s_name_devices(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    with pytest.raises(InputError, match=r"^--devices 3 asks for 3 GPUs but this machine has 2"):
        launch(ddp_jobs.tiny_model, devices=3)


def test_one_device_runs_in_this_process() -> None:
    assert launch(share, 5, 2, 1, devices=1) == (3, 5)


def test_a_device_that_cannot_be_shared_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORLD_SIZE", "2")
    with pytest.raises(InputError, match=r"device='cuda:1' cannot be shared by 2 processes"):
        setup("cuda:1")
    monkeypatch.setenv("WORLD_SIZE", "1")
    assert not setup("cpu").enabled


def test_shares_cover_a_batch_once_in_order() -> None:
    assert [share(7, 3, r) for r in range(3)] == [(0, 3), (3, 5), (5, 7)]
    assert [share(1, 2, r) for r in range(2)] == [(0, 1), (1, 1)]


def test_the_global_batches_are_one_process_s_batches() -> None:
    order = list(range(10))[::-1]
    batches = [list(ShardedBatchSampler(order, 4, rank, 2)) for rank in range(2)]  # type: ignore[arg-type]
    assert batches[0] == [[9, 8], [5, 4], [1]]
    assert batches[1] == [[7, 6], [3, 2], [0]]
    assert list(ShardedBatchSampler(order, 4)) == [[9, 8, 7, 6], [5, 4, 3, 2], [1, 0]]  # type: ignore[arg-type]
    # the weights make the average of the ranks' mean losses the mean over the whole batch
    last = [ShardedBatchSampler(order, 3, rank, 2) for rank in range(2)]  # type: ignore[arg-type]
    assert [s.weight(3) for s in last] == [2.0, 0.0]  # one item left: rank 1 gets a stand-in
    assert [list(s)[3] for s in last] == [[0], [0]]
    assert [s.weight(0) for s in last] == [4 / 3, 2 / 3]
