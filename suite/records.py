"""What one benchmark records: the fixed ``extra_info`` keys (DESIGN.md).

Every benchmark in suite/ fills all of these keys, so that reports can rely
on them; a figure that was not measured is ``None``, never a silent zero.
Units are in the names.
"""

from __future__ import annotations

from typing import Any

import pytest

EXTRA_INFO_KEYS = (
    "mixer",  # family/variant
    "family",
    "variant",
    "workload",  # forward, train_step, prefill, decode, accuracy, mixer_forward
    "task",  # accuracy: the task's name; None for speed workloads
    "seq_len",
    "batch",
    "d_model",
    "n_layers",
    "dtype",
    "device",
    "params",
    "flops",  # analytic, per timed call
    "flops_counted",  # torch FlopCounterMode's count, None where it cannot see the ops
    "peak_mem_bytes",
    "state_bytes",
    "tokens_per_s",
    "accuracy",
    "status",  # ok, oom, timeout, unavailable, failed, skipped, diverged
    "reason",  # why a status is not ok
    "mixer_config",  # the family knobs the mixer was built with (n_heads, chunk_size, l_max)
    "ref_rel_err",  # max |y - y_ref| / max |y_ref| against the family reference; None: unchecked
)

#: mixer_forward: one bare mixer, no backbone (the mode-against-mode speed files)
WORKLOADS = ("forward", "train_step", "prefill", "decode", "accuracy", "mixer_forward")
STATUSES = ("ok", "oom", "timeout", "unavailable", "failed", "skipped", "diverged")


def make_extra_info(**values: Any) -> dict[str, Any]:
    """All fixed keys, None where not given; unknown keys are an error so
    that a typo cannot create a column reports never read."""
    unknown = set(values) - set(EXTRA_INFO_KEYS)
    if unknown:
        raise ValueError(f"unknown extra_info keys {sorted(unknown)}; allowed: {EXTRA_INFO_KEYS}")
    if values.get("workload") not in (None, *WORKLOADS):
        raise ValueError(f"workload must be one of {WORKLOADS}, got {values['workload']!r}")
    if values.get("status") not in (None, *STATUSES):
        raise ValueError(f"status must be one of {STATUSES}, got {values['status']!r}")
    info = dict.fromkeys(EXTRA_INFO_KEYS)
    info.update(values)
    if "/" in str(info["mixer"]) and info["family"] is None:
        info["family"], info["variant"] = str(info["mixer"]).split("/", 1)
    return info


#: top-level key of the autosaved JSON that lists the points that did not run
FAILURES_JSON_KEY = "mixbench_failures"
_FAILURES_KEY = pytest.StashKey[list[dict[str, Any]]]()


def record_failure(
    request_or_config: pytest.FixtureRequest | pytest.Config,
    name: str,
    extra_info: dict[str, Any],
    *,
    group: str | None = None,
    fullname: str | None = None,
) -> dict[str, Any]:
    """Keep a point that did not run (status oom, timeout, failed, diverged,
    unavailable or skipped, with a reason) so that conftest.py's
    ``pytest_benchmark_update_json`` writes it to the saved JSON under
    ``"mixbench_failures"`` as ``{"name", "fullname", "group", "extra_info"}``.

    Pass the test's ``request`` (fullname defaults to its node id) or the
    config; ``extra_info`` is completed with ``make_extra_info``. Returns the entry.
    """
    info = make_extra_info(**extra_info)
    if info["status"] in (None, "ok"):
        raise ValueError(f"a failure needs a status other than ok, one of {STATUSES[1:]}")
    if isinstance(request_or_config, pytest.Config):
        config = request_or_config
        fullname = fullname or name
    else:
        config = request_or_config.config
        fullname = fullname or request_or_config.node.nodeid
    entry = {"name": name, "fullname": fullname, "group": group, "extra_info": info}
    recorded_failures(config).append(entry)
    return entry


def recorded_failures(config: pytest.Config) -> list[dict[str, Any]]:
    """The failures recorded so far in this pytest run."""
    return config.stash.setdefault(_FAILURES_KEY, [])
