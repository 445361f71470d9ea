"""Where the interleaved comparison runs: the longest value every family
reached, not the longest every variant did."""

from __future__ import annotations

import time
from types import SimpleNamespace

import torch

from models.registry import list_mixers
from schema import Status
from suite.guard import torch_threads
from suite.interleave import comparison_point, pass_count
from suite.measure import Passes
from suite.options import resolve_options
from suite.sweep import Outcome, SweepHistory

MIXERS = ["attention/sdpa", "attention/math", "retnet/chunkwise", "retnet/recurrent"]


def history_of(reached: dict[str, int]) -> SweepHistory:
    """Each mixer ran ok up to its length, then timed out."""
    history = SweepHistory()
    for mixer, longest in reached.items():
        history.outcomes[(mixer, "forward", "length")] = [
            Outcome(x, Status.OK if x <= longest else Status.TIMEOUT) for x in (512, 1024, 4096)
        ]
    return history


def test_a_slow_variant_does_not_pull_the_comparison_down():
    options = SimpleNamespace(sweep="length", mixers=MIXERS)
    reached = {"attention/sdpa": 4096, "attention/math": 1024, "retnet/chunkwise": 4096,
               "retnet/recurrent": 512}  # fmt: skip
    found = comparison_point(history_of(reached), options, "forward")
    assert found.x == 4096
    assert found.mixers == ["attention/sdpa", "retnet/chunkwise"]
    assert found.left_out == ["attention/math", "retnet/recurrent"]


def test_without_a_value_every_family_reached_the_most_families_decide():
    options = SimpleNamespace(sweep="length", mixers=MIXERS)
    reached = {"attention/sdpa": 4096, "attention/math": 512, "retnet/recurrent": 1024}
    history = history_of(reached)
    history.outcomes[("retnet/chunkwise", "forward", "length")] = [Outcome(512, Status.OOM)]
    found = comparison_point(history, options, "forward")
    assert found.x == 1024 and found.mixers == ["attention/sdpa", "retnet/recurrent"]


def test_passes_are_counted_by_their_cpu_seconds_not_the_waits_of_a_busy_machine():
    names = [spec.name for spec in list_mixers()]
    options = resolve_options({"profile": "smoke"}, names, cuda_available=False)
    profile = options.profile  # 10 ms of passes wanted, 2 to 5 of them
    waiting = Passes({"a": lambda: time.sleep(0.02), "b": lambda: None}, torch.device("cpu"))
    with torch_threads(1):  # its CPU seconds are the cost: the sleep is a wait, not work
        assert pass_count(options, waiting) == profile.max_rounds
    with torch_threads(2):  # its wall seconds: one 20 ms pass is all the time wanted
        assert pass_count(options, waiting) == profile.min_rounds
