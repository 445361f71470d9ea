"""What one benchmark records: the fixed ``extra_info`` keys (DESIGN.md).

Every benchmark in suite/ fills all of these keys, so that reports can rely
on them; a figure that was not measured is ``None``, never a silent zero.
Units are in the names.
"""

from __future__ import annotations

from typing import Any

EXTRA_INFO_KEYS = (
    "mixer",  # family/variant
    "family",
    "variant",
    "workload",  # forward, train_step, prefill, decode, accuracy
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
)

WORKLOADS = ("forward", "train_step", "prefill", "decode", "accuracy")
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
