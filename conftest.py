"""Command-line options, profiles and shared fixtures for suite/ and tests/."""

from __future__ import annotations

import pytest

PROFILES = ("smoke", "default", "paper", "gpu-smoke")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("mixbench")
    group.addoption(
        "--profile",
        default="default",
        help=f"sizes, lengths and steps of the run: one of {', '.join(PROFILES)}",
    )


@pytest.fixture(scope="session")
def profile_name(request: pytest.FixtureRequest) -> str:
    name = request.config.getoption("--profile")
    if name not in PROFILES:
        raise pytest.UsageError(f"unknown --profile {name!r}; choose one of {', '.join(PROFILES)}")
    return name
