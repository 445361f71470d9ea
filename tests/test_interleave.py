"""Where the interleaved comparison runs: the longest value every family
reached, not the longest every variant did."""

from __future__ import annotations

from types import SimpleNamespace

from schema import Status
from suite.interleave import comparison_point
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
