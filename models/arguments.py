"""The number parsers of the command lines (``python -m models``, ``python -m
tasks``): argparse types whose errors say what was expected and what came."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable


def checked(
    parse: Callable[[str], float], accept: Callable[[float], bool], expected: str, rule: str
) -> Callable[[str], float]:
    """An argparse type: ``parse`` the text, then keep it if ``accept`` says so."""

    def convert(text: str):
        try:
            value = parse(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None
        if not accept(value):
            raise argparse.ArgumentTypeError(f"{rule}, got {text}")
        return value

    return convert


positive_int = checked(int, lambda v: v >= 1, "a positive integer", "must be a positive integer")
non_negative_int = checked(int, lambda v: v >= 0, "an integer >= 0", "must be 0 or more")
positive_float = checked(
    float,
    lambda v: math.isfinite(v) and v > 0,
    "a positive number",
    "must be a positive number (e.g. 1e-3)",
)
non_negative_float = checked(
    float,
    lambda v: math.isfinite(v) and v >= 0,
    "a number >= 0",
    "must be a finite number >= 0 (e.g. 0.1, or 0 for none)",
)
