"""Data-parallel training (tasks/train.py under a process group): two CPU processes
with gloo follow the loss curve of one process with the same global batch, only
rank 0 writes checkpoints, and python -m tasks train runs under torchrun."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp
from torch.utils.data import TensorDataset

from tasks.base import IGNORE_INDEX, TaskData
from tasks.model import ModelConfig, build_model
from tasks.synthetic import make_selective_copy
from tasks.train import TrainConfig, train, world_size_problem

ROOT = Path(__file__).resolve().parents[1]
MIXER = "attention/math"
STEPS = 20
#: the largest difference the data-parallel loss curve may have from one process's
TOLERANCE = 1e-5

pytestmark = pytest.mark.usefixtures("one_thread")


def tiny_data(uneven: bool = False) -> TaskData:
    data = make_selective_copy(64, 24, seed=0, seq_len=12, vocab_size=8, n_copy=3)
    if not uneven:
        return data
    # drop a random share of the predicted positions: the ranks' slices of a batch
    # then hold different numbers of them, which a mean of per-rank means gets wrong
    tokens, target = data.train.tensors
    gen = torch.Generator().manual_seed(1)
    dropped = torch.rand(target.shape, generator=gen) < 0.5
    dropped[:, -1] = False  # every example keeps one
    target = target.masked_fill(dropped & (target != IGNORE_INDEX), IGNORE_INDEX)
    return replace(data, train=TensorDataset(tokens, target))


def tiny_model(data: TaskData) -> torch.nn.Module:
    torch.manual_seed(0)
    return build_model(data.spec, ModelConfig(MIXER, d_model=16, n_layers=1, mlp_ratio=2))


def config(**overrides) -> TrainConfig:
    base = {"steps": STEPS, "batch_size": 8, "lr": 3e-3, "eval_batch_size": 5, "progress": False}
    return TrainConfig(**{**base, **overrides})


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def rank_main(rank: int, world_size: int, port: int, folder: str) -> None:
    """One rank: joins the group as torchrun would start it, trains, writes what it saw."""
    os.environ.update(
        RANK=str(rank),
        LOCAL_RANK=str(rank),
        WORLD_SIZE=str(world_size),
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
    )
    torch.set_num_threads(1)
    import tasks.train as train_module
    from tasks.train import distributed, evaluate

    saved: list[int] = []
    save = train_module.save_checkpoint

    def counting_save(run, cfg):
        saved.append(run.progress.step)
        save(run, cfg)

    train_module.save_checkpoint = counting_save
    report: dict = {}
    with distributed("cpu") as ddp:
        report["world_size"] = ddp.world_size
        for name, uneven in (("even", False), ("uneven", True)):
            data = tiny_data(uneven)
            result = train(tiny_model(data), data, config())
            report[name] = {
                "losses": result.losses,
                "accuracy": result.accuracy,
                "val_accuracy": result.val_accuracy,
                "tokens_per_s": result.tokens_per_s,
                "train_time_s": result.train_time_s,
            }
        # evaluation split over the ranks counts what one process counts
        data = tiny_data()
        model = tiny_model(data)
        split = evaluate(model, data.test, config(), ddp=ddp)
        report["eval"] = [split, evaluate(model, data.test, config())]
        # checkpoints: rank 0 alone writes; a finished one resumes on every rank
        checkpoint = Path(folder) / "run.pt"
        cfg = config(checkpoint_path=checkpoint, checkpoint_every=5)
        first = train(tiny_model(data), data, cfg)
        again = train(tiny_model(data), data, cfg)
        report["checkpoint"] = {
            "saved_at": saved,
            "again_steps": again.steps,
            "same_accuracy": again.accuracy == first.accuracy,
        }
        # the time budget stops every rank at the same step
        timeout = train(tiny_model(data), data, config(steps=50, time_budget_s=1e-9 * (1 + rank)))
        report["timeout"] = [timeout.status, timeout.steps]
        try:
            train(tiny_model(data), data, config(batch_size=7))
        except ValueError as error:
            report["odd_batch"] = str(error)
    (Path(folder) / f"rank{rank}.json").write_text(json.dumps(report))


@pytest.fixture(scope="module")
def ranks(tmp_path_factory) -> list[dict]:
    folder = tmp_path_factory.mktemp("ddp")
    mp.spawn(rank_main, args=(2, free_port(), str(folder)), nprocs=2, join=True)
    return [json.loads((folder / f"rank{r}.json").read_text()) for r in range(2)]


@pytest.mark.parametrize("name", ["even", "uneven"])
def test_two_processes_follow_one_process_loss_curve(ranks, name):
    data = tiny_data(uneven=name == "uneven")
    alone = train(tiny_model(data), data, config())
    for report in ranks:
        assert report["world_size"] == 2
        losses = report[name]["losses"]
        assert len(losses) == len(alone.losses) == STEPS
        gap = max(abs(a - b) for a, b in zip(losses, alone.losses, strict=True))
        print(f"{name}: max |loss(2 processes) - loss(1 process)| over {STEPS} steps = {gap:.2e}")
        assert gap <= TOLERANCE
        # the loss moved: a run that learned nothing would match trivially
        assert losses[-1] < losses[0] - 0.1
    assert ranks[0][name]["losses"] == ranks[1][name]["losses"]
    assert ranks[0][name]["val_accuracy"] == ranks[1][name]["val_accuracy"]
    assert ranks[0][name]["accuracy"] == ranks[1][name]["accuracy"]
    assert ranks[0][name]["accuracy"] == pytest.approx(alone.accuracy, abs=2 / 72)


def test_evaluation_split_over_ranks_counts_what_one_process_counts(ranks):
    for report in ranks:
        split, alone = report["eval"]
        assert split == alone


def test_only_rank_0_writes_checkpoints_and_every_rank_resumes(ranks):
    assert ranks[0]["checkpoint"]["saved_at"] == [5, 10, 15, 20]
    assert ranks[1]["checkpoint"]["saved_at"] == []
    for report in ranks:
        assert report["checkpoint"]["again_steps"] == STEPS
        assert report["checkpoint"]["same_accuracy"]


def test_time_budget_stops_every_rank_at_the_same_step(ranks):
    assert ranks[0]["timeout"] == ranks[1]["timeout"] == ["timeout", 1]


def test_world_size_must_divide_the_global_batch(ranks):
    for report in ranks:
        assert "global batch of 7 cannot be split evenly over 2 processes" in report["odd_batch"]
        assert "--nproc_per_node 1 or 7" in report["odd_batch"]
    assert world_size_problem(16, 4) is None


def test_one_process_never_touches_torch_distributed(monkeypatch):
    import torch.distributed as dist

    def refuse(*args, **kwargs):
        raise AssertionError("a single process must not use torch.distributed")

    for name in ("all_reduce", "all_gather_object", "barrier", "init_process_group"):
        monkeypatch.setattr(dist, name, refuse)
    data = tiny_data()
    result = train(tiny_model(data), data, config(steps=3))
    assert result.status == "ok" and result.steps == 3


@pytest.mark.slow  # ~15 s on 2 cores: torchrun, two ranks importing torch, a smoke run
@pytest.mark.skipif(shutil.which("torchrun", path=str(Path(sys.executable).parent)) is None,
                    reason="torchrun is not installed beside this python")  # fmt: skip
def test_torchrun_trains_and_rank_0_alone_prints_and_writes(tmp_path):
    out = tmp_path / "result.json"
    torchrun = str(Path(sys.executable).parent / "torchrun")
    args = [torchrun, "--nproc_per_node", "2", "--master_port", str(free_port()), "-m", "tasks"]
    args += ["train", "--task", "mqar", "--mixer", MIXER, "--profile", "smoke", "--out", str(out)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, env=env, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.count(f"{MIXER} on mqar") == 1 and "2 processes (DDP)" in done.stdout
    assert done.stdout.count("wrote ") == 1 and sorted(os.listdir(tmp_path)) == ["result.json"]
    info = json.loads(out.read_text())
    assert info["status"] == "ok" and info["batch"] == 16
    assert info["tokens_seen"] == 15 * 16 * 32


def test_outside_torchrun_distributed_sets_nothing_up(monkeypatch):
    import torch.distributed as dist

    from tasks.train import distributed

    for name in ("WORLD_SIZE", "RANK", "LOCAL_RANK"):
        monkeypatch.delenv(name, raising=False)
    with distributed("cpu") as ddp:
        assert ddp is None and not dist.is_initialized()
    monkeypatch.setenv("WORLD_SIZE", "1")  # torchrun --nproc_per_node 1: one process
    with distributed("cpu") as ddp:
        assert ddp is None and not dist.is_initialized()
