"""--shard K/N: deterministic, disjoint shares that cover the whole run,
balanced by predicted cost, each saved with the same shard group."""

from __future__ import annotations

import functools
import json
import subprocess
import sys
from pathlib import Path

import pytest

from models.registry import get_spec, list_mixers
from suite.options import resolve_options
from suite.shard import predicted_cost, shard_group
from suite.sweep import sweep_points

ROOT = Path(__file__).resolve().parents[1]
SUITE = ["suite/test_speed.py", "suite/test_calibration.py", "--profile", "smoke"]


def collected(*args: str) -> list[str]:
    command = [sys.executable, "-m", "pytest", *SUITE, "--collect-only", "-q", *args]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return [line for line in done.stdout.splitlines() if "::" in line]


@functools.cache
def collected_once(*args: str) -> tuple[str, ...]:
    """``collected``, one subprocess per argument list for the whole file."""
    return tuple(collected(*args))


@pytest.mark.slow
def test_shards_are_disjoint_and_cover_the_run() -> None:
    whole = collected_once()
    shards = [list(collected_once("--shard", f"{k}/3")) for k in (1, 2, 3)]
    everywhere = {"suite/test_calibration.py::test_matmul"}
    for share in shards:
        assert everywhere <= set(share)
    dealt = [set(share) - everywhere for share in shards]
    assert sum(len(share) for share in dealt) == len(set().union(*dealt))
    assert set().union(*dealt) | everywhere == set(whole)
    assert collected("--shard", "2/3") == shards[1]  # the same deal every time


def test_shards_are_balanced_by_predicted_cost() -> None:
    names = [spec.name for spec in list_mixers()]
    options = resolve_options(
        {"profile": "default", "mixers": "attention/*,retnet/*"}, names, False
    )
    points = [p for w in ("forward", "train_step") for p in sweep_points(options, w)]
    costs = sorted((predicted_cost(p, options) for p in points), reverse=True)
    loads = [0.0, 0.0]
    for cost in costs:
        loads[loads.index(min(loads))] += cost
    assert max(loads) <= 1.34 * min(loads)
    assert costs[0] > 100 * costs[-1]  # the costs are not all alike: balancing means something


@pytest.mark.parametrize("bad", ["0/2", "3/2", "1-2", "a/b"])
def test_a_bad_shard_is_a_usage_error(bad: str) -> None:
    command = [sys.executable, "-m", "pytest", *SUITE, "--collect-only", "-q", "--shard", bad]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == pytest.ExitCode.USAGE_ERROR
    assert "--shard" in done.stderr and "Traceback" not in done.stderr


def test_each_shard_saves_the_same_group(decode_runs: dict[str, Path]) -> None:
    groups = set()
    for k in (1, 2):
        options = json.loads(decode_runs[f"{k}/2"].read_text())["mixbench_options"]
        assert options["shard"] == f"{k}/2"
        groups.add(options["shard_group"])
    assert len(groups) == 1 and None not in groups
    assert json.loads(decode_runs["whole"].read_text())["mixbench_options"]["shard"] is None


@pytest.mark.slow
def test_a_billion_shards_collect_at_once() -> None:
    """N far above the number of points: the first shards get one unit each, the
    rest only the calibration (the deal keeps no list of N loads)."""
    everywhere = {"suite/test_calibration.py::test_matmul"}
    first = collected("--shard", "1/1000000000")
    assert set(first) > everywhere
    assert collected("--shard", "1000000000/1000000000") == sorted(everywhere)


def test_the_group_id_holds_the_options() -> None:
    """Shards run under one --shard-group with other options get other ids: the
    reader never takes them for one run."""
    names = [spec.name for spec in list_mixers()]

    def group(**values: str) -> str:
        chosen = {"profile": "smoke", "shard": "1/2", "shard_group": "mine", **values}
        return shard_group(resolve_options(chosen, names, False))

    assert group().startswith("mine-")
    assert group() == group(shard="2/2", workers="3")  # what may differ per machine
    assert group() != group(dtype="float64")
    assert group() != group(mixers="attention/*")


def test_a_mixers_sweep_and_its_values_comparison_share_a_shard() -> None:
    """The passes that alternate one mixer's lengths (its decode slope) need all its
    points in one session: a shard holds a mixer's sweep of a workload whole."""
    owner: dict[str, int] = {}
    for k in (1, 2, 3):
        for nodeid in collected_once("--shard", f"{k}/3"):
            name = nodeid.split("::")[1]
            if name.startswith("test_decode["):
                unit = name.removeprefix("test_decode[").rsplit("-L", 1)[0]
            elif name.startswith("test_interleaved_values["):
                unit = name.removeprefix("test_interleaved_values[").removesuffix("-decode]")
            else:
                continue
            assert owner.setdefault(unit, k) == k, f"{unit} split between shards"
    assert len(owner) >= 3 and len(set(owner.values())) > 1  # the mixers, spread out


def test_a_point_is_priced_alike_whether_its_kernel_is_here_or_not() -> None:
    """Shards on machines with and without flash-attn must deal alike: every variant
    of a family is priced alike at a point, whether it can be built here or not
    (flash-attn, xformers and mamba-ssm were priced at nothing where missing)."""
    names = [spec.name for spec in list_mixers()]
    options = resolve_options({"profile": "smoke"}, names, False)
    costs: dict[str, set[float]] = {}
    for point in sweep_points(options, "train_step"):
        if point.shape["length"] == 64:
            family = get_spec(point.mixer).family
            costs.setdefault(family, set()).add(predicted_cost(point, options))
    assert {family: len(found) for family, found in costs.items()} == dict.fromkeys(costs, 1)


def saved_names(path: Path) -> set[str]:
    data = json.loads(path.read_text())
    return {e["fullname"] for e in data["benchmarks"] + data["mixbench_failures"]}


@pytest.fixture(scope="module")
def decode_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The decode points of attention and retnet/recurrent, saved unsharded and as
    shards 1/2 and 2/2: {"whole" or the shard: its --benchmark-json file}."""
    folder = tmp_path_factory.mktemp("decode")
    run = [*SUITE, "-q", "--mixers", "attention/*,retnet/recurrent", "-k", "decode or matmul"]
    saved = {}
    for share in ("whole", "1/2", "2/2"):
        out = folder / f"{share.replace('/', '-')}.json"
        shard = [] if share == "whole" else ["--shard", share]
        command = [sys.executable, "-m", "pytest", *run, *shard, "--benchmark-json", str(out)]
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stdout[-3000:]
        saved[share] = out
    return saved


@pytest.mark.slow
def test_shards_together_hold_every_record_of_the_unsharded_run(
    decode_runs: dict[str, Path],
) -> None:
    """Unavailable records and each mixer's interleaved value passes included; only the
    comparison across mixers differs (each shard's holds its own mixers, the reader
    says so: tests/test_reports_shards.py)."""
    saved = {share: saved_names(path) for share, path in decode_runs.items()}
    whole, merged = saved["whole"], saved["1/2"] | saved["2/2"]
    assert any("flash-attn" in name for name in whole)  # an unavailable record to keep
    assert any("test_interleaved_values" in name for name in whole)
    assert saved["1/2"] and saved["2/2"]  # both shards hold points
    assert merged == whole
