"""``--shard K/N``: a deterministic share of the speed points, balanced by
their predicted cost, so that N machines (or GPUs) each run one share and the
report merges the N autosaves of one shard group.

A point's predicted cost is its analytic FLOPs per call (from a model on the
meta device: no memory, no compute) times the calls it makes, plus a fixed
per-point overhead; units of points (below) are dealt out largest first,
each to the share with the least cost so far (LPT), ties broken by the unit's
id, so every shard computes the same partition without talking to the others.
The calibration matmul runs in every shard (each machine has its own). A mixer's
points along one workload's sweep are one unit, with the comparison that
alternates them (its decode slope keeps its paired passes); every other item
(accuracy runs, mode-speed files, the comparison across mixers, which
interleaves the mixers its shard measured) runs where it falls in the same
deal, at a fixed cost. The reader says which ratios of a merged run come from
unpaired rounds (reports/load.py).
"""

from __future__ import annotations

import hashlib
import heapq
import json
import subprocess
from pathlib import Path

import pytest

from models.registry import get_spec, reference_of
from schema import PER_MACHINE_OPTIONS

from .options import RunOptions, Shard
from .sweep import UNTIMED_CALL_COST, Point, calls_per_point
from .workloads import analytic_flops, build_backbone

#: FLOPs' worth charged to every point on top of its own (build, probe, memory, counter)
POINT_OVERHEAD_FLOPS = 1e9
#: what an item that is not a speed point costs in the deal (an accuracy run costs more)
OTHER_ITEM_FLOPS = 1e11
EVERY_SHARD = ("test_matmul",)
#: the test that alternates one mixer's points of a sweep (suite/test_speed.py)
VALUES_INTERLEAVED_TEST = "test_interleaved_values"


def predicted_cost(point: Point, options: RunOptions) -> float:
    """Priced with the family's reference variant (plain torch, built on every
    machine; a family's variants do the same useful work), so that every shard prices
    a point alike whatever kernels its machine has: a variant unavailable on one
    machine was priced at nothing there, and its shards dealt differently from the
    others', losing or repeating points."""
    try:
        model = build_backbone(
            reference_of(get_spec(point.mixer).family), point.shape, options, "meta"
        )
        flops = analytic_flops(model, point.workload, point.shape["batch"], point.shape["length"])
    except Exception:  # a broken family: its points will be quick to record
        flops = None
    calls = calls_per_point(options, point.workload, UNTIMED_CALL_COST)
    return (flops or 0) * calls + POINT_OVERHEAD_FLOPS


def item_cost(item: pytest.Item, options: RunOptions) -> float:
    point = getattr(item, "callspec", None) and item.callspec.params.get("point")
    return predicted_cost(point, options) if isinstance(point, Point) else OTHER_ITEM_FLOPS


def deal_unit(item: pytest.Item, options: RunOptions) -> str:
    """What is dealt as one: a mixer's points along one workload's sweep, with its
    values-interleaved comparison (which alternates them, so that in one shard its
    slope keeps its paired passes); any other item alone."""
    params = item.callspec.params if hasattr(item, "callspec") else {}
    point = params.get("point")
    if isinstance(point, Point):
        return f"{point.mixer}|{point.workload}|{point.sweep}"
    if item.originalname == VALUES_INTERLEAVED_TEST and "mixer" in params:
        return f"{params['mixer']}|{params['workload']}|{options.sweep}"
    return item.nodeid


def deal(items: list[pytest.Item], options: RunOptions, shard: Shard) -> list[pytest.Item]:
    """The items of this shard, in their collected order. Only the shares that can get
    a unit are kept (a heap of at most one per unit), so that N far above the number
    of items costs nothing: the shares past them are empty."""
    unit_of = {
        item.nodeid: deal_unit(item, options)
        for item in items
        if item.originalname not in EVERY_SHARD
    }
    costs: dict[str, float] = {}
    for item in items:
        if item.nodeid in unit_of:
            unit = unit_of[item.nodeid]
            costs[unit] = costs.get(unit, 0.0) + item_cost(item, options)
    shares = [(0.0, k) for k in range(1, min(shard.count, len(costs)) + 1)]
    owner: dict[str, int] = {}
    for unit in sorted(costs, key=lambda u: (-costs[u], u)):
        load, lightest = heapq.heappop(shares)  # the least loaded, the lowest index on ties
        owner[unit] = lightest
        heapq.heappush(shares, (load + costs[unit], lightest))
    return [
        item for item in items if owner.get(unit_of.get(item.nodeid), shard.index) == shard.index
    ]


def shard_group(options: RunOptions) -> str:
    """The same id in every shard of one run: the options that must match across
    shards (schema.PER_MACHINE_OPTIONS may differ) and the commit, hashed. A
    --shard-group name is prefixed to the hash of the options, so that shards run
    with other options under the same name are never taken for one run."""
    summary = {k: v for k, v in options.summary().items() if k not in PER_MACHINE_OPTIONS}
    given = options.values.get("shard_group")
    if not given:
        summary["commit"] = current_commit()
    digest = hashlib.sha256(json.dumps(summary, sort_keys=True).encode()).hexdigest()[:12]
    return f"{given}-{digest}" if given else digest


def current_commit() -> str | None:
    try:
        done = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() or None
