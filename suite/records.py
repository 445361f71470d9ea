"""The points of this pytest run that did not become benchmarks (oom,
timeout, unavailable, ...): kept here and written by conftest.py's
``pytest_benchmark_update_json`` under the saved JSON's ``schema.FAILURES_KEY``.
What a point records is schema.py's contract.
"""

from __future__ import annotations

from typing import Any

import pytest

from schema import Status, make_extra_info

_FAILURES_KEY = pytest.StashKey[list[dict[str, Any]]]()


def record_failure(
    request_or_config: pytest.FixtureRequest | pytest.Config,
    name: str,
    extra_info: dict[str, Any],
    *,
    group: str | None = None,
    fullname: str | None = None,
) -> dict[str, Any]:
    """Keep a point that did not run, as ``{"name", "fullname", "group",
    "extra_info"}``. Pass the test's ``request`` (fullname defaults to its
    node id) or the config; ``extra_info`` is completed with
    ``schema.make_extra_info``. Returns the entry."""
    info = make_extra_info(**extra_info)
    if info["status"] in (None, Status.OK):
        choices = ", ".join(s for s in Status if s != Status.OK)
        raise ValueError(f"a failure needs a status other than ok, one of {choices}")
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
