"""Numbers in human units, chosen by the column's name (``_bytes``, ``_s``,
``_per_s``, ``_x``): shared by tables and figure axes so they read alike."""

from __future__ import annotations

import math
from collections.abc import Sequence

BINARY = ((2.0**40, "Ti"), (2.0**30, "Gi"), (2.0**20, "Mi"), (2.0**10, "Ki"))
DECIMAL = ((1e15, "P"), (1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k"))
SUBSECOND = ((1.0, ""), (1e-3, "m"), (1e-6, "µ"), (1e-9, "n"))


def scaled(value: float, steps: Sequence[tuple[float, str]], unit: str) -> str:
    for size, prefix in steps:
        if abs(value) >= size:
            return f"{value / size:.3g} {prefix}{unit}"
    return f"{value:.3g} {unit}"


def human(column: str, value: float) -> str:
    """``value`` of ``column`` with its unit: 1.5 MiB, 2 ms, 3 k/s, 0.52×."""
    if math.isnan(value):
        return "N/A"
    if column.endswith("_bytes"):
        return scaled(value, BINARY, "B")
    if column.endswith("_per_s"):
        return scaled(value, DECIMAL, "/s")
    if column.endswith("_s"):
        return scaled(value, SUBSECOND, "s") if value else "0 s"
    if column.endswith("_x"):
        return f"{value:.2f}×"
    if column.endswith(("_slope", "_r2")):
        return f"{value:.2f}" if round(value, 2) else "0.00"  # never "-0.00"
    if float(value).is_integer():
        return f"{int(value)}"
    return f"{value:.3g}"


def length_label(value: float) -> str:
    """Sequence lengths as 256, 1k, 64k."""
    if value >= 1024 and value % 1024 == 0:
        return f"{value / 1024:g}k"
    return f"{value:g}"
